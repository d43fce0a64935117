"""The API server's memory per pod, stage by stage, beside the pods' own JSON size.

Run from the repo root: ``.venv/bin/python bench/apiserver_memory.py [--pods 30000]
[--nodes 100]``. One real `kyb apiserver` (SQLite) in a temp dir; its RSS is read
after each stage:

1. ``created``: `--pods` pods, bound to `--nodes` node names (32 creates in flight);
2. ``watched``: one watch per node name with ``fieldSelector=spec.nodeName=…``, as
   kubelets watch (each gets its pods as ADDED events);
3. ``status``: every pod's status PATCHed to Running with five conditions, as a
   kubelet reports it;
4. ``listed``: three unpaged cluster-wide LISTs, three paged ones (500 per page, as
   kubectl pages), then twenty more unpaged: RSS must not grow with repeated lists.

``kb_per_pod`` is the whole RSS over the pods; ``json_kb_per_pod`` the size of one pod
as the API serves it (the floor: what a pod is worth as bytes), and
``over_json`` the ratio of the two. Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.support and bench.harness

from bench import harness  # noqa: E402
from bench.scale import rss_mb  # noqa: E402
from tests.support.apiserver import ApiServer, connected  # noqa: E402

from kybernetes.api.resources import NAMESPACES, PODS  # noqa: E402
from kybernetes.client import ApiClient  # noqa: E402
from kybernetes.controllers.base import for_each  # noqa: E402

NAMESPACE = "memory"
IN_FLIGHT = 32
WATCH_CLIENTS = 4  # watches spread over a few connection pools, as many kubelets would
RUNNING = {"status": {
    "phase": "Running", "podIP": "10.244.0.10", "hostIP": "10.0.0.1",
    "conditions": [{"type": t, "status": "True", "lastTransitionTime": "2026-11-30T10:00:00Z"}
                   for t in ("PodReadyToStartContainers", "Initialized", "Ready",
                             "ContainersReady", "PodScheduled")],
    "containerStatuses": [{"name": "c", "ready": True, "restartCount": 0, "started": True,
                           "image": "registry.k8s.io/pause:3.10", "imageID": "",
                           "containerID": "containerd://0123456789abcdef",
                           "state": {"running": {"startedAt": "2026-11-30T10:00:00Z"}}}]}}


def pod(i: int, nodes: int) -> dict[str, Any]:
    """A ReplicaSet's pod as the scheduler leaves it: owner, labels, requests, bound."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"pod-{i}", "namespace": NAMESPACE,
                         "labels": {"app": f"app-{i % 20}"},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                              "name": f"rs-{i % 20}", "controller": True,
                                              "blockOwnerDeletion": True,
                                              "uid": "0c1b2a3d-1111-2222-3333-444455556666"}]},
            "spec": {"nodeName": f"node-{i % nodes}",
                     "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                                     "resources": {"requests": {"cpu": "10m",
                                                                "memory": "10Mi"}}}]}}


async def drain(watch: Any) -> None:
    async for _ in watch:
        pass


async def stages(server: ApiServer, pods: int, nodes: int) -> dict[str, Any]:
    assert server.proc is not None and server.proc.popen is not None
    pid = server.proc.popen.pid
    rss: dict[str, float] = {"start": rss_mb(pid)}
    watchers = [ApiClient.from_kubeconfig(server.kubeconfig) for _ in range(WATCH_CLIENTS)]
    tasks: list[asyncio.Task[None]] = []
    try:
        async with connected(server) as client:
            await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": NAMESPACE}})
            await for_each(range(pods), lambda i: client.create(
                PODS, pod(i, nodes), namespace=NAMESPACE), concurrency=IN_FLIGHT)
            rss["created"] = rss_mb(pid)
            tasks = [asyncio.create_task(drain(watchers[k % WATCH_CLIENTS].watch(
                PODS, field_selector=f"spec.nodeName=node-{k}"))) for k in range(nodes)]
            await asyncio.sleep(3)
            rss["watched"] = rss_mb(pid)
            await for_each(range(pods), lambda i: client.patch(
                PODS, f"pod-{i}", RUNNING, namespace=NAMESPACE, subresource="status"),
                concurrency=IN_FLIGHT)
            await asyncio.sleep(2)
            rss["status"] = rss_mb(pid)
            for _ in range(3):
                await client.list(PODS)
            rss["listed_3"] = rss_mb(pid)
            for _ in range(3):
                await client.list_all(PODS, page_size=500)
            rss["paged_3"] = rss_mb(pid)
            for _ in range(20):
                await client.list(PODS)
            rss["listed_23"] = rss_mb(pid)
            one = orjson.dumps(await client.get(PODS, "pod-0", namespace=NAMESPACE))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for watcher in watchers:
            await watcher.aclose()
    kb_per_pod = rss["listed_23"] * 1024 / pods
    return {"pods": pods, "nodes": nodes, "rss_mb": {k: round(v, 1) for k, v in rss.items()},
            "kb_per_pod": round(kb_per_pod, 1),
            "json_kb_per_pod": round(len(one) / 1024, 2),
            "over_json": round(kb_per_pod * 1024 / len(one), 1)}


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--pods", type=int, default=30000)
    parser.add_argument("--nodes", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kyb-bench-memory-") as tmp:
        server = ApiServer(Path(args.keep_dir or tmp) / "apiserver").start(timeout=60)
        try:
            result = asyncio.run(stages(server, args.pods, args.nodes))
        finally:
            server.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
