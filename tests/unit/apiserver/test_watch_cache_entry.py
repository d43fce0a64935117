"""A cached object is kept as its stored bytes until something reads it."""

from __future__ import annotations

import orjson

from kybernetes.api.fields import field_getter, parse_field_selector
from kybernetes.api.labels import parse_selector
from kybernetes.apiserver.lists import ListQuery
from kybernetes.apiserver.watch_cache import DecodedObjects, Entry, WatchCache
from kybernetes.storage.interface import Event, KeyValue


def test_a_stored_value_is_decoded_on_first_read_with_its_revision() -> None:
    stored = orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "a", "namespace": "ns"}, "data": {"k": "v"}})
    entry = Entry.of(KeyValue("/registry/configmaps/ns/a", stored, 5, 7))

    obj = entry.obj

    assert obj["metadata"] == {"name": "a", "namespace": "ns", "resourceVersion": "7"}
    assert entry.obj is obj  # decoded once
    assert orjson.loads(entry.raw) == obj


def _pod(name: str, node: str) -> KeyValue:
    stored = orjson.dumps({"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": name, "namespace": "ns", "labels": {"app": name}},
                           "spec": {"nodeName": node}})
    return KeyValue(f"/registry/pods/ns/{name}", stored, 3, 3)


def test_only_the_most_recently_read_dicts_are_kept_and_the_rest_decode_again() -> None:
    decoded = DecodedObjects(capacity=2)
    a, b, c = (Entry.of(_pod(n, "n1"), decoded) for n in "abc")
    # a read, then b, then a again (the most recent), then c: over capacity, b (the
    # least recently read) lets go of its dict
    first_a, _, again_a, _ = a.obj, b.obj, a.obj, c.obj

    assert again_a is first_a
    assert b._obj is None and c._obj is not None
    again = b.obj  # decoded again from its JSON bytes, the same object
    assert again == {**orjson.loads(_pod("b", "n1").value),
                     "metadata": {**again["metadata"], "resourceVersion": "3"}}
    assert a._obj is None and c._obj is not None  # b's decode pushed out a


def test_selectors_match_on_kept_labels_and_fields_without_the_dict() -> None:
    decoded = DecodedObjects(capacity=1)
    entry, other = Entry.of(_pod("a", "n1"), decoded), Entry.of(_pod("b", "n2"), decoded)
    node_name = {"spec.nodeName": field_getter("spec", "nodeName")}
    query = ListQuery(labels=parse_selector("app=a"),
                      fields=parse_field_selector("spec.nodeName=n1", node_name))
    assert query.matches(entry)
    assert not query.matches(other)  # reading b pushed a's dict out
    assert entry._obj is None
    assert query.matches(entry) and entry._obj is None  # kept fields: no decode


def test_a_namespace_is_a_span_of_the_sorted_keys_and_remaining_counts_after_a_key() -> None:
    """entries(namespace prefix) and count_after (a page's remainingItemCount) come from
    the sorted keys, with keys added and deleted since they were last sorted."""
    cache = WatchCache(store=None).for_prefix("/registry/pods/")  # type: ignore[arg-type]
    names = [("a", "p1"), ("a", "p2"), ("b", "p1"), ("c", "p1"), ("c", "p2"), ("c", "p3")]
    for i, (ns, name) in enumerate(names, start=1):
        stored = orjson.dumps({"metadata": {"name": name, "namespace": ns}})
        cache.apply(Event("PUT", KeyValue(f"/registry/pods/{ns}/{name}", stored, i, i)))

    assert [e.key for e in cache.entries("/registry/pods/c/")] == [
        "/registry/pods/c/p1", "/registry/pods/c/p2", "/registry/pods/c/p3"]
    assert cache.entries("/registry/pods/bb/") == []
    assert cache.count_after("/registry/pods/", "/registry/pods/b/p1") == 3
    assert cache.count_after("/registry/pods/c/", "/registry/pods/c/p1") == 2
    assert cache.count_after("/registry/pods/a/", "/registry/pods/a/p2") == 0

    gone = KeyValue("/registry/pods/c/p2", b"{}", 5, 7)
    cache.apply(Event("DELETE", gone))
    cache.apply(Event("PUT", KeyValue("/registry/pods/b/p0", b'{"metadata": {}}', 8, 8)))
    assert cache.count_after("/registry/pods/", "/registry/pods/b/p0") == 3
    assert [e.key for e in cache.entries("/registry/pods/b/")] == [
        "/registry/pods/b/p0", "/registry/pods/b/p1"]
    # keys that came and went between two reads leave the order as the objects are
    cache.apply(Event("PUT", KeyValue("/registry/pods/d/brief", b"{}", 9, 9)))
    cache.apply(Event("DELETE", KeyValue("/registry/pods/d/brief", b"{}", 9, 10)))
    cache.apply(Event("DELETE", KeyValue("/registry/pods/a/p1", b"{}", 1, 11)))
    cache.apply(Event("PUT", KeyValue("/registry/pods/a/p1", b"{}", 12, 12)))
    assert [e.key for e in cache.entries("/registry/pods/")] == sorted(cache.objects)
    assert len(cache.objects) == 6
