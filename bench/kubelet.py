"""Kubelet figures: pod startup latency, and what 1,000 hollow nodes cost.

Run from the repo root (as root for pod network namespaces and docker):
``.venv/bin/python bench/kubelet.py [--pods 100] [--hollow 1000] [--skip-docker]``.

- ``startup_<runtime>``: 100 pods bound to one node are created (10 in flight);
  each pod's latency is from just before its create call to the watch event that
  shows it Running (Kubernetes' pod startup SLI, whose objective is p99 <= 5 s).
  Reported as p50/p99/max in ms, for the process runtime and, when a Docker
  Engine answers, the docker runtime.
- ``hollow``: `kyb hollow-nodes --count N` against the same API server: seconds
  until every node is Ready, then the RSS of the hollow-nodes process and of
  the API server (MiB), and per node (KiB).

Baseline, measured in the same run: the median time to fork and exec `true`
(``spawn_ms``); startup figures are also given as multiples of it, so results
compare across machines. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.api.resources import NODES, PODS
from kybernetes.client import ApiClient
from kybernetes.kubelet.purge import purge

KYB = [sys.executable, "-m", "kybernetes.cli.main"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def spawn_baseline(n: int = 30) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(["true"], check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def _start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def _wait_ready(client: ApiClient, names: set[str], limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        try:
            nodes = (await client.list(NODES))["items"]
        except ApiError:
            nodes = []
        ready = {n["metadata"]["name"] for n in nodes
                 if any(c["type"] == "Ready" and c["status"] == "True"
                        for c in n.get("status", {}).get("conditions") or [])}
        if names <= ready:
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{len(names)} nodes not Ready after {limit}s")


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def pod_startup(client: ApiClient, *, node: str, pods: int, command: list[str],
                      image: str) -> list[float]:
    """Latencies (s) from create to Running seen through a watch."""
    created: dict[str, float] = {}
    running: dict[str, float] = {}
    listing = await client.list(PODS, namespace="default")
    watch_task = asyncio.create_task(_watch_running(
        client, listing["metadata"]["resourceVersion"], running, pods))
    gate = asyncio.Semaphore(10)

    async def create(i: int) -> None:
        name = f"bench-{node}-{i}"
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
                         "containers": [{"name": "c", "image": image, "command": command}]}}
        async with gate:
            created[name] = time.monotonic()
            await client.create(PODS, body, namespace="default")
    await asyncio.gather(*(create(i) for i in range(pods)))
    await asyncio.wait_for(watch_task, timeout=300)
    latencies = [running[n] - created[n] for n in created]
    await asyncio.gather(*(client.delete(PODS, n, namespace="default") for n in created))
    for _ in range(600):  # the next case starts on an empty namespace
        if not (await client.list(PODS, namespace="default"))["items"]:
            break
        await asyncio.sleep(0.5)
    return latencies


async def _watch_running(client: ApiClient, rv: str, running: dict[str, float],
                         want: int) -> None:
    async for event in client.watch(PODS, namespace="default", resource_version=rv):
        if event.type not in ("ADDED", "MODIFIED"):
            continue
        pod = event.object
        name = pod["metadata"]["name"]
        if (pod.get("status") or {}).get("phase") == "Running" and name not in running:
            running[name] = time.monotonic()
            if len(running) >= want:
                return


async def _startup_case(kubeconfig: Path, work: Path, runtime: str, pods: int,
                        baseline: float) -> dict[str, Any]:
    node = f"bench-{runtime}"
    argv = [*KYB, "kubelet", "--kubeconfig", str(kubeconfig), "--node-name", node,
            "--runtime", runtime, "--root-dir", str(work / node), "--port", "0",
            "--node-ip", "127.0.0.1", "--address", "127.0.0.1", "--teardown-on-exit"]
    if os.geteuid() == 0:
        argv += ["--pod-cidr", "10.239.0.0/24" if runtime == "process" else "10.239.1.0/24"]
    proc = _start(argv, work / f"{node}.log")
    client = ApiClient.from_kubeconfig(kubeconfig)
    try:
        await _wait_ready(client, {node}, 60)
        busybox = shutil.which("busybox") or "sleep"
        command = [busybox, "sleep", "3600"] if runtime == "process" else \
            ["/bin/busybox", "sleep", "3600"]
        image = "kyb/pause:2" if runtime == "docker" else "busybox"
        lat = await pod_startup(client, node=node, pods=pods, command=command, image=image)
    finally:
        await client.aclose()
        _stop(proc, timeout=120)
        purge(work / node, node)  # whatever a slow teardown left
    ms = [x * 1000 for x in lat]
    p50, p99 = _percentile(ms, 50), _percentile(ms, 99)
    return {"pods": pods, "p50_ms": round(p50, 1), "p99_ms": round(p99, 1),
            "max_ms": round(max(ms), 1), "p50_x_spawn": round(p50 / baseline, 1),
            "p99_x_spawn": round(p99 / baseline, 1)}


async def _hollow_case(kubeconfig: Path, work: Path, count: int, api_pid: int) -> dict[str, Any]:
    proc = _start([*KYB, "hollow-nodes", "--kubeconfig", str(kubeconfig), "--count", str(count)],
                  work / "hollow.log")
    client = ApiClient.from_kubeconfig(kubeconfig)
    try:
        seconds = await _wait_ready(client, {f"hollow-node-{i}" for i in range(count)}, 600)
        await asyncio.sleep(12)  # a full lease period at steady state
        hollow, api = _rss_mib(proc.pid), _rss_mib(api_pid)
    finally:
        await client.aclose()
        _stop(proc)
    return {"nodes": count, "all_ready_s": round(seconds, 1),
            "hollow_rss_mib": round(hollow, 1), "apiserver_rss_mib": round(api, 1),
            "hollow_kib_per_node": round(hollow * 1024 / count, 1)}


def _docker_ok() -> bool:
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "info"], capture_output=True).returncode == 0


def start_apiserver(work: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """`kyb apiserver` on a free loopback port, its data in `work`/api: the process and
    the kubeconfig it will write."""
    api = _start([*KYB, "apiserver", "--data-dir", str(work / "api"), "--bind-address",
                  "127.0.0.1", "--port", str(_free_port())], work / "apiserver.log")
    return api, work / "api" / "kubeconfig"


async def wait_answering(kubeconfig: Path) -> None:
    """Until the API server has written its kubeconfig and answers a list."""
    for _ in range(300):
        if kubeconfig.exists():
            break
        await asyncio.sleep(0.1)
    client = ApiClient.from_kubeconfig(kubeconfig)
    for _ in range(100):
        try:
            await client.list(NODES)
            break
        except ApiError:
            await asyncio.sleep(0.2)
    await client.aclose()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="kyb-bench-kubelet-"))
    api, kubeconfig = start_apiserver(work)
    result: dict[str, Any] = {"cpus": os.cpu_count()}
    try:
        await wait_answering(kubeconfig)
        baseline = spawn_baseline()
        result["spawn_ms"] = round(baseline, 2)
        if args.pods:
            result["startup_process"] = await _startup_case(kubeconfig, work, "process",
                                                            args.pods, baseline)
        if args.pods and not args.skip_docker and _docker_ok():
            result["startup_docker"] = await _startup_case(kubeconfig, work, "docker",
                                                           args.pods, baseline)
        if args.hollow:
            result["hollow"] = await _hollow_case(kubeconfig, work, args.hollow, api.pid)
    finally:
        _stop(api)
        shutil.rmtree(work, ignore_errors=True)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--hollow", type=int, default=1000)
    parser.add_argument("--skip-docker", action="store_true")
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
