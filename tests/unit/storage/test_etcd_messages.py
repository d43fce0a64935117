"""Decoding etcd's gateway watch messages (as etcd 3.4 sends them)."""

from __future__ import annotations

import base64

import pytest

from kybernetes.storage import CompactedError, StorageUnavailable
from kybernetes.storage.etcd import _events

KEY = base64.b64encode(b"/a/1").decode()
V2 = base64.b64encode(b"v2").decode()
HEADER = {"cluster_id": "1", "member_id": "2", "revision": "4", "raft_term": "2"}


def test_put_and_delete_events_with_prev_kv() -> None:
    message = {"result": {"header": HEADER, "events": [
        {"kv": {"key": KEY, "create_revision": "2", "mod_revision": "3", "version": "2",
                "value": V2}},
        {"type": "DELETE", "kv": {"key": KEY, "mod_revision": "4"},
         "prev_kv": {"key": KEY, "create_revision": "2", "mod_revision": "3", "version": "2",
                     "value": V2}},
    ]}}
    put, delete = _events(message, 2)
    assert (put.type, put.kv.key, put.kv.value, put.kv.mod_revision) == ("PUT", "/a/1", b"v2", 3)
    assert put.prev_kv is None
    assert delete.type == "DELETE" and delete.kv.value == b"v2"
    assert (delete.kv.create_revision, delete.kv.mod_revision) == (2, 4)
    assert delete.prev_kv is not None and delete.prev_kv.mod_revision == 3


def test_created_message_has_no_events() -> None:
    assert _events({"result": {"header": HEADER, "created": True}}, 0) == []


def test_compacted_start_raises_with_the_compact_revision() -> None:
    message = {"result": {"header": HEADER, "canceled": True, "compact_revision": "3"}}
    with pytest.raises(CompactedError) as info:
        _events(message, 2)
    assert (info.value.revision, info.value.compacted_revision) == (2, 3)


@pytest.mark.parametrize("message", [
    {"result": {"header": HEADER, "canceled": True, "cancel_reason": "gone"}},
    {"error": {"grpc_code": 14, "message": "unavailable"}},
])
def test_cancelled_or_failed_watch_is_unavailable(message: dict) -> None:
    with pytest.raises(StorageUnavailable):
        _events(message, 1)
