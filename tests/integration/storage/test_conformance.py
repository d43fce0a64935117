"""The Store contract, checked against every backend (SQLite and a real etcd)."""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.storage import (
    CompactedError,
    FutureRevisionError,
    StorageUnavailable,
    Store,
    compact_once,
    start_compactor,
)
from kybernetes.tasks import cancel_and_wait
from tests.integration.storage.conftest import collect, quiet


async def test_create_then_get_returns_value_and_revisions(store: Store, p: str) -> None:
    before = await store.current_revision()
    created = await store.create(f"{p}a", b"one")
    assert created.succeeded and created.revision > before
    assert created.kv is not None
    assert (created.kv.create_revision, created.kv.mod_revision) == (created.revision,) * 2
    revision, kv = await store.get(f"{p}a")
    assert revision == created.revision == await store.current_revision()
    assert kv == created.kv and kv.value == b"one"


async def test_get_of_missing_key_is_none_with_revision(store: Store, p: str) -> None:
    await store.create(f"{p}other", b"x")
    revision, kv = await store.get(f"{p}missing")
    assert kv is None and revision == await store.current_revision()


async def test_create_of_existing_key_loses_and_returns_current(store: Store, p: str) -> None:
    first = await store.create(f"{p}a", b"one")
    second = await store.create(f"{p}a", b"two")
    assert not second.succeeded and second.kv == first.kv
    assert second.revision == first.revision  # a lost write bumps nothing
    _, kv = await store.get(f"{p}a")
    assert kv is not None and kv.value == b"one"


async def test_list_prefix_does_not_leak_into_a_longer_sibling(store: Store, p: str) -> None:
    for key in ("a/b/1", "a/b/2", "a/bc/1", "a/b", "a/c/1"):
        await store.create(p + key, key.encode())
    result = await store.list(f"{p}a/b/")
    assert [kv.key for kv in result.kvs] == [f"{p}a/b/1", f"{p}a/b/2"]
    assert not result.more and result.revision == await store.current_revision()
    assert [kv.key for kv in (await store.list(f"{p}a/bc/")).kvs] == [f"{p}a/bc/1"]
    assert await store.count(f"{p}a/") == (result.revision, 5)


async def test_list_pages_with_limit_and_start_after_at_one_revision(store: Store,
                                                                     p: str) -> None:
    keys = [f"{p}k{i:02d}" for i in range(25)]
    for key in reversed(keys):
        await store.create(key, b"v")
    first = await store.list(p, limit=10)
    assert first.more and [kv.key for kv in first.kvs] == keys[:10]
    await store.create(f"{p}k05x", b"later")  # after the first page: not in this list
    await store.delete(keys[15])
    seen = [kv.key for kv in first.kvs]
    page = first
    while page.more:
        page = await store.list(p, revision=first.revision, limit=10,
                                start_after=page.kvs[-1].key)
        assert page.revision == first.revision
        seen += [kv.key for kv in page.kvs]
    assert seen == keys


async def test_list_at_a_revision_sees_the_past(store: Store, p: str) -> None:
    a = await store.create(f"{p}a", b"a1")
    b = await store.create(f"{p}b", b"b1")
    await store.update(f"{p}a", b"a2", mod_revision=a.revision)
    await store.delete(f"{p}b")
    await store.create(f"{p}c", b"c1")
    past = await store.list(p, revision=b.revision)
    assert past.revision == b.revision
    assert [(kv.key, kv.value) for kv in past.kvs] == [(f"{p}a", b"a1"), (f"{p}b", b"b1")]
    now = await store.list(p)
    assert [(kv.key, kv.value) for kv in now.kvs] == [(f"{p}a", b"a2"), (f"{p}c", b"c1")]


async def test_list_at_a_future_revision_raises(store: Store, p: str) -> None:
    await store.create(f"{p}a", b"x")
    with pytest.raises(FutureRevisionError):
        await store.list(p, revision=await store.current_revision() + 100)


async def test_update_is_compare_and_swap(store: Store, p: str) -> None:
    created = await store.create(f"{p}a", b"one")
    won = await store.update(f"{p}a", b"two", mod_revision=created.revision)
    assert won.succeeded and won.kv is not None and won.kv.value == b"two"
    assert won.kv.create_revision == created.revision and won.kv.mod_revision == won.revision
    lost = await store.update(f"{p}a", b"three", mod_revision=created.revision)
    assert not lost.succeeded and lost.kv == won.kv and lost.revision == won.revision
    missing = await store.update(f"{p}nope", b"x", mod_revision=0)
    assert not missing.succeeded and missing.kv is None
    assert (await store.get(f"{p}nope"))[1] is None


async def test_concurrent_updates_of_one_version_have_one_winner(store: Store, p: str) -> None:
    created = await store.create(f"{p}a", b"0")
    results = await asyncio.gather(*(
        store.update(f"{p}a", str(i).encode(), mod_revision=created.revision) for i in range(20)))
    winners = [r for r in results if r.succeeded]
    assert len(winners) == 1
    assert (await store.get(f"{p}a"))[1] == winners[0].kv


async def test_delete_is_guarded_by_mod_revision(store: Store, p: str) -> None:
    created = await store.create(f"{p}a", b"one")
    updated = await store.update(f"{p}a", b"two", mod_revision=created.revision)
    stale = await store.delete(f"{p}a", mod_revision=created.revision)
    assert not stale.succeeded and stale.kv == updated.kv
    deleted = await store.delete(f"{p}a", mod_revision=updated.revision)
    assert deleted.succeeded and deleted.revision > updated.revision
    assert deleted.kv is not None and deleted.kv.value == b"two"
    assert deleted.kv.mod_revision == deleted.revision
    assert (await store.get(f"{p}a"))[1] is None
    again = await store.delete(f"{p}a")
    assert not again.succeeded and again.kv is None and again.revision == deleted.revision


async def test_unguarded_delete_and_create_again(store: Store, p: str) -> None:
    await store.create(f"{p}a", b"one")
    assert (await store.delete(f"{p}a")).succeeded
    recreated = await store.create(f"{p}a", b"two")
    assert recreated.succeeded and recreated.kv is not None
    assert recreated.kv.create_revision == recreated.revision


async def test_every_write_bumps_the_revision_by_one(store: Store, p: str) -> None:
    revisions = []
    for i in range(5):
        result = await store.create(f"{p}{i}", b"v")
        revisions.append(result.revision)
    result = await store.update(f"{p}0", b"w", mod_revision=revisions[0])
    revisions.append(result.revision)
    revisions.append((await store.delete(f"{p}1")).revision)
    assert revisions == list(range(revisions[0], revisions[0] + 7))
    assert await store.current_revision() == revisions[-1]


async def test_watch_from_a_revision_replays_in_order_with_prev_values(store: Store,
                                                                        p: str) -> None:
    a = await store.create(f"{p}a", b"a1")
    a2 = await store.update(f"{p}a", b"a2", mod_revision=a.revision)
    await store.create(f"{p}b", b"b1")
    await store.create("/elsewhere" + p, b"not ours")
    deleted = await store.delete(f"{p}a")
    watch = store.watch(p, start_revision=a.revision)
    try:
        events = await collect(watch, 4)
    finally:
        await watch.aclose()
    assert [(e.type, e.kv.key, e.kv.value) for e in events] == [
        ("PUT", f"{p}a", b"a1"), ("PUT", f"{p}a", b"a2"), ("PUT", f"{p}b", b"b1"),
        ("DELETE", f"{p}a", b"a2")]
    assert events[0].prev_kv is None
    assert events[1].prev_kv is not None and events[1].prev_kv.value == b"a1"
    assert events[3].kv.mod_revision == deleted.revision
    assert events[3].prev_kv is not None and events[3].prev_kv.mod_revision == a2.revision
    revisions = [e.kv.mod_revision for e in events]
    assert revisions == sorted(revisions) and len(set(revisions)) == 4


async def test_watch_continues_live_without_gaps_or_duplicates(store: Store, p: str) -> None:
    first = await store.create(f"{p}0", b"v")
    for i in range(1, 10):
        await store.create(f"{p}{i}", b"v")

    async def writer() -> None:
        for i in range(10, 40):
            await store.create(f"{p}{i}", b"v")

    watch = store.watch(p, start_revision=first.revision)
    writing = asyncio.create_task(writer())  # writes race with the replay
    try:
        events = await collect(watch, 40)
        await writing
        assert await quiet(watch, 0.2) == []
    finally:
        await watch.aclose()
    assert sorted(e.kv.key for e in events) == sorted(f"{p}{i}" for i in range(40))
    assert [e.kv.mod_revision for e in events] == list(
        range(first.revision, first.revision + 40))


async def test_watch_from_the_next_revision_sees_only_new_events(store: Store, p: str) -> None:
    await store.create(f"{p}old", b"v")
    watch = store.watch(p, start_revision=await store.current_revision() + 1)
    try:
        assert await quiet(watch, 0.2) == []
        new = await store.create(f"{p}new", b"v")
        events = await collect(watch, 1)
    finally:
        await watch.aclose()
    assert [(e.kv.key, e.kv.mod_revision) for e in events] == [(f"{p}new", new.revision)]


async def test_many_concurrent_watchers_each_see_every_event(store: Store, p: str) -> None:
    start = await store.current_revision() + 1
    watches = [store.watch(p, start_revision=start) for _ in range(25)]
    try:
        readers = [asyncio.create_task(collect(w, 30)) for w in watches]
        for i in range(30):
            await store.create(f"{p}{i:02d}", str(i).encode())
        results = await asyncio.gather(*readers)
    finally:
        for w in watches:
            await w.aclose()
    expected = [f"{p}{i:02d}" for i in range(30)]
    for events in results:
        assert [e.kv.key for e in events] == expected


async def test_compaction_makes_old_revisions_gone(store: Store, p: str) -> None:
    a = await store.create(f"{p}a", b"a1")
    b = await store.create(f"{p}b", b"b1")
    a2 = await store.update(f"{p}a", b"a2", mod_revision=a.revision)
    await store.delete(f"{p}b")
    c = await store.create(f"{p}c", b"c1")
    await store.compact(a2.revision)
    assert await store.compacted_revision() == a2.revision
    with pytest.raises(CompactedError):
        await store.list(p, revision=b.revision)
    watch = store.watch(p, start_revision=b.revision)
    with pytest.raises(CompactedError):
        await collect(watch, 1)
    await watch.aclose()
    at = await store.list(p, revision=a2.revision)  # the compacted revision itself stays
    assert [(kv.key, kv.value) for kv in at.kvs] == [(f"{p}a", b"a2"), (f"{p}b", b"b1")]
    now = await store.list(p)
    assert [(kv.key, kv.value) for kv in now.kvs] == [(f"{p}a", b"a2"), (f"{p}c", b"c1")]
    watch = store.watch(p, start_revision=a2.revision)
    try:
        events = await collect(watch, 3)
    finally:
        await watch.aclose()
    assert [(e.type, e.kv.key) for e in events] == [
        ("PUT", f"{p}a"), ("DELETE", f"{p}b"), ("PUT", f"{p}c")]
    assert events[-1].kv.mod_revision == c.revision
    await store.compact(a.revision)  # older than done already: nothing happens
    assert await store.compacted_revision() == a2.revision


async def test_compaction_at_a_future_revision_raises(store: Store, p: str) -> None:
    await store.create(f"{p}a", b"x")
    with pytest.raises(FutureRevisionError):
        await store.compact(await store.current_revision() + 10)


async def test_the_empty_prefix_lists_every_key(store: Store, p: str) -> None:
    await store.create(f"{p}a", b"1")
    await store.create("\U0010ffff" * 3 + p, b"2")  # beyond any string bound
    keys = [kv.key for kv in (await store.list("")).kvs]
    assert f"{p}a" in keys and "\U0010ffff" * 3 + p in keys
    assert keys == sorted(keys, key=str.encode)
    assert (await store.count(""))[1] == len(keys)


async def test_the_compactor_keeps_the_newest_revisions(store: Store, p: str) -> None:
    first = await store.create(f"{p}0", b"v")
    for i in range(1, 12):
        await store.create(f"{p}{i}", b"v")
    task = start_compactor(store, interval=0.02, keep=5)
    try:
        async with asyncio.timeout(5):
            while True:  # poll: compaction is not an event anyone can wait on
                if await store.compacted_revision() == first.revision + 11 - 5:
                    break
                await asyncio.sleep(0.02)
    finally:
        await cancel_and_wait(task)
    with pytest.raises(CompactedError):
        await store.list(p, revision=first.revision + 5)
    assert len((await store.list(p, revision=first.revision + 6)).kvs) == 7
    assert await compact_once(store, keep=5) == first.revision + 6  # nothing newer to do


async def test_close_ends_watches_and_refuses_writes(store: Store, p: str) -> None:
    live = store.watch(p, start_revision=0)
    waiting = asyncio.create_task(collect(live, 1))
    await asyncio.sleep(0.05)
    await store.aclose()
    assert await asyncio.wait_for(waiting, 5) == []
    with pytest.raises(StorageUnavailable):
        await store.create(f"{p}a", b"v")
    late = store.watch(p, start_revision=1)
    assert await asyncio.wait_for(collect(late, 1), 5) == []


async def test_large_and_empty_values_round_trip(store: Store, p: str) -> None:
    big = bytes(range(256)) * 2048  # 512 KiB, split over many stream reads
    start = await store.current_revision() + 1
    watch = store.watch(p, start_revision=start)
    try:
        await store.create(f"{p}big", big)
        await store.create(f"{p}empty", b"")
        events = await collect(watch, 2)
    finally:
        await watch.aclose()
    assert [e.kv.value for e in events] == [big, b""]
    _, kv = await store.get(f"{p}big")
    assert kv is not None and kv.value == big
    assert [kv.value for kv in (await store.list(p)).kvs] == [big, b""]
