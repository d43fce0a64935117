"""Raw store throughput: creates/s (64 concurrent writers), gets/s, list of 10,000 keys.

Run from the repo root: ``.venv/bin/python bench/storage_raw.py [--creates N]``.
Prints one JSON object: per backend (sqlite, and etcd if it is installed, started
here in a temporary directory) the figures - and how long a watcher of the creates
still needed to see the last of them after the last create was acknowledged -
plus this machine's baseline measured in the same run, so each figure can be read
as a ratio:

- ``baseline.sqlite_commits_per_s``: one INSERT + COMMIT at a time on a bare
  sqlite3 connection in WAL mode (what a store without group commit could do);
- ``baseline.python_mops``: millions of trivial Python loop steps per second.

The functions are importable (``measure``, ``bench_sqlite``, ``bench_etcd``,
``baseline``) so other benchmarks can reuse the raw figures as their baselines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.support.etcd

from kybernetes.storage import Store, open_store  # noqa: E402

VALUE = b"x" * 2048  # about one pod object


async def _concurrently(count: int, concurrency: int, op: Any) -> float:
    """Run `op(i)` for i in range(count) with `concurrency` workers; ops/s."""
    counter = iter(range(count))

    async def worker() -> None:
        for i in counter:
            await op(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - started)


async def _count_events(watch: Any, count: int) -> None:
    seen = 0
    async for batch in watch:
        seen += len(batch)
        if seen >= count:
            return


async def measure(store: Store, *, creates: int = 20_000, concurrency: int = 64,
                  list_keys: int = 10_000) -> dict[str, float]:
    """The raw figures of one started store (keys under /bench/)."""
    async def create(i: int) -> None:
        assert (await store.create(f"/bench/c/{i:08d}", VALUE)).succeeded

    async def get(i: int) -> None:
        assert (await store.get(f"/bench/c/{i % creates:08d}"))[1] is not None

    watch = store.watch("/bench/c/", start_revision=await store.current_revision() + 1)
    watched = asyncio.create_task(_count_events(watch, creates))
    creates_per_s = await _concurrently(creates, concurrency, create)
    started = time.perf_counter()
    await watched
    watch_lag = time.perf_counter() - started
    await watch.aclose()
    gets_per_s = await _concurrently(creates, concurrency, get)

    async def fill(i: int) -> None:
        await store.create(f"/bench/l/{i:08d}", VALUE)

    await _concurrently(list_keys, concurrency, fill)
    started = time.perf_counter()
    result = await store.list("/bench/l/")
    list_seconds = time.perf_counter() - started
    assert len(result.kvs) == list_keys
    return {"creates_per_s": round(creates_per_s), "gets_per_s": round(gets_per_s),
            f"list_{list_keys}_s": round(list_seconds, 4),
            "watch_lag_after_creates_s": round(watch_lag, 4)}


async def _run(url: str, **kwargs: Any) -> dict[str, float]:
    store = open_store(url)
    await store.start()
    try:
        return await measure(store, **kwargs)
    finally:
        await store.aclose()


def bench_sqlite(directory: Path, **kwargs: Any) -> dict[str, float]:
    return asyncio.run(_run(f"sqlite://{directory}/bench.db", **kwargs))


def bench_etcd(directory: Path, **kwargs: Any) -> dict[str, float] | None:
    """The figures on a fresh etcd, or None when etcd is not installed."""
    from tests.support.etcd import Etcd, etcd_available
    if not etcd_available():
        return None
    etcd = Etcd(directory).start()
    try:
        return asyncio.run(_run(etcd.url, **kwargs))
    finally:
        etcd.stop()


def baseline(directory: Path, *, rows: int = 3000) -> dict[str, float]:
    """This machine's speed, measured now (see the module docstring)."""
    conn = sqlite3.connect(directory / "baseline.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, value BLOB)")
    started = time.perf_counter()
    for i in range(rows):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (name, value) VALUES (?, ?)", (str(i), VALUE))
        conn.execute("COMMIT")
    commits = rows / (time.perf_counter() - started)
    conn.close()
    started = time.perf_counter()
    total = 0
    for i in range(3_000_000):
        total += i
    mops = 3 / (time.perf_counter() - started)
    return {"sqlite_commits_per_s": round(commits), "python_mops": round(mops, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=20_000)
    parser.add_argument("--list-keys", type=int, default=10_000)
    parser.add_argument("--no-etcd", action="store_true")
    args = parser.parse_args()
    sizes = {"creates": args.creates, "list_keys": args.list_keys}
    with tempfile.TemporaryDirectory(prefix="kyb-bench-") as tmp:
        base = Path(tmp)
        for name in ("baseline", "sqlite", "etcd"):
            (base / name).mkdir()
        report: dict[str, Any] = {
            "bench": "storage_raw", "cpus": os.cpu_count(), "concurrency": 64,
            "value_bytes": len(VALUE), **sizes,
            "baseline": baseline(base / "baseline"),
            "sqlite": bench_sqlite(base / "sqlite", **sizes),
        }
        if not args.no_etcd:
            report["etcd"] = bench_etcd(base / "etcd", **sizes)
    b = report["baseline"]["sqlite_commits_per_s"]
    report["sqlite"]["creates_vs_baseline_commits"] = round(
        report["sqlite"]["creates_per_s"] / b, 2)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
