"""`kyb scheduler` as a process: health and metrics, config errors, leader take-over."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from kybernetes.api import errors
from kybernetes.api.resources import LEASES, PODS
from tests.integration.scheduler.conftest import add_nodes, wait_bound
from tests.support.net import free_port, wait_http_ok
from tests.support.poll import eventually
from tests.support.procs import Proc
from tests.unit.scheduler.objects import make_node, make_pod


def _scheduler(apiserver, tmp_path: Path, name: str, *args: str) -> Proc:
    return Proc.kyb("scheduler", "--kubeconfig", str(apiserver.kubeconfig), *args,
                    log_path=tmp_path / f"{name}.log").start()


async def test_process_schedules_and_serves_health_and_metrics(apiserver, client, tmp_path):
    await add_nodes(client, make_node("a"))
    port = free_port()
    proc = _scheduler(apiserver, tmp_path, "scheduler", "--healthz-port", str(port))
    try:
        await asyncio.to_thread(wait_http_ok, f"http://127.0.0.1:{port}/healthz",
                                timeout=20, is_alive=proc.alive)
        await client.create(PODS, make_pod("p"), namespace="default")
        assert await wait_bound(client, "p", within=15) == "a"
        text = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode())
        assert 'scheduler_schedule_attempts_total{profile="default-scheduler",' \
               'result="scheduled"} 1' in text
        assert "scheduler_e2e_scheduling_duration_seconds_count" in text
        assert 'scheduler_pending_pods{queue="unschedulable"} 0' in text
    finally:
        assert proc.stop() == 0, proc.log_tail()


def test_a_bad_config_is_one_line_and_exit_2(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("profiles:\n- plugins:\n    score:\n      enabled: [{name: Nope}]\n")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    result = subprocess.run(
        [sys.executable, "-m", "kybernetes.cli.main", "scheduler", "--kubeconfig",
         str(kubeconfig), "--config", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        'kyb scheduler: error: --config: profiles[0].plugins.score.enabled[0].name: '
        'Invalid value: "Nope": unknown plugin')


async def _holder(client) -> str | None:
    try:
        lease = await client.get(LEASES, "kube-scheduler", namespace="kube-system")
    except errors.NotFound:
        return None
    return (lease.get("spec") or {}).get("holderIdentity")


async def test_standby_takes_over_when_the_leader_dies(apiserver, client, tmp_path):
    await add_nodes(client, make_node("a"))
    lease = ("--leader-elect", "--leader-elect-lease-duration", "3",
             "--leader-elect-renew-deadline", "2", "--leader-elect-retry-period", "0.5")
    procs = [_scheduler(apiserver, tmp_path, f"s{i}", *lease) for i in range(2)]
    try:
        holder = await eventually(lambda: _holder(client), within=20, what="a leader")
        leader = next(p for p in procs if f"_{p.popen.pid}_" in holder)
        standby = next(p for p in procs if p is not leader)
        await client.create(PODS, make_pod("before"), namespace="default")
        await wait_bound(client, "before", within=10)
        leader.kill()
        died = time.monotonic()
        await client.create(PODS, make_pod("after"), namespace="default")
        await wait_bound(client, "after", within=15)
        assert time.monotonic() - died < 15
        assert f"_{standby.popen.pid}_" in (await _holder(client) or "")
    finally:
        for p in procs:
            p.stop()
