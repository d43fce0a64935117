"""`kyb controller-manager` as a process: leader election, health, bad flags."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from kybernetes.api import errors
from kybernetes.api.resources import LEASES, REPLICATION_CONTROLLERS
from kybernetes.client import ApiClient
from tests.integration.controllers.helpers import pods_of, rc
from tests.support.apiserver import ApiServer
from tests.support.net import free_port
from tests.support.poll import eventually
from tests.support.procs import Proc

FAST_ELECTION = ("--leader-elect", "--leader-elect-lease-duration", "3s",
                 "--leader-elect-renew-deadline", "2s", "--leader-elect-retry-period", "250ms")


def manager(server: ApiServer, log: Path, *args: str) -> Proc:
    return Proc.kyb("controller-manager", "--kubeconfig", str(server.kubeconfig), *args,
                    log_path=log).start()


async def _holder(client: ApiClient, name: str) -> str | None:
    try:
        lease = await client.get(LEASES, name, namespace="kube-system")
    except errors.NotFound:
        return None
    return (lease.get("spec") or {}).get("holderIdentity")


async def test_standby_takes_over_when_the_leader_dies(
        client: ApiClient, ns: str, shared_apiserver: ApiServer, tmp_path: Path) -> None:
    lease = f"kcm-{ns}"
    args = (*FAST_ELECTION, "--leader-elect-resource-name", lease,
            "--controllers", "replicationcontroller")
    first = manager(shared_apiserver, tmp_path / "a.log", *args)
    second = None
    try:
        leader = await eventually(lambda: _holder(client, lease), within=20,
                                  what="a leader")
        second = manager(shared_apiserver, tmp_path / "b.log", *args)
        await client.create(REPLICATION_CONTROLLERS, rc("ha", 2, namespace=ns))
        await eventually(lambda: _n(client, ns, 2), what="leader runs the RC")
        await asyncio.sleep(1.0)
        assert await _holder(client, lease) == leader  # the standby waits

        first.kill()
        died = time.monotonic()

        async def new_leader() -> str | None:
            holder = await _holder(client, lease)
            return holder if holder and holder != leader else None
        await eventually(new_leader, within=15, what="the standby to take over")
        assert time.monotonic() - died < 15
        await client.patch(REPLICATION_CONTROLLERS, "ha", {"spec": {"replicas": 4}},
                           namespace=ns)
        await eventually(lambda: _n(client, ns, 4), what="new leader runs the RC")

        # A graceful stop hands the lease back at once.
        assert second.stop() == 0
        assert not await _holder(client, lease)
    finally:
        first.stop()
        if second is not None:
            second.stop()


async def _n(client: ApiClient, ns: str, n: int) -> bool:
    return len(await pods_of(client, "app=ha", ns)) == n


async def test_healthz_answers(shared_apiserver: ApiServer, tmp_path: Path) -> None:
    port = free_port()
    proc = manager(shared_apiserver, tmp_path / "cm.log", "--healthz-port", str(port),
                   "--controllers", "endpoint")
    try:
        deadline = time.monotonic() + 20
        body = b""
        while time.monotonic() < deadline and not body:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    body = r.read()
            except OSError:
                time.sleep(0.05)
        assert body == b"ok", proc.log_tail()
    finally:
        proc.stop()


def test_unknown_controller_is_one_clear_line(shared_apiserver: ApiServer) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kybernetes.cli.main", "controller-manager", "--kubeconfig",
         str(shared_apiserver.kubeconfig), "--controllers", "replicationcontroller,bogus"],
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "kyb controller-manager: error: unknown controller 'bogus'; known: "
        "replicationcontroller, replicaset, deployment, daemonset, statefulset, disruption, "
        "horizontalpodautoscaling, cronjob, job, "
        "ttl-after-finished-controller, endpoint, endpointslice, endpointslicemirroring, "
        "service-lb-controller, "
        "resourcequota, nodelifecycle, "
        "nodeipam, namespace, garbagecollector, podgc, serviceaccount, csrsigning, csrapproving, "
        "root-ca-cert-publisher, clusterrole-aggregation, persistentvolume-binder, "
        "pvc-protection, pv-protection, bootstrapsigner, tokencleaner"]


def test_missing_kubeconfig_is_one_clear_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kybernetes.cli.main", "controller-manager", "--kubeconfig",
         str(tmp_path / "nope")], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "cannot read kubeconfig" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
