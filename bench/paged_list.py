"""Paged cluster-wide LISTs: from the watch cache's snapshot vs. from the store.

Run from the repo root: ``.venv/bin/python bench/paged_list.py [--pods 30000]
[--rounds 3] [--writes 200] [--etcd]``. One real `kyb apiserver` (SQLite, or with
``--etcd`` a one-member etcd from Debian's etcd-server) in a temp dir with `--pods`
pods; then, in turns, whole lists read 500 per page as kubectl pages them:

* ``snapshot``: the first page a consistent read (no resourceVersion), so the server
  serves it and every ``continue`` page from a snapshot of its watch cache;
* ``store``: the same list with the first page at ``resourceVersionMatch=Exact``, which
  the server reads from the store, and so every page after it (the path every paged
  list took before snapshots);
* ``unpaged``: one consistent LIST of everything from the cache, the floor.

Each is measured quiet and again while a writer PATCHes pod statuses at `--writes`
a second. Bodies are taken as bytes (the client does not decode them), and each list
follows an unmeasured one, so every pod's JSON is made before (the first read of a
stored object decodes it; that is not paging). Prints JSON:
seconds per whole list (median of the rounds), p50/p99 ms per page, and the ratios.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.support and bench.harness

from bench import harness  # noqa: E402
from bench.apiserver_memory import IN_FLIGHT, NAMESPACE, RUNNING, pod  # noqa: E402
from tests.support.apiserver import ApiServer, connected  # noqa: E402
from tests.support.etcd import Etcd  # noqa: E402

from kybernetes.api.resources import NAMESPACES, PODS  # noqa: E402
from kybernetes.client import ApiClient  # noqa: E402
from kybernetes.controllers.base import for_each  # noqa: E402

PAGE = 500
_CONTINUE = re.compile(rb'"continue":"([^"]*)"')
_RV = re.compile(rb'"resourceVersion":"(\d+)"')


def _head(body: bytes, pattern: re.Pattern[bytes]) -> str:
    """A field of the list's metadata, which comes before its items."""
    found = pattern.search(body, 0, 400)
    return found.group(1).decode() if found else ""


async def _paged(client: ApiClient, first: dict[str, str]) -> tuple[float, list[float]]:
    """One whole list, page by page: (seconds, ms per page)."""
    pages: list[float] = []
    params, started = {"limit": str(PAGE), **first}, time.perf_counter()
    while True:
        before = time.perf_counter()
        body = await client.request("GET", PODS.path(None), params=params, raw=True)
        pages.append((time.perf_counter() - before) * 1000)
        token = _head(body, _CONTINUE)
        if not token:
            return time.perf_counter() - started, pages
        params = {"limit": str(PAGE), "continue": token}


async def _store_paged(client: ApiClient) -> tuple[float, list[float]]:
    head = await client.request("GET", PODS.path(None), params={"limit": "1"}, raw=True)
    rv = _head(head, _RV)
    return await _paged(client, {"resourceVersion": rv, "resourceVersionMatch": "Exact"})


async def _unpaged(client: ApiClient) -> tuple[float, list[float]]:
    started = time.perf_counter()
    await client.request("GET", PODS.path(None), raw=True)
    took = time.perf_counter() - started
    return took, [took * 1000]


async def _writer(client: ApiClient, pods: int, rate: int) -> None:
    """PATCH pod statuses at `rate` a second, round the pods, until cancelled."""
    i = 0
    while True:
        started = time.perf_counter()
        await asyncio.gather(*(client.patch(PODS, f"pod-{(i + k) % pods}", RUNNING,
                                            namespace=NAMESPACE, subresource="status")
                               for k in range(rate // 10)))
        i += rate // 10
        await asyncio.sleep(max(0.1 - (time.perf_counter() - started), 0))


def _summary(runs: list[tuple[float, list[float]]]) -> dict[str, Any]:
    pages = sorted(p for _s, ps in runs for p in ps)
    return {"seconds": round(statistics.median(s for s, _p in runs), 3),
            "pages": len(runs[0][1]),
            "page_ms_p50": round(pages[len(pages) // 2], 1),
            "page_ms_p99": round(pages[min(int(len(pages) * 0.99), len(pages) - 1)], 1)}


async def measure(server: ApiServer, pods: int, rounds: int, writes: int) -> dict[str, Any]:
    kinds: dict[str, Callable[[ApiClient], Awaitable[tuple[float, list[float]]]]] = {
        "snapshot": lambda c: _paged(c, {}), "store": _store_paged, "unpaged": _unpaged}
    out: dict[str, Any] = {"pods": pods, "page_size": PAGE, "rounds": rounds}
    async with connected(server) as client, connected(server) as writes_client:
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                         "metadata": {"name": NAMESPACE}})
        await for_each(range(pods), lambda i: client.create(
            PODS, pod(i, 100), namespace=NAMESPACE), concurrency=IN_FLIGHT)
        for load in ("quiet", "writes"):
            writer = asyncio.create_task(_writer(writes_client, pods, writes)) \
                if load == "writes" else None
            runs: dict[str, list[tuple[float, list[float]]]] = {k: [] for k in kinds}
            try:
                for _ in range(rounds):  # interleaved, so drift hits every kind alike
                    for kind, run in kinds.items():
                        await _unpaged(client)  # every pod's JSON made: paging measured
                        runs[kind].append(await run(client))
            finally:
                if writer is not None:
                    writer.cancel()
                    await asyncio.gather(writer, return_exceptions=True)
            result = {k: _summary(v) for k, v in runs.items()}
            result["store_over_snapshot"] = round(
                result["store"]["seconds"] / result["snapshot"]["seconds"], 2)
            result["snapshot_over_unpaged"] = round(
                result["snapshot"]["seconds"] / result["unpaged"]["seconds"], 2)
            out[load if load == "quiet" else f"writes_{writes}_per_s"] = result
    return out


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--pods", type=int, default=30000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writes", type=int, default=200, help="status PATCHes a second")
    parser.add_argument("--etcd", action="store_true", help="over etcd instead of SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kyb-bench-paged-") as tmp:
        base = Path(args.keep_dir or tmp)
        etcd = Etcd(base / "etcd").start() if args.etcd else None
        try:
            server = ApiServer(base / "apiserver",
                               store=etcd.url if etcd else None).start(timeout=60)
            try:
                result = asyncio.run(measure(server, args.pods, args.rounds, args.writes))
            finally:
                server.stop()
        finally:
            if etcd is not None:
                etcd.stop()
    print(json.dumps({"store": "etcd" if args.etcd else "sqlite", **result}, indent=2))


if __name__ == "__main__":
    main()
