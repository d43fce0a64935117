"""Memory of `kyb hollow-nodes`: KiB per fake node, idle and with pods bound.

Run from the repo root: ``.venv/bin/python bench/hollow_nodes.py [--nodes 500 2000]
[--pods-per-node 30]``. For each node count, a real `kyb apiserver` (SQLite in a
temp dir) and one `kyb hollow-nodes --count N` process: once every node is Ready
the hollow process's RSS is read (idle); then `--pods-per-node` pods per node are
created with `spec.nodeName` set (no scheduler needed) and, once every one is
Running, the RSS is read again (with pods). KiB per node is the RSS above the
process's own baseline (`--count 1` idle, measured first) divided by N, and also the
whole RSS divided by N; the API server's RSS is printed beside them.

Prints one JSON object (progress lines go to stderr).
"""

from __future__ import annotations

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
from bench.scale import progress, ready_nodes, rss_mb, until  # noqa: E402
from tests.support.apiserver import ApiServer  # noqa: E402
from tests.support.procs import Proc  # noqa: E402

from kybernetes.api.resources import PODS  # noqa: E402
from kybernetes.client import ApiClient  # noqa: E402
from kybernetes.controllers.base import for_each  # noqa: E402

NAMESPACE = "default"


def pod(name: str, node: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": "hollow"}},
            "spec": {"nodeName": node, "containers": [
                {"name": "c", "image": "registry.k8s.io/pause:3.10",
                 "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}}}]}}


async def create_pods(client: ApiClient, prefix: str, nodes: int, per_node: int) -> None:
    """`per_node` pods bound to each node, round-robin over the nodes."""
    await for_each(((f"p-{n}-{i}", f"{prefix}-{n}") for i in range(per_node)
                    for n in range(nodes)),
                   lambda name_node: client.create(PODS, pod(*name_node), namespace=NAMESPACE))


async def not_running(client: ApiClient) -> int:
    """Pods not yet Running, up to 500: enough to tell (a selective list carries no
    remainingItemCount)."""
    page = await client.list(PODS, namespace=NAMESPACE, limit=500,
                             field_selector="status.phase!=Running")
    return len(page["items"])


async def scenario(server: ApiServer, hollow: Proc, nodes: int, per_node: int,
                   within: float) -> dict[str, Any]:
    client = ApiClient.from_kubeconfig(server.kubeconfig)
    assert hollow.popen is not None and server.proc is not None and server.proc.popen
    pid, api_pid = hollow.popen.pid, server.proc.popen.pid
    out: dict[str, Any] = {"nodes": nodes}
    try:
        started = time.monotonic()

        async def all_ready() -> bool:
            ready = await ready_nodes(client)
            progress(f"nodes ready: {ready}/{nodes}; hollow RSS {rss_mb(pid):.0f} MiB")
            return ready >= nodes
        await until(all_ready, "nodes Ready", within)
        out["nodes_ready_seconds"] = round(time.monotonic() - started, 1)
        await asyncio.sleep(5)  # a heartbeat round after the last registration
        out["idle"] = {"hollow_rss_mib": round(rss_mb(pid), 1),
                       "apiserver_rss_mib": round(rss_mb(api_pid), 1)}
        if per_node:
            started = time.monotonic()
            await create_pods(client, "hollow-node", nodes, per_node)
            out["pods"] = nodes * per_node
            out["pods_created_seconds"] = round(time.monotonic() - started, 1)

            async def all_running() -> bool:
                left = await not_running(client)
                progress(f"pods not Running: {left}; hollow RSS {rss_mb(pid):.0f} MiB")
                return left == 0
            await until(all_running, "pods Running", within)
            out["pods_running_seconds"] = round(time.monotonic() - started, 1)
            await asyncio.sleep(5)
            out["with_pods"] = {"hollow_rss_mib": round(rss_mb(pid), 1),
                                "apiserver_rss_mib": round(rss_mb(api_pid), 1)}
    finally:
        await client.aclose()
    return out


def run_one(root: Path, nodes: int, per_node: int, timeout: float) -> dict[str, Any]:
    server = ApiServer(root / f"apiserver-{nodes}").start(timeout=60)
    hollow = Proc.kyb("hollow-nodes", "--kubeconfig", str(server.kubeconfig),
                      "--count", str(nodes), log_path=root / "logs" / f"hollow-{nodes}.log")
    try:
        hollow.start()
        return asyncio.run(scenario(server, hollow, nodes, per_node, timeout))
    finally:
        harness.stop_all([hollow], server)


def per_node(result: dict[str, Any], key: str, base_mib: float) -> None:
    if key in result:
        rss = result[key]["hollow_rss_mib"]
        result[key]["kib_per_node"] = round(rss * 1024 / result["nodes"], 1)
        result[key]["kib_per_node_above_base"] = round(
            (rss - base_mib) * 1024 / result["nodes"], 1)


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--nodes", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--pods-per-node", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kyb-bench-hollow-") as tmp:
        root = Path(args.keep_dir or tmp)
        base = run_one(root, 1, 0, args.timeout)["idle"]["hollow_rss_mib"]
        progress(f"baseline (1 node, idle): {base} MiB")
        runs = []
        for n in args.nodes:
            result = run_one(root, n, args.pods_per_node, args.timeout)
            per_node(result, "idle", base)
            per_node(result, "with_pods", base)
            runs.append(result)
    print(json.dumps({"baseline_rss_mib": base, "pods_per_node": args.pods_per_node,
                      "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
