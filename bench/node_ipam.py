"""Node IPAM: how long handing out pod CIDRs takes, bare and through the controller.

Run from the repo root: ``.venv/bin/python bench/node_ipam.py [--nodes 5000]``.

1. **allocator**: the bitmap alone (controllers/cidr_set.py) on a /8 cut into /24s:
   `--nodes` allocations, the whole 65,536, and a restart's rebuild (occupying
   `--nodes` existing subnets).
2. **controller**: a real `kyb apiserver` (SQLite) holds `--nodes` Nodes without a
   podCIDR, created first; then the nodeipam controller starts (in this process,
   shared informers as in the controller manager) and we time until every node is
   seen with its podCIDR through a watch, and the longest stall of this process's
   event loop, apart for the informer's initial list of the nodes (a one-off at
   start, linear in the nodes) and while the CIDRs are handed out (which must
   never block it).

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from ipaddress import ip_network
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.support

from tests.support.apiserver import ApiServer  # noqa: E402

from kybernetes.api.resources import NODES  # noqa: E402
from kybernetes.client import ApiClient  # noqa: E402
from kybernetes.controllers.cidr_set import CidrSet  # noqa: E402
from kybernetes.controllers.manager import ControllerManager, Options  # noqa: E402

CLUSTER = ip_network("10.0.0.0/8")
CONCURRENCY = 32


def allocator(nodes: int) -> dict[str, float]:
    cidrs = CidrSet(CLUSTER, 24)
    start = time.perf_counter()
    held = [cidrs.allocate() for _ in range(nodes)]
    some = time.perf_counter() - start
    while cidrs.allocate() is not None:
        pass
    full = time.perf_counter() - start
    rebuilt = CidrSet(CLUSTER, 24)
    start = time.perf_counter()
    for net in held:
        assert net is not None
        rebuilt.occupy(net)
    rebuild = time.perf_counter() - start
    return {f"ms_{nodes}_allocations": round(some * 1000, 2),
            "ms_65536_allocations": round(full * 1000, 2),
            f"ms_rebuild_{nodes}": round(rebuild * 1000, 2)}


async def loop_lag(stop: asyncio.Event, worst: list[float]) -> None:
    """The longest time a 10 ms sleep overran: how long the loop was blocked."""
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.01)
        worst[0] = max(worst[0], time.perf_counter() - start - 0.01)


async def controller(client: ApiClient, nodes: int) -> dict[str, float]:
    todo = iter(range(nodes))

    async def create() -> None:
        for i in todo:
            await client.create(NODES, {"metadata": {"name": f"n{i:05d}"}})
    await asyncio.gather(*(create() for _ in range(CONCURRENCY)))
    listing = await client.list(NODES)
    rv = listing["metadata"]["resourceVersion"]
    assigned: set[str] = set()
    stop, worst = asyncio.Event(), [0.0]
    lag = asyncio.create_task(loop_lag(stop, worst))
    manager = ControllerManager(client, ["nodeipam"], Options(cluster_cidr=CLUSTER))
    start = time.monotonic()
    task = asyncio.create_task(manager.run())
    await manager.running.wait()
    synced = time.monotonic() - start
    await asyncio.sleep(0.05)  # the lag probe notes the stall of the sync first
    initial_stall, worst[0] = worst[0], 0.0
    try:
        async with asyncio.timeout(600), client.watch(NODES, resource_version=rv) as watch:
            async for event in watch:
                if (event.object.get("spec") or {}).get("podCIDR"):
                    assigned.add(event.object["metadata"]["name"])
                if len(assigned) >= nodes:
                    break
        seconds = time.monotonic() - start
    finally:
        stop.set()
        task.cancel()
        await asyncio.gather(task, lag, return_exceptions=True)
    return {"seconds_all_assigned": round(seconds, 2),
            "nodes_per_second": round(nodes / seconds, 1),
            "seconds_informer_synced": round(synced, 2),
            "ms_worst_event_loop_stall_initial_sync": round(initial_stall * 1000, 1),
            "ms_worst_event_loop_stall_assigning": round(worst[0] * 1000, 1)}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"nodes": args.nodes, "cluster_cidr": str(CLUSTER),
                              "node_cidr_mask_size": 24, "allocator": allocator(args.nodes)}
    with tempfile.TemporaryDirectory(prefix="kyb-bench-ipam-") as tmp:
        server = ApiServer(Path(tmp) / "apiserver").start(timeout=60)
        client = ApiClient.from_kubeconfig(server.kubeconfig)
        try:
            result["controller"] = await controller(client, args.nodes)
        finally:
            await client.aclose()
            server.stop()
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
