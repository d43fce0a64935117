"""Readers waiting for the watch cache to reach a revision (consistent lists, rv=X
reads and watches): woken when it passes theirs, and a timeout is a timeout however
many others wait."""

from __future__ import annotations

import asyncio
import time

from kybernetes.apiserver.watch_cache import WatchCache
from kybernetes.storage.interface import Event, KeyValue


def put(revision: int) -> Event:
    return Event("PUT", KeyValue(f"/registry/configmaps/ns/cm{revision}", b"{}", revision,
                                 revision))


async def test_a_waiter_is_woken_when_the_cache_passes_its_revision() -> None:
    cache = WatchCache(store=None)  # type: ignore[arg-type]
    cache._apply([put(5)])
    assert await cache.wait_for(5, 0.01)
    waiting = asyncio.create_task(cache.wait_for(7, 5.0))
    await asyncio.sleep(0)
    cache._apply([put(6)])
    await asyncio.sleep(0)
    assert not waiting.done()
    cache._apply([put(7)])
    assert await waiting


async def test_timeouts_hold_with_thousands_waiting() -> None:
    cache = WatchCache(store=None)  # type: ignore[arg-type]
    started = time.monotonic()
    results = await asyncio.gather(*(cache.wait_for(100, 0.2) for _ in range(3000)))
    assert not any(results)
    assert time.monotonic() - started < 2.0
    assert len(cache._waiters) <= 1000  # the timed-out ones were let go
    late = asyncio.create_task(cache.wait_for(3, 5.0))
    await asyncio.sleep(0)
    cache._apply([put(1), put(2), put(3)])
    assert await late
