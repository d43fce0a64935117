"""Kubernetes' scale limits on one API server: hollow nodes, ReplicaSets of pods, and
the four API SLOs measured while the pods come up.

Run from the repo root: ``.venv/bin/python bench/scale.py [--nodes 5000]
[--pods 150000] [--pods-per-replicaset 500] [--node-groups 2]`` (the defaults are
Kubernetes' documented limits; ``--nodes 200 --pods 6000`` fits a laptop in a few
minutes). Every part is a real process: `kyb apiserver` (SQLite), `kyb
controller-manager` (node IPAM over 10.0.0.0/8), `kyb scheduler`, and
`--node-groups` `kyb hollow-nodes` processes sharing the nodes.

1. The nodes register and become Ready (`nodes_ready_seconds`).
2. A probe namespace gets 500 pods (its LIST is the namespace-scoped call class).
3. `--pods` pods as ReplicaSets of `--pods-per-replicaset` in 10 namespaces, all
   created at once; `all_running_seconds` is until the ReplicaSets report every
   replica ready (hollow pods are Running and Ready once their node starts them).
4. While 3 runs, probes measure Kubernetes' SLO call classes, each on its own
   schedule: status PATCHes of a probe pod (mutating, p99 ≤ 1 s), GETs of it
   (single-object read, ≤ 1 s), LISTs of the 500-pod namespace (≤ 5 s), and
   cluster-wide pod LISTs (≤ 30 s) paged as kubectl pages them (500 per page) and
   unpaged. Each class reports count, p50, p99, max, errors and pass/fail.
5. RSS of every process at the end and its peak, and the API server's per pod.

Prints one JSON object (progress lines go to stderr).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.support

from bench import harness  # noqa: E402
from tests.support.apiserver import ApiServer  # noqa: E402
from tests.support.net import free_port, wait_http_ok  # noqa: E402
from tests.support.procs import Proc  # noqa: E402

from kybernetes import collector  # noqa: E402
from kybernetes.api import errors  # noqa: E402
from kybernetes.api.resources import NAMESPACES, NODES, PODS, REPLICA_SETS  # noqa: E402
from kybernetes.client import ApiClient  # noqa: E402

SLO_SECONDS = {"mutating": 1.0, "get": 1.0, "namespace_list": 5.0,
               "cluster_list_paged": 30.0, "cluster_list": 30.0}
PROBE_NS, PROBE_PODS = "scale-probe", 500
REQUEST_TOTAL = re.compile(
    r'^apiserver_request_total\{verb="([^"]*)",resource="([^"]*)",code="[^"]*"\} (\d+)$',
    re.MULTILINE)
WORKLOAD_NAMESPACES = 10


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pod_template(app: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                                     "resources": {"requests": {"cpu": "10m",
                                                                "memory": "10Mi"}}}]}}


def replica_set(name: str, namespace: str, replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": pod_template(name)}}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


class Probe:
    """One SLO call class, called every `every` seconds until stopped."""

    def __init__(self, name: str, call: Callable[[], Awaitable[Any]], every: float) -> None:
        self.name, self.call, self.every = name, call, every
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                await self.call()
                self.latencies.append(time.perf_counter() - started)
            except errors.ApiError as e:
                self.errors[e.reason] = self.errors.get(e.reason, 0) + 1
            except (TimeoutError, OSError) as e:
                self.errors[type(e).__name__] = self.errors.get(type(e).__name__, 0) + 1
            await asyncio.sleep(max(self.every - (time.perf_counter() - started), 0.0))

    def report(self) -> dict[str, Any]:
        slo = SLO_SECONDS[self.name]
        p99 = percentile(self.latencies, 99)
        return {"count": len(self.latencies), "errors": self.errors,
                "p50_ms": round(percentile(self.latencies, 50) * 1000, 1),
                "p99_ms": round(p99 * 1000, 1),
                "max_ms": round(max(self.latencies, default=0.0) * 1000, 1),
                "slo_p99_s": slo, "pass": bool(self.latencies) and p99 <= slo}


async def until(check: Callable[[], Awaitable[bool]], what: str, within: float) -> float:
    """Seconds until `check` holds; a check the overloaded server does not answer
    counts as not yet (and is said), never as the end of the run."""
    started = time.monotonic()
    while True:
        try:
            if await check():
                return time.monotonic() - started
        except (errors.ApiError, TimeoutError, OSError) as e:
            progress(f"{what}: check failed ({e}); trying again")
        if time.monotonic() - started > within:
            raise TimeoutError(f"{what}: not reached in {within:.0f} s")
        await asyncio.sleep(1.0)


async def ready_nodes(client: ApiClient) -> int:
    nodes = (await client.list(NODES))["items"]
    return sum(1 for n in nodes if any(c["type"] == "Ready" and c["status"] == "True"
                                       for c in (n.get("status") or {}).get("conditions") or ()))


async def ready_replicas(client: ApiClient) -> int:
    return sum(int((rs.get("status") or {}).get("readyReplicas") or 0)
               for rs in (await client.list(REPLICA_SETS))["items"])


async def scenario(args: Any, root: Path, server: ApiServer, procs: dict[str, Proc]
                   ) -> dict[str, Any]:
    client = ApiClient.from_kubeconfig(server.kubeconfig)
    result: dict[str, Any] = {"nodes": args.nodes, "pods": args.pods}
    try:
        started = time.monotonic()
        per_group = -(-args.nodes // args.node_groups)
        for g in range(args.node_groups):
            count = min(per_group, args.nodes - g * per_group)
            if count > 0:
                procs[f"hollow-nodes-{g}"] = Proc.kyb(
                    "hollow-nodes", "--kubeconfig", str(server.kubeconfig), "--count",
                    str(count), "--name-prefix", f"hollow-{g}",
                    log_path=root / "logs" / f"hollow-{g}.log").start()

        async def all_nodes() -> bool:
            ready = await ready_nodes(client)
            progress(f"nodes ready: {ready}/{args.nodes}")
            return ready >= args.nodes
        await until(all_nodes, "nodes Ready", args.timeout)
        result["nodes_ready_seconds"] = round(time.monotonic() - started, 1)

        for ns in (PROBE_NS, *(f"scale-{i}" for i in range(WORKLOAD_NAMESPACES))):
            await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": ns}})
        await client.create(REPLICA_SETS, replica_set("probe-list", PROBE_NS, PROBE_PODS),
                            namespace=PROBE_NS)
        await client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                   "metadata": {"name": "probe", "namespace": PROBE_NS},
                                   "spec": pod_template("probe")["spec"]}, namespace=PROBE_NS)
        stop = asyncio.Event()
        probes = [
            Probe("mutating", lambda: client.patch(
                PODS, "probe", {"metadata": {"annotations": {"probe": str(time.time())}}},
                namespace=PROBE_NS), 0.2),
            Probe("get", lambda: client.get(PODS, "probe", namespace=PROBE_NS), 0.2),
            Probe("namespace_list", lambda: client.list(PODS, namespace=PROBE_NS), 1.0),
            # as `kubectl get pods -A` pages: 500 per page, following continue tokens
            Probe("cluster_list_paged", lambda: client.list_all(PODS, page_size=500), 10.0),
            # delivered, not decoded: decoding every pod here is this process's cost, not
            # the server's, and stalled the other probes for seconds at 150,000 pods
            Probe("cluster_list", lambda: client.request("GET", PODS.path(None), raw=True),
                  20.0),
        ]
        tasks = [asyncio.create_task(p.run(stop)) for p in probes]

        sets = -(-args.pods // args.pods_per_replicaset)
        started = time.monotonic()
        for i in range(sets):
            replicas = min(args.pods_per_replicaset, args.pods - i * args.pods_per_replicaset)
            ns = f"scale-{i % WORKLOAD_NAMESPACES}"
            await client.create(REPLICA_SETS, replica_set(f"rs-{i}", ns, replicas),
                                namespace=ns)
        want = args.pods + PROBE_PODS

        api_pid = server.proc.popen.pid if server.proc and server.proc.popen else None

        async def all_running() -> bool:
            ready = await ready_replicas(client)
            rss = f"{rss_mb(api_pid):.0f} MiB" if api_pid else "?"
            progress(f"pods ready: {ready}/{want}; API server RSS {rss}")
            return ready >= want
        try:
            await until(all_running, "pods Running", args.timeout)
            result["all_running_seconds"] = round(time.monotonic() - started, 1)
            result["pods_per_second"] = round(args.pods / result["all_running_seconds"], 1)
        except TimeoutError as e:
            result["all_running_seconds"] = None
            result["not_reached"] = str(e)
            result["ready_at_timeout"] = await ready_replicas(client)
        stop.set()
        await asyncio.gather(*tasks)
        result["slo"] = {p.name: p.report() for p in probes}
        result["slo_all_pass"] = all(r["pass"] for r in result["slo"].values())
        result["requests"] = request_mix(await client.request("GET", "/metrics"), want)
    finally:
        await client.aclose()
    return result


def request_mix(metrics: str, pods: int) -> dict[str, Any]:
    """What the API server answered over the whole run, from its own
    apiserver_request_total: the busiest (verb, resource) pairs, and writes per pod
    (every write is a store commit and a watch event for each watcher)."""
    counts: dict[str, int] = {}
    for verb, resource, value in REQUEST_TOTAL.findall(metrics):
        counts[f"{verb} {resource}"] = counts.get(f"{verb} {resource}", 0) + int(value)
    writes = sum(n for key, n in counts.items()
                 if key.split()[0] in ("POST", "PUT", "PATCH", "DELETE"))
    busiest = dict(sorted(counts.items(), key=lambda kv: -kv[1])[:15])
    return {"total": sum(counts.values()), "writes": writes,
            "writes_per_pod": round(writes / pods, 2), "busiest": busiest}


def memory(server: ApiServer, procs: dict[str, Proc], args: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    assert server.proc is not None and server.proc.popen is not None
    every = {"apiserver": server.proc, **procs}
    for name, proc in every.items():
        if proc.popen is not None and proc.alive():
            out[name] = {"rss_mb": round(rss_mb(proc.popen.pid), 1),
                         "peak_mb": round(peak_mb(proc.popen.pid), 1)}
    api = out.get("apiserver", {})
    if api:
        pods = args.pods + PROBE_PODS + 1
        out["apiserver_kb_per_pod"] = round(api["rss_mb"] * 1024 / pods, 1)
    hollow = [v["rss_mb"] for k, v in out.items() if k.startswith("hollow-nodes")]
    if hollow:
        out["hollow_nodes_kb_per_node"] = round(sum(hollow) * 1024 / args.nodes, 1)
    return out


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=150000)
    parser.add_argument("--pods-per-replicaset", type=int, default=500)
    parser.add_argument("--node-groups", type=int, default=2,
                        help="hollow-nodes processes the nodes are shared among")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds to wait for the nodes, and again for the pods")
    args = parser.parse_args()
    # Its own lists of every pod would otherwise cost the probes seconds of collector
    # pauses (measured: 16 of 24 s of CPU at 30,000 pods), counted as API latency.
    collector.tune_for_serving()
    with tempfile.TemporaryDirectory(prefix="kyb-bench-scale-") as tmp:
        root = Path(args.keep_dir or tmp)
        server = ApiServer(root / "apiserver").start(timeout=60)
        procs: dict[str, Proc] = {}
        try:
            port = free_port()
            procs["controller-manager"] = Proc.kyb(
                "controller-manager", "--kubeconfig", str(server.kubeconfig),
                "--healthz-port", str(port), "--cluster-cidr", "10.0.0.0/8",
                log_path=root / "logs" / "controller-manager.log").start()
            wait_http_ok(f"http://127.0.0.1:{port}/readyz", timeout=60,
                         is_alive=procs["controller-manager"].alive)
            procs["scheduler"] = Proc.kyb("scheduler", "--kubeconfig", str(server.kubeconfig),
                                          log_path=root / "logs" / "scheduler.log").start()
            result = asyncio.run(scenario(args, root, server, procs))
            result["memory"] = memory(server, procs, args)
            result["cpus"] = len(os.sched_getaffinity(0))
            result["median_slo_p99_ms"] = statistics.median(
                r["p99_ms"] for r in result.get("slo", {}).values()) if result.get("slo") \
                else None
        finally:
            harness.stop_all(list(procs.values()), server)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
