"""Paged lists from snapshots of the watch cache: pages by bisection, the snapshots
bounded and dropped once read through or older than the cache's history."""

from __future__ import annotations

import orjson

from kybernetes.apiserver import list_snapshots
from kybernetes.apiserver.list_snapshots import ListSnapshot, ListSnapshots
from kybernetes.apiserver.watch_cache import Entry, WatchCache
from kybernetes.storage.interface import Event, KeyValue

PODS = "/registry/pods/"


def _put(name: str, rv: int, ns: str = "a") -> Event:
    stored = orjson.dumps({"metadata": {"name": name, "namespace": ns,
                                        "labels": {"odd": str(rv % 2)}}})
    return Event("PUT", KeyValue(f"{PODS}{ns}/{name}", stored, rv, rv))


def test_pages_of_a_snapshot_stay_as_they_were_while_the_cache_changes() -> None:
    cache = WatchCache(store=None).for_prefix(PODS)  # type: ignore[arg-type]
    for rv, name in enumerate(["p1", "p2", "p3", "p4", "p5"], start=1):
        cache.apply(_put(name, rv))
    cache.apply(_put("other", 6, ns="b"))
    snapshot = cache.snapshot(f"{PODS}a/", 6)
    first, end = snapshot.page("", 2, None)
    assert [e.key[-2:] for e in first] == ["p1", "p2"] and end == 2

    cache.apply(Event("DELETE", KeyValue(f"{PODS}a/p3", b"{}", 3, 7)))
    cache.apply(_put("p4", 8))
    cache.apply(_put("p25", 9))
    rest, end = snapshot.page(first[-1].key, 10, None)
    assert [(e.key[-2:], e.rv) for e in rest] == [("p3", 3), ("p4", 4), ("p5", 5)]
    assert end == len(snapshot.entries) == 5

    odd, end = snapshot.page("", 2, lambda e: e.labels["odd"] == "1")
    assert [e.key[-2:] for e in odd] == ["p1", "p3"] and end == 3


def _snapshot(revision: int, prefix: str = PODS) -> ListSnapshot:
    entry = Entry(f"{prefix}x", {}, revision)
    return ListSnapshot(prefix, revision, [entry])


def test_snapshots_are_few_and_go_when_read_through_or_older_than_history() -> None:
    kept = ListSnapshots()
    for revision in range(1, list_snapshots.MAX_SNAPSHOTS + 3):
        kept.keep(_snapshot(revision))
    assert len(kept) == list_snapshots.MAX_SNAPSHOTS
    assert kept.get(PODS, 1) is None and kept.get(PODS, 2) is None  # the oldest went
    assert kept.get(PODS, 3) is not None and kept.get(f"{PODS}a/", 3) is None

    kept.done(_snapshot(3))
    assert kept.get(PODS, 3) is None
    kept.forget_before(6)
    assert [r for r in range(1, 11) if kept.get(PODS, r)] == [6, 7, 8, 9, 10]
    kept.clear()
    assert len(kept) == 0


def test_the_cache_drops_snapshots_its_event_history_no_longer_reaches() -> None:
    cache = WatchCache(store=None, capacity=3).for_prefix(PODS)  # type: ignore[arg-type]
    cache.apply(_put("p1", 1))
    cache.snapshots.keep(cache.snapshot(PODS, 1))
    for rv in (2, 3):
        cache.apply(_put(f"p{rv}", rv))
    assert cache.snapshots.get(PODS, 1) is not None
    cache.apply(_put("p4", 4))  # the ring lets go of revision 1
    assert cache.oldest_rv == 1 and cache.snapshots.get(PODS, 1) is not None
    cache.apply(_put("p5", 5))
    assert cache.snapshots.get(PODS, 1) is None
