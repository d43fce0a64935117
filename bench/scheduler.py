"""Scheduler throughput: N pods onto M fake nodes through a real API server.

Run from the repo root: ``.venv/bin/python bench/scheduler.py [--nodes 5000]
[--pods 10000] [--workload basic|spread|anti-affinity] [--profile]``. The workloads
are Kubernetes' scheduler_perf ones: nodes of 4 cpu / 32Gi / 110 pods in three
zones, pods requesting 100m / 500Mi; `basic` is SchedulingBasic, `spread` gives
every pod TopologySpreading's constraint (zone, maxSkew 5, DoNotSchedule),
`anti-affinity` SchedulingPodAntiAffinity's required anti-affinity on the hostname
(one such pod per node: keep 2 × --pods within --nodes).

1. A real `kyb apiserver` (SQLite store) starts in a temporary directory.
2. The Node objects are created through the API (64 concurrent requests).
3. **Baseline**, same run: the API server's own pod create rate — `--pods` pods
   (schedulerName nobody serves) created with the same concurrency, no
   scheduler running. Every scheduled pod needs at least this create plus a
   binding write, so `ratio_to_create_rate` says how close scheduling comes to
   the server's ceiling on this machine.
4. Backlog: `--pods` pods are created before a real `kyb scheduler` process
   starts; `backlog_drain_pods_per_s` is how fast it binds them (first to last
   binding seen), the scheduler's own rate with no creates competing.
5. `--pods` more pods are created at full speed while a watch records when each is
   seen bound. Per-pod latency is created (create call returned) → bound seen
   through the watch; throughput is pods / (last bound − first create sent).
6. `algorithm_only_decisions_per_cpu_s`: the scheduling algorithm alone, in
   this process over the same nodes (no API server, no HTTP).
7. Where the time goes: CPU seconds used by the API server, the scheduler and
   this client during step 5 (from /proc), the scheduler's own time in the
   scheduling algorithm (its metrics), and with `--profile` the scheduler's top
   functions (cProfile, which slows it down: figures are then not comparable).

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pstats
import re
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.support

from tests.support.apiserver import ApiServer  # noqa: E402
from tests.support.net import free_port, wait_http_ok  # noqa: E402
from tests.support.procs import Proc  # noqa: E402

from kybernetes.api.resources import NAMESPACES, NODES, PODS, Resource  # noqa: E402
from kybernetes.client import ApiClient  # noqa: E402

CONCURRENCY = 64
TICKS = os.sysconf("SC_CLK_TCK")


ZONES = ("moon-1", "moon-2", "moon-3")
WORKLOADS = ("basic", "spread", "anti-affinity")


def node(name: str, index: int = 0) -> dict[str, Any]:
    alloc = {"cpu": "4", "memory": "32Gi", "pods": "110"}
    labels = {"kubernetes.io/hostname": name,
              "topology.kubernetes.io/zone": ZONES[index % len(ZONES)]}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels},
            "status": {"capacity": alloc, "allocatable": alloc,
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def pod(name: str, namespace: str, scheduler: str = "default-scheduler",
        workload: str = "basic") -> dict[str, Any]:
    res = {"cpu": "100m", "memory": "500Mi"}
    spec: dict[str, Any] = {"schedulerName": scheduler, "containers": [{
        "name": "pause", "image": "registry.k8s.io/pause:3.10",
        "ports": [{"containerPort": 80}],
        "resources": {"requests": res, "limits": res}}]}
    labels: dict[str, str] = {}
    if workload == "spread":
        labels = {"color": "blue"}
        spec["topologySpreadConstraints"] = [{
            "maxSkew": 5, "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"color": "blue"}}}]
    elif workload == "anti-affinity":
        labels = {"color": "green"}
        spec["affinity"] = {"podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": {"color": "green"}},
                "topologyKey": "kubernetes.io/hostname",
                "namespaces": ["drain", "bench", "warmup"]}]}}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": spec}


async def concurrently(count: int, op: Any, concurrency: int = CONCURRENCY) -> float:
    """Run op(i) for every i with `concurrency` workers; returns seconds taken."""
    todo = iter(range(count))

    async def worker() -> None:
        for i in todo:
            await op(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its reaped children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / TICKS


def own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def watch_bound(client: ApiClient, namespace: str, bound: dict[str, float],
                      ready: asyncio.Event, total: int, done: asyncio.Event) -> None:
    rv = (await client.list(PODS, namespace=namespace, limit=1))["metadata"]["resourceVersion"]
    ready.set()
    async with client.watch(PODS, namespace=namespace, resource_version=rv,
                            allow_bookmarks=False) as watch:
        async for event in watch:
            if (event.object.get("spec") or {}).get("nodeName"):
                name = event.object["metadata"]["name"]
                if name not in bound:
                    bound[name] = time.perf_counter()
                    if len(bound) >= total:
                        done.set()
                        return


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def metric_sum(text: str, name: str) -> float:
    return sum(float(m) for m in re.findall(rf"^{name}\{{[^}}]*\}} (\S+)$", text, re.M))


async def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    server = ApiServer(work / "apiserver").start(timeout=60)
    scheduler: Proc | None = None
    client = ApiClient.from_kubeconfig(server.kubeconfig)
    try:
        for ns in ("bench", "baseline", "warmup", "drain"):
            await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": ns}})
        node_secs = await concurrently(args.nodes, lambda i: client.create(NODES, node(f"n{i}", i)))
        base_secs = await concurrently(args.pods, lambda i: client.create(
            PODS, pod(f"b{i}", "baseline", "nobody"), namespace="baseline"))

        # Backlog: pods waiting before the scheduler starts, so draining them measures
        # the scheduler (and bindings) alone, without pod creation competing.
        await concurrently(args.pods, lambda i: client.create(
            PODS, pod(f"d{i}", "drain", workload=args.workload), namespace="drain"))
        drained: dict[str, float] = {}
        drain_ready, drain_done = asyncio.Event(), asyncio.Event()
        drain_watch = asyncio.create_task(
            watch_bound(client, "drain", drained, drain_ready, args.pods, drain_done))
        await drain_ready.wait()

        port = free_port()
        prefix = [sys.executable, "-m", "cProfile", "-o", str(work / "scheduler.prof"),
                  "-m", "kybernetes.cli.main"] if args.profile else \
            [sys.executable, "-m", "kybernetes.cli.main"]
        scheduler = Proc([*prefix, "scheduler", "--kubeconfig", str(server.kubeconfig),
                          "--healthz-port", str(port)], log_path=work / "scheduler.log").start()
        await asyncio.to_thread(wait_http_ok, f"http://127.0.0.1:{port}/healthz", timeout=60,
                                is_alive=scheduler.alive)
        try:
            await asyncio.wait_for(drain_done.wait(), args.timeout)
        finally:
            drain_watch.cancel()
        drain_secs = max(drained.values()) - min(drained.values())
        await client.create(PODS, pod("w", "warmup"), namespace="warmup")
        deadline = time.monotonic() + 120
        while not (await client.get(PODS, "w", namespace="warmup"))["spec"].get("nodeName"):
            if time.monotonic() > deadline or not scheduler.alive():
                raise RuntimeError("scheduler did not come up:\n" + scheduler.log_tail())
            await asyncio.sleep(0.1)

        bound: dict[str, float] = {}
        created: dict[str, float] = {}
        ready, done = asyncio.Event(), asyncio.Event()
        watcher = asyncio.create_task(watch_bound(client, "bench", bound, ready, args.pods, done))
        await ready.wait()
        assert server.proc is not None and server.proc.popen is not None
        assert scheduler.popen is not None
        cpu0 = (cpu_seconds(server.proc.popen.pid), cpu_seconds(scheduler.popen.pid), own_cpu())

        async def create(i: int) -> None:
            await client.create(PODS, pod(f"p{i}", "bench", workload=args.workload),
                                namespace="bench")
            created[f"p{i}"] = time.perf_counter()

        started = time.perf_counter()
        create_secs = await concurrently(args.pods, create)
        try:
            await asyncio.wait_for(done.wait(), args.timeout)
        finally:
            watcher.cancel()
        elapsed = max(bound.values()) - started
        cpu1 = (cpu_seconds(server.proc.popen.pid), cpu_seconds(scheduler.popen.pid), own_cpu())
        metrics = await asyncio.to_thread(scrape, port)
        latencies = [bound[k] - created[k] for k in created if k in bound]
        algorithm = metric_sum(metrics, "scheduler_scheduling_algorithm_duration_seconds_sum")
        result = {
            "nodes": args.nodes, "pods": args.pods, "workload": args.workload,
            "bound": len(bound),
            "pods_per_s": round(args.pods / elapsed, 1),
            "backlog_drain_pods_per_s": round(args.pods / drain_secs, 1),
            "latency_p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "latency_p99_ms": round(percentile(latencies, 99) * 1000, 1),
            "baseline": {
                "apiserver_pod_creates_per_s": round(args.pods / base_secs, 1),
                "apiserver_node_creates_per_s": round(args.nodes / node_secs, 1),
                "pod_creates_per_s_while_scheduling": round(args.pods / create_secs, 1),
                "cpus": os.cpu_count(),
            },
            "where_the_time_goes_cpu_s": {
                "apiserver": round(cpu1[0] - cpu0[0], 2),
                "scheduler": round(cpu1[1] - cpu0[1], 2),
                "bench_client": round(cpu1[2] - cpu0[2], 2),
                "wall": round(elapsed, 2),
                "scheduler_filter_and_score": round(algorithm, 2),
            },
            "kubernetes_floor_pods_per_s": 680,
        }
        result["ratio_to_create_rate"] = round(
            result["pods_per_s"] / result["baseline"]["apiserver_pod_creates_per_s"], 3)
        return result
    finally:
        await client.aclose()
        if scheduler is not None:
            scheduler.stop(timeout=30)
        server.stop()


def decisions_per_s(nodes: int, pods: int, workload: str = "basic") -> float:
    """The scheduling algorithm alone, in this process: decisions (filter, score,
    assume) per CPU second over `nodes` nodes, no API server involved."""
    import random

    from kybernetes.scheduler.cache import Cache
    from kybernetes.scheduler.config import parse_config
    from kybernetes.scheduler.framework import CycleState
    from kybernetes.scheduler.podinfo import pod_info
    from kybernetes.scheduler.profile import Handle, Profile

    cache = Cache()
    for i in range(nodes):
        cache.add_node(node(f"n{i}", i))
    profile = Profile(parse_config({}).profiles[0],
                      Handle(_NoClient(), cache, lambda r: _NoObjects()), rng=random.Random(0))
    infos = [pod_info(pod(f"p{i}", "drain", workload=workload)) for i in range(pods)]
    started = time.process_time()
    for info in infos:
        cache.assume_pod(info, profile.schedule(info, CycleState()))
    return pods / (time.process_time() - started)


class _NoClient:
    """The API client of a profile that only schedules: nothing binds."""

    async def create_subresource(self, resource: Resource, name: str, subresource: str,
                                 body: dict[str, Any], *,
                                 namespace: str | None = None) -> dict[str, Any]:
        raise AssertionError("the drain benchmark schedules only; nothing binds")


class _NoObjects:
    """An empty informer cache: no Services, controllers or namespaces."""

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return []

    def get(self, key: str) -> dict[str, Any] | None:
        return None


def profile_summary(path: Path, top: int = 15) -> list[str]:
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime")
    rows = []
    # Stats.stats, the raw table, is undocumented (typeshed leaves it out)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = vars(stats)["stats"]
    for (file, line, func), (_, calls, tottime, cumtime, _) in sorted(
            raw.items(), key=lambda kv: -kv[1][2])[:top]:
        rows.append(f"{tottime:7.2f}s self {cumtime:7.2f}s cum {calls:>9} calls "
                    f"{Path(file).name}:{line}({func})")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds to wait for every pod to be bound")
    parser.add_argument("--workload", choices=WORKLOADS, default="basic")
    parser.add_argument("--algorithm-only", action="store_true",
                        help="only the in-process algorithm figure (no API server)")
    parser.add_argument("--profile", action="store_true",
                        help="run the scheduler under cProfile and print its top functions")
    args = parser.parse_args()
    if args.algorithm_only:
        print(json.dumps({"nodes": args.nodes, "workload": args.workload,
                          "algorithm_only_decisions_per_cpu_s": round(decisions_per_s(
                              args.nodes, min(args.pods, 5000), args.workload), 1)}))
        return
    with tempfile.TemporaryDirectory(prefix="kyb-bench-sched-") as tmp:
        work = Path(tmp)
        result = asyncio.run(run(args, work))
        result["algorithm_only_decisions_per_cpu_s"] = round(
            decisions_per_s(args.nodes, min(args.pods, 5000), args.workload), 1)
        if args.profile and (work / "scheduler.prof").exists():
            result["scheduler_profile_top_tottime"] = profile_summary(work / "scheduler.prof")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
