"""Jobs: a Job of many completions on hollow nodes against an RC of the same pods.

Run from the repo root: ``.venv/bin/python bench/jobs.py [--completions 1000]
[--parallelism 50] [--nodes 5]``. Every part is a real process: `kyb apiserver`
(SQLite), `kyb controller-manager`, `kyb scheduler` and a `kyb hollow-nodes` group
(fake runtime).

1. **rc_running**: an RC of `--completions` pods; time from its create until every
   pod is Running (pods/s) — the throughput of create, schedule and start.
2. **job_complete**: a Job of `--completions` completions, `--parallelism` at a
   time, whose pods exit 0 as soon as they start (`fake.kyb.io/exit: "0"`); time from
   its create until its Complete condition. Each pod is created, scheduled, started,
   finishes, is counted through status.uncountedTerminatedPods and has its tracking
   finalizer removed, with at most `--parallelism` pods at once.
   `ratio_to_rc` is the Job's pods/s over the RC's.

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
sys.path.insert(0, str(ROOT))  # for tests.support and bench.controllers

from bench import harness  # noqa: E402
from bench.controllers import (  # noqa: E402
    hollow_nodes,
    namespace,
    rc,
    start_manager,
    until_pods,
    wait_nodes,
)
from tests.support.apiserver import ApiServer  # noqa: E402
from tests.support.procs import Proc  # noqa: E402

from kybernetes.api.resources import JOBS, PODS, REPLICATION_CONTROLLERS  # noqa: E402
from kybernetes.client import ApiClient  # noqa: E402


def job(name: str, ns: str, completions: int, parallelism: int) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": ns},
            "spec": {"completions": completions, "parallelism": parallelism,
                     "template": {"metadata": {"annotations": {"fake.kyb.io/exit": "0"}},
                                  "spec": {"restartPolicy": "Never", "containers": [
                                      {"name": "work", "image": "busybox"}]}}}}


async def rc_running(client: ApiClient, count: int) -> dict[str, float]:
    ns = await namespace(client, "bench-rc")
    start = time.monotonic()
    await client.create(REPLICATION_CONTROLLERS, rc("pods", ns, count))
    done = await until_pods(client, ns, count, running=True)
    await client.patch(REPLICATION_CONTROLLERS, "pods", {"spec": {"replicas": 0}}, namespace=ns)
    await until_pods(client, ns, 0, exactly=True)
    await until_no_pods(client, ns)
    return {"seconds": round(done - start, 3), "pods_per_second": round(count / (done - start), 1)}


async def until_no_pods(client: ApiClient, ns: str, within: float = 300) -> None:
    """Until the namespace has no pod left, terminating ones included: the kubelets'
    teardown of the RC's pods (status writes, deletes, events) must not load the API
    server while the Job is measured."""
    listing = await client.list(PODS, namespace=ns)
    left = {p["metadata"]["name"] for p in listing["items"]}
    async with asyncio.timeout(within):
        if left:
            async with client.watch(PODS, namespace=ns,
                                    resource_version=listing["metadata"]["resourceVersion"]
                                    ) as watch:
                async for event in watch:
                    if event.type == "DELETED":
                        left.discard(event.object["metadata"]["name"])
                        if not left:
                            break
    await asyncio.sleep(1)  # the kubelets' last events


async def until_complete(client: ApiClient, ns: str, name: str, within: float = 900) -> float:
    """Monotonic time at which the Job is seen Complete (a watch on it)."""
    async with asyncio.timeout(within):
        while True:
            listing = await client.list(JOBS, namespace=ns)
            if any(_complete(j) for j in listing["items"]):
                return time.monotonic()
            rv = listing["metadata"]["resourceVersion"]
            async with client.watch(JOBS, namespace=ns, resource_version=rv) as watch:
                async for event in watch:
                    if event.type != "BOOKMARK" and _complete(event.object):
                        return time.monotonic()


def _complete(obj: dict[str, Any]) -> bool:
    return any(c.get("type") == "Complete" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or ())


async def job_complete(client: ApiClient, completions: int, parallelism: int) -> dict[str, Any]:
    ns = await namespace(client, "bench-job")
    start = time.monotonic()
    await client.create(JOBS, job("batch", ns, completions, parallelism))
    done = await until_complete(client, ns, "batch")
    status = (await client.get(JOBS, "batch", namespace=ns))["status"]
    return {"seconds": round(done - start, 3),
            "pods_per_second": round(completions / (done - start), 1),
            "succeeded": status.get("succeeded"), "failed": status.get("failed", 0)}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"completions": args.completions, "parallelism": args.parallelism,
                              "nodes": args.nodes}
    with tempfile.TemporaryDirectory(prefix="kyb-bench-") as tmp:
        root = Path(args.keep_dir or tmp)
        server = ApiServer(root / "apiserver").start(timeout=60)
        procs: list[Proc] = []
        client = ApiClient.from_kubeconfig(server.kubeconfig)
        try:
            procs.append(start_manager(server, root / "logs"))
            procs.append(hollow_nodes(server, root, "a", args.nodes, 2 * args.completions))
            procs.append(Proc.kyb("scheduler", "--kubeconfig", str(server.kubeconfig),
                                  log_path=root / "logs" / "scheduler.log").start())
            await wait_nodes(client, args.nodes)
            result["rc_running"] = await rc_running(client, args.completions)
            result["job_complete"] = await job_complete(client, args.completions,
                                                        args.parallelism)
            result["ratio_to_rc"] = round(result["job_complete"]["pods_per_second"]
                                          / result["rc_running"]["pods_per_second"], 2)
        finally:
            await client.aclose()
            harness.stop_all(procs, server)
    return result


if __name__ == "__main__":
    parser = harness.parser(__doc__)
    parser.add_argument("--completions", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=50)
    parser.add_argument("--nodes", type=int, default=5)
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
