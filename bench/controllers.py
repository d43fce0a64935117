"""Controller manager: a big ReplicationController, and pods moving off a dead node.

Run from the repo root: ``.venv/bin/python bench/controllers.py [--replicas 1000]
[--nodes 10] [--skip-nodes]``. Every part is a real process: `kyb apiserver`
(SQLite), `kyb controller-manager`, and (unless --skip-nodes) `kyb scheduler` and
two `kyb hollow-nodes` groups (fake runtime).

1. **Baseline**, same run: `--replicas` pods created straight through the API
   with 64 requests in flight (no controller). A controller must make at least
   these creates, so `ratio_to_baseline` says how close it comes to the server's
   ceiling on this machine.
2. **rc_create**: an RC of `--replicas`; time from the RC's create to the last
   of its pods seen (a watch) — slow-start batches, expectations, informer lag
   and all. No scheduler runs yet.
3. **rc_running** (with nodes): the scheduler and half of `--nodes` hollow nodes
   (group A) start; a second RC of `--replicas`; time until every pod is Running.
4. **node_death** (with nodes): an RC of `--dead-replicas` runs on group A; group
   B starts; group A's process is killed (SIGKILL: its leases stop); time until
   the RC has that many Running pods again, all on group B (the RC of step 3 is
   on group A too, so its pods move at the same time). Short flags: grace
   8 s, monitor period 0.5 s, tolerationSeconds 1 in the pod template.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.support

from bench import harness  # noqa: E402
from tests.support.apiserver import ApiServer  # noqa: E402
from tests.support.net import free_port, wait_http_ok  # noqa: E402
from tests.support.procs import Proc  # noqa: E402

from kybernetes.api.resources import (  # noqa: E402
    NAMESPACES,
    NODES,
    PODS,
    REPLICATION_CONTROLLERS,
)
from kybernetes.client import ApiClient  # noqa: E402

CONCURRENCY = 64
TOLERATE_1S = [{"key": k, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 1}
               for k in ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")]


def pod_spec(tolerations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "pause",
                                            "image": "registry.k8s.io/pause:3.10"}]}
    if tolerations:
        spec["tolerations"] = tolerations
    return spec


def rc(name: str, ns: str, replicas: int, **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "v1", "kind": "ReplicationController",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas, "selector": labels,
                     "template": {"metadata": {"labels": labels}, "spec": pod_spec(**spec)}}}


async def namespace(client: ApiClient, name: str) -> str:
    await client.create(NAMESPACES, {"metadata": {"name": name}})
    return name


async def baseline(client: ApiClient, count: int) -> float:
    ns = await namespace(client, "baseline")
    todo = iter(range(count))

    async def worker() -> None:
        for i in todo:
            await client.create(PODS, {"metadata": {"name": f"p{i}", "namespace": ns},
                                       "spec": {**pod_spec(), "schedulerName": "nobody"}})
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.perf_counter() - start


async def until_pods(client: ApiClient, ns: str, want: int, *, running: bool = False,
                     ok: Any = None, within: float = 600, exactly: bool = False) -> float:
    """Seconds (monotonic time) at which `want` matching pods are seen (a watch)."""
    listing = await client.list(PODS, namespace=ns)
    pods = {p["metadata"]["name"]: p for p in listing["items"]}

    def counted() -> int:
        return sum(1 for p in pods.values()
                   if not p["metadata"].get("deletionTimestamp")
                   and (not running or (p.get("status") or {}).get("phase") == "Running")
                   and (ok is None or ok(p)))
    def reached() -> bool:
        return counted() == want if exactly else counted() >= want
    if reached():
        return time.monotonic()
    rv = listing["metadata"]["resourceVersion"]
    async with asyncio.timeout(within):
        while True:
            async with client.watch(PODS, namespace=ns, resource_version=rv) as watch:
                async for event in watch:
                    rv = event.object["metadata"].get("resourceVersion", rv)
                    if event.type == "BOOKMARK":
                        continue
                    name = event.object["metadata"]["name"]
                    if event.type == "DELETED":
                        pods.pop(name, None)
                    else:
                        pods[name] = event.object
                    if reached():
                        return time.monotonic()


def start_manager(server: ApiServer, logs: Path) -> Proc:
    port = free_port()
    proc = Proc.kyb("controller-manager", "--kubeconfig", str(server.kubeconfig),
                    "--healthz-port", str(port), "--node-monitor-grace-period", "8s",
                    "--node-monitor-period", "500ms", "--pod-eviction-timeout", "1s",
                    log_path=logs / "controller-manager.log").start()
    wait_http_ok(f"http://127.0.0.1:{port}/readyz", timeout=60, is_alive=proc.alive)
    return proc


async def rc_create(client: ApiClient, replicas: int) -> dict[str, float]:
    ns = await namespace(client, "bench-create")
    start = time.monotonic()
    await client.create(REPLICATION_CONTROLLERS, rc("big", ns, replicas))
    done = await until_pods(client, ns, replicas)
    # Out of the way before nodes arrive: the next steps measure their own pods.
    await client.patch(REPLICATION_CONTROLLERS, "big", {"spec": {"replicas": 0}}, namespace=ns)
    await until_pods(client, ns, 0, exactly=True)
    return {"seconds": round(done - start, 3), "pods_per_second": round(replicas / (
        done - start), 1)}


async def wait_nodes(client: ApiClient, count: int) -> None:
    async with asyncio.timeout(120):
        while True:
            nodes = (await client.list(NODES))["items"]
            ready = [n for n in nodes if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in (n.get("status") or {}).get("conditions") or ())]
            if len(ready) >= count:
                return
            await asyncio.sleep(0.2)


async def rc_running(client: ApiClient, replicas: int) -> dict[str, float]:
    ns = await namespace(client, "bench-run")
    start = time.monotonic()
    await client.create(REPLICATION_CONTROLLERS, rc("run", ns, replicas))
    created = await until_pods(client, ns, replicas)
    done = await until_pods(client, ns, replicas, running=True)
    return {"seconds_all_created": round(created - start, 3),
            "seconds_all_running": round(done - start, 3)}


def hollow_nodes(server: ApiServer, root: Path, group: str, count: int, pods: int) -> Proc:
    return Proc.kyb("hollow-nodes", "--kubeconfig", str(server.kubeconfig), "--count",
                    str(count), "--name-prefix", f"group-{group}", "--lease-seconds", "1",
                    "--status-seconds", "10", "--max-pods", str(pods + 10),
                    log_path=root / "logs" / f"hollow-{group}.log").start()


async def node_death(client: ApiClient, group_a: Proc, replicas: int,
                     start_group_b: Any) -> dict[str, float]:
    ns = await namespace(client, "bench-death")
    await client.create(REPLICATION_CONTROLLERS, rc("move", ns, replicas,
                                                    tolerations=TOLERATE_1S))
    await until_pods(client, ns, replicas, running=True)  # all on group A
    await start_group_b()
    on_a = sum(1 for p in (await client.list(PODS, namespace=ns))["items"]
               if (p["spec"].get("nodeName") or "").startswith("group-a"))
    group_a.kill()
    killed = time.monotonic()
    detected = asyncio.create_task(until_unknown(client, "group-a"))

    def on_b(p: dict[str, Any]) -> bool:
        return (p["spec"].get("nodeName") or "").startswith("group-b")
    done = await until_pods(client, ns, replicas, running=True, ok=on_b, within=120)
    return {"pods_on_dead_nodes": on_a, "seconds_until_node_unknown":
            round(await detected - killed, 3), "seconds_until_all_running_elsewhere":
            round(done - killed, 3), "grace_period_seconds": 8, "toleration_seconds": 1}


async def until_unknown(client: ApiClient, prefix: str) -> float:
    """When the first node named `prefix`* is seen with Ready=Unknown."""
    while True:
        for node in (await client.list(NODES))["items"]:
            if node["metadata"]["name"].startswith(prefix) and any(
                    c["type"] == "Ready" and c["status"] == "Unknown"
                    for c in (node.get("status") or {}).get("conditions") or ()):
                return time.monotonic()
        await asyncio.sleep(0.1)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"replicas": args.replicas}
    with tempfile.TemporaryDirectory(prefix="kyb-bench-") as tmp:
        root = Path(args.keep_dir or tmp)
        server = ApiServer(root / "apiserver").start(timeout=60)
        procs: list[Proc] = []
        client = ApiClient.from_kubeconfig(server.kubeconfig)
        try:
            base = await baseline(client, args.replicas)
            result["baseline"] = {"seconds_direct_creates": round(base, 3),
                                  "pods_per_second": round(args.replicas / base, 1)}
            procs.append(start_manager(server, root / "logs"))
            result["rc_create"] = await rc_create(client, args.replicas)
            result["rc_create"]["ratio_to_baseline"] = round(
                result["rc_create"]["seconds"] / base, 2)
            if not args.skip_nodes:
                half = max(args.nodes // 2, 1)
                group_a = hollow_nodes(server, root, "a", half, args.replicas)
                procs.append(group_a)
                procs.append(Proc.kyb("scheduler", "--kubeconfig", str(server.kubeconfig),
                                      log_path=root / "logs" / "scheduler.log").start())
                await wait_nodes(client, half)
                result["nodes"] = half
                result["rc_running"] = await rc_running(client, args.replicas)

                async def start_group_b() -> None:
                    procs.append(hollow_nodes(server, root, "b", half, args.replicas))
                    await wait_nodes(client, 2 * half)
                result["node_death"] = await node_death(client, group_a, args.dead_replicas,
                                                        start_group_b)
        finally:
            await client.aclose()
            harness.stop_all(procs, server)
    return result


if __name__ == "__main__":
    parser = harness.parser(__doc__)
    parser.add_argument("--replicas", type=int, default=1000)
    parser.add_argument("--dead-replicas", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--skip-nodes", action="store_true")
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
