"""A consistent read waits for the watch cache to reach the store's revision: a write
outside /registry/ (an API server's /masterleases/ key, renewed every 10 s) must move
the cache's revision too, or every consistent LIST waits out its whole 1 s until some
object changes."""

from __future__ import annotations

import time
from pathlib import Path

from kybernetes.apiserver.endpoint_leases import PREFIX as MASTER_LEASES
from kybernetes.apiserver.watch_cache import WatchCache
from kybernetes.storage import open_store


async def test_a_write_outside_the_registry_keeps_the_cache_fresh(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/state.db")
    await store.start()
    cache = WatchCache(store)
    try:
        await store.create("/registry/configmaps/default/a", b'{"metadata":{"name":"a"}}')
        await cache.start()
        lease = await store.create(f"{MASTER_LEASES}127.0.0.1:6443", b"{}")
        started = time.monotonic()
        assert await cache.wait_fresh(wait=3.0)
        assert time.monotonic() - started < 0.5
        assert cache.revision == lease.revision
        assert set(cache.caches) == {"/registry/configmaps/"}  # no cache for the lease
    finally:
        await cache.aclose()
        await store.aclose()
