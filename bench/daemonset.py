"""DaemonSet on many hollow nodes: time until every node runs a Ready daemon pod.

Run from the repo root: ``.venv/bin/python bench/daemonset.py [--nodes 1000]``.
Every part is a real process: `kyb apiserver` (SQLite), `kyb scheduler`,
`kyb hollow-nodes` (fake runtime, one process) and `kyb controller-manager
--controllers daemonset`.

1. **baseline**: the same pods a DaemonSet makes (one per node, required node
   affinity `metadata.name In [node]`, the scheduler binds them), created straight
   through the API with 64 requests in flight; time until all are Ready. They are
   then deleted and gone before step 2.
2. **daemonset**: a DaemonSet is created; time until every node has its Ready pod
   (`numberReady` in status reaching `--nodes` is timed too).

`ratio_to_baseline` = daemonset / baseline, all Ready (aim: at most 1.5);
`ratio_created_to_baseline` the same for all pods created. Prints one JSON object.
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
sys.path.insert(0, str(ROOT))  # for tests.support and bench.controllers

from bench import harness  # noqa: E402
from bench.controllers import CONCURRENCY, namespace, pod_spec, until_pods, wait_nodes  # noqa: E402
from tests.support.apiserver import ApiServer  # noqa: E402
from tests.support.net import free_port, wait_http_ok  # noqa: E402
from tests.support.poll import eventually  # noqa: E402
from tests.support.procs import Proc  # noqa: E402

from kybernetes.api.meta import is_pod_ready  # noqa: E402
from kybernetes.api.resources import DAEMON_SETS, PODS  # noqa: E402
from kybernetes.client import ApiClient  # noqa: E402
from kybernetes.controllers.daemon_placement import daemon_pod_spec  # noqa: E402


async def baseline(client: ApiClient, nodes: list[str]) -> tuple[float, float]:
    """(seconds until every pod is created, seconds until every pod is Ready)."""
    ns = await namespace(client, "baseline")
    todo = iter(nodes)

    async def worker() -> None:
        for node in todo:
            await client.create(PODS, {"metadata": {"name": f"p-{node}", "namespace": ns,
                                                    "labels": {"app": "direct"}},
                                       "spec": daemon_pod_spec(pod_spec(), node)})
    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    created = time.monotonic()
    done = await until_pods(client, ns, len(nodes), ok=is_pod_ready)
    await client.request("DELETE", PODS.path(ns))  # the collection
    await until_pods(client, ns, 0, exactly=True)
    return created - start, done - start


async def daemon_set(client: ApiClient, count: int) -> dict[str, float]:
    ns = await namespace(client, "bench-ds")
    labels = {"app": "agent"}
    start = time.monotonic()
    await client.create(DAEMON_SETS, {
        "metadata": {"name": "agent", "namespace": ns},
        "spec": {"selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": pod_spec()}}})
    created = await until_pods(client, ns, count)
    ready = await until_pods(client, ns, count, ok=is_pod_ready)
    async def counted() -> bool:
        ds = await client.get(DAEMON_SETS, "agent", namespace=ns)
        return bool((ds.get("status") or {}).get("numberReady") == count)
    await eventually(counted, within=120, interval=0.2, what="numberReady")
    status = time.monotonic()
    return {"seconds_all_created": round(created - start, 3),
            "seconds_all_ready": round(ready - start, 3),
            "seconds_status_number_ready": round(status - start, 3)}


def start(name: str, server: ApiServer, logs: Path, *args: str) -> Proc:
    return Proc.kyb(name, "--kubeconfig", str(server.kubeconfig), *args,
                    log_path=logs / f"{name}.log").start()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"nodes": args.nodes}
    with tempfile.TemporaryDirectory(prefix="kyb-bench-") as tmp:
        root = Path(args.keep_dir or tmp)
        (root / "logs").mkdir(parents=True, exist_ok=True)
        server = ApiServer(root / "apiserver").start(timeout=60)
        procs: list[Proc] = []
        client = ApiClient.from_kubeconfig(server.kubeconfig)
        try:
            procs.append(start("hollow-nodes", server, root / "logs", "--count", str(args.nodes),
                               "--lease-seconds", "10", "--status-seconds", "60"))
            procs.append(start("scheduler", server, root / "logs"))
            began = time.monotonic()
            await wait_nodes(client, args.nodes)
            result["seconds_nodes_ready"] = round(time.monotonic() - began, 1)
            nodes = [f"hollow-node-{i}" for i in range(args.nodes)]
            created, base = await baseline(client, nodes)
            result["baseline_direct_pods"] = {"seconds_all_created": round(created, 3),
                                              "seconds_all_ready": round(base, 3)}
            port = free_port()
            procs.append(start("controller-manager", server, root / "logs", "--controllers",
                               "daemonset", "--healthz-port", str(port)))
            wait_http_ok(f"http://127.0.0.1:{port}/readyz", timeout=60, is_alive=procs[-1].alive)
            result["daemonset"] = await daemon_set(client, args.nodes)
            result["ratio_to_baseline"] = round(result["daemonset"]["seconds_all_ready"] / base, 2)
            result["ratio_created_to_baseline"] = round(
                result["daemonset"]["seconds_all_created"] / created, 2)
        finally:
            await client.aclose()
            harness.stop_all(procs, server)
    return result


if __name__ == "__main__":
    parser = harness.parser(__doc__)
    parser.add_argument("--nodes", type=int, default=1000)
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
