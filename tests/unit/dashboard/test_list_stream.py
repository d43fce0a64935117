"""A list parsed as it arrives: every item once, in order, whatever the chunking, and
a cut only where an item really ends."""

from __future__ import annotations

import gc
from typing import Any

import orjson
import pytest

from kybernetes.dashboard import list_stream
from kybernetes.dashboard.list_stream import ListStream


def _pod(i: int) -> dict[str, Any]:
    # an owner reference and a string that look like an item's start, to mislead a cut
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"p{i}", "annotations": {"a": ',{"apiVersion":"v1"} ]}'},
                         "ownerReferences": [{"apiVersion": "v1", "kind": "RC", "name": "a"},
                                             {"apiVersion": "v1", "kind": "RC", "name": "b"}]},
            "spec": {"containers": [{"name": "c"}, {"name": "d"}]}}


def _feed(body: bytes, size: int) -> tuple[int, dict[str, Any]]:
    stream, early = ListStream(), []
    for at in range(0, len(body), size):
        stream.feed(body[at:at + size])
        early += stream.take()
    listed = stream.finish()
    if early:
        listed["items"] = early + listed["items"]
    return len(early), listed


@pytest.mark.parametrize("size", [1, 7, 4096, 1 << 20])  # the last: all in one chunk
def test_items_come_early_once_and_in_order(monkeypatch: pytest.MonkeyPatch,
                                            size: int) -> None:
    monkeypatch.setattr(list_stream, "BATCH_BYTES", 2048)
    listed = {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "42"},
              "items": [_pod(i) for i in range(200)]}
    body = orjson.dumps(listed)
    early, got = _feed(body, size)
    assert got == listed
    assert 0 < early < 200


def test_the_head_is_known_before_the_items() -> None:
    stream = ListStream()
    stream.feed(b'{"kind":"PodList","metadata":{"resourceVersion":"7"},"items":[{"a"')
    assert stream.head() == {"kind": "PodList", "metadata": {"resourceVersion": "7"}}


@pytest.mark.parametrize("body", [
    b'{"kind":"PodList","metadata":{},"items":[]}',
    b'{"kind":"Status","code":403,"message":"forbidden"}',
    b'{"metadata":{"resourceVersion":"5"},"items":[{"a":1},{"a":2}],"extra":true}',
])
def test_anything_else_is_parsed_whole_at_the_end(body: bytes) -> None:
    assert _feed(body, 3)[1] == orjson.loads(body)


def test_the_collector_comes_back_after_the_last_of_overlapping_pauses() -> None:
    assert gc.isenabled()
    first, second = list_stream.gc_paused(), list_stream.gc_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()
    second.__exit__(None, None, None)
    assert gc.isenabled()
    gc.disable()  # someone else's pause is left alone
    try:
        with list_stream.gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
