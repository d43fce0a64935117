"""The work queue: dedup, one holder per key, delays and back-off."""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.client.worker import run_workers
from kybernetes.client.workqueue import RateLimiter, WorkQueue


async def test_adding_a_waiting_key_twice_queues_it_once() -> None:
    q = WorkQueue()
    q.add("a")
    q.add("b")
    q.add("a")
    assert len(q) == 2
    assert await q.get() == "a"
    assert await q.get() == "b"


async def test_key_added_while_processing_waits_for_done() -> None:
    q = WorkQueue()
    q.add("a")
    key = await q.get()
    assert key is not None
    q.add("a")
    assert len(q) == 0  # held by a worker: only marked dirty
    q.done(key)
    assert len(q) == 1
    assert await q.get() == "a"


async def test_two_workers_never_hold_one_key() -> None:
    q = WorkQueue()
    holding: set[str] = set()
    overlaps = []
    calls = 0

    async def sync(key: str) -> None:
        nonlocal calls
        calls += 1
        if key in holding:
            overlaps.append(key)
        holding.add(key)
        await asyncio.sleep(0.002)
        q.add(key)  # an event arrives while we hold it
        holding.discard(key)
        if calls >= 40:
            q.shutdown()

    for k in ("a", "b", "a"):
        q.add(k)
    await asyncio.wait_for(run_workers(q, sync, workers=4), 5)
    assert overlaps == []
    assert calls >= 40


async def test_get_waits_for_an_add() -> None:
    q = WorkQueue()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0.01)
    assert not getter.done()
    q.add("x")
    assert await asyncio.wait_for(getter, 1) == "x"


async def test_shutdown_wakes_waiting_getters() -> None:
    q = WorkQueue()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.shutdown()
    assert await asyncio.wait_for(getter, 1) is None
    q.add("late")
    assert len(q) == 0


async def test_cancelled_getter_passes_its_wakeup_on() -> None:
    q = WorkQueue()
    first = asyncio.create_task(q.get())
    second = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.add("x")
    first.cancel()
    got = await asyncio.wait_for(second, 1)
    assert got == "x"


async def test_add_after_delays_and_keeps_the_earliest_time() -> None:
    q = WorkQueue()
    loop = asyncio.get_running_loop()
    start = loop.time()
    q.add_after("k", 5)
    q.add_after("k", 0.03)
    q.add_after("k", 10)
    assert len(q) == 0
    assert await asyncio.wait_for(q.get(), 1) == "k"
    elapsed = loop.time() - start
    assert 0.025 <= elapsed < 1


def test_rate_limiter_doubles_from_5ms_and_caps_at_1000s() -> None:
    r = RateLimiter()
    delays = [r.when("k") for _ in range(20)]
    assert delays[:4] == pytest.approx([0.005, 0.01, 0.02, 0.04])
    assert delays[-1] == 1000
    assert r.when("other") == pytest.approx(0.005)
    r.forget("k")
    assert r.when("k") == pytest.approx(0.005)
    for _ in range(200):
        r.when("k")
    assert r.when("k") == 1000


async def test_failed_sync_is_retried_and_success_forgets_backoff() -> None:
    q = WorkQueue()
    attempts: list[str] = []

    async def sync(key: str) -> None:
        attempts.append(key)
        if len(attempts) < 3:
            raise RuntimeError("not yet")
        q.shutdown()

    q.add("k")
    await asyncio.wait_for(run_workers(q, sync, workers=2), 2)
    assert attempts == ["k", "k", "k"]
    assert q.num_requeues("k") == 0
