"""A cached object is kept as its stored bytes until something reads it."""

from __future__ import annotations

import orjson

from kybernetes.apiserver.watch_cache import Entry
from kybernetes.storage.interface import KeyValue


def test_a_stored_value_is_decoded_on_first_read_with_its_revision() -> None:
    stored = orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "a", "namespace": "ns"}, "data": {"k": "v"}})
    entry = Entry.of(KeyValue("/registry/configmaps/ns/a", stored, 5, 7))

    obj = entry.obj

    assert obj["metadata"] == {"name": "a", "namespace": "ns", "resourceVersion": "7"}
    assert entry.obj is obj  # decoded once
    assert orjson.loads(entry.raw) == obj
