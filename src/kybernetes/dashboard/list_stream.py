"""A list response parsed as it arrives: its items in batches before the body ends.

A 10,000-pod list is ~30 MB of JSON. Parsed in one piece, nothing reaches the browser
until its last byte has arrived and the whole tree is built (and the process holds
all of it at once). Cut at item boundaries as chunks arrive, each batch is parsed,
projected and sent while the API server is still writing the rest.

A list is ``{…,"metadata":{…},"items":[ITEM,ITEM,…]}`` (Kubernetes writes its items
last). Items of one list start alike, so the first item's opening (up to its first
key's value, e.g. ``{"metadata":{`` or ``{"apiVersion":"``) after a comma marks where
an item may start. That is only a guess (the same bytes could sit inside an item): a
cut is taken only if ``[`` + the bytes before it + ``]`` parse, which a cut inside an
item or a string never does (its brace or quote stays open). A failed guess waits for
more bytes. The rest is parsed with the list's head at the end, which gives the
list's metadata and last items: at worst the whole body is parsed once at the end.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from typing import Any

import orjson

ITEMS = b'"items":['
BATCH_BYTES = 1 << 20  # try a cut once this much is waiting: ~300 pods
GUESSES = 3  # candidate cuts tried, latest first, before waiting for more bytes


_pauses = 0


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic collector off meanwhile (nested and overlapping pauses allowed): building
    big trees of dicts sets off collection after collection, each walking the objects
    made so far (30 MB of pods parsed take 0.75 s of CPU so, 0.17 s without). Parsed
    documents and their projections hold no cycles; a pause ends with the last list."""
    global _pauses
    if not _pauses and not gc.isenabled():  # turned off by someone else: theirs to turn on
        yield
        return
    _pauses += 1
    gc.disable()
    try:
        yield
    finally:
        _pauses -= 1
        if not _pauses:
            gc.enable()


def loads(data: bytes | bytearray) -> Any:
    """orjson.loads with the cyclic collector paused."""
    with gc_paused():
        return orjson.loads(data)


class ListStream:
    """Feed the body's chunks; take the items parsed so far; `finish` at the end."""

    def __init__(self) -> None:
        self._head: bytes | None = None  # up to and including `"items":[`
        self._start: bytes | None = None  # how an item begins, after a comma
        self._pending = bytearray()  # not yet parsed; starts at an item's start
        self._whole: bytearray | None = None  # the whole body, when it cannot be cut
        self.items: list[dict[str, Any]] = []

    def head(self) -> dict[str, Any] | None:
        """The list without its items (kind, metadata with its resourceVersion), once
        that much has arrived."""
        if self._head is None:
            return None
        listed: dict[str, Any] = orjson.loads(self._head + b"]}")
        del listed["items"]
        return listed

    def feed(self, chunk: bytes) -> None:
        if self._whole is not None:
            self._whole += chunk
            return
        self._pending += chunk
        if self._head is None and not self._find_head():
            return
        if self._start is None and not self._find_start():
            return
        if len(self._pending) >= BATCH_BYTES:
            self._cut()

    def take(self) -> list[dict[str, Any]]:
        """The items parsed since the last take."""
        items, self.items = self.items, []
        return items

    def finish(self) -> dict[str, Any]:
        """The list as one object: its metadata and the items not yet taken."""
        if self._whole is not None or self._head is None:
            listed: dict[str, Any] = loads(self._whole or self._pending)
        else:
            listed = loads(self._head + self._pending)
            listed["items"] = self.take() + (listed.get("items") or [])
        self._pending, self._whole = bytearray(), None
        return listed

    def _find_head(self) -> bool:
        at = self._pending.find(ITEMS)
        if at < 0:
            if len(self._pending) > 64 * 1024:  # not a list as we know it: parse at the end
                self._whole, self._pending = self._pending, bytearray()
            return False
        head = bytes(self._pending[:at + len(ITEMS)])
        try:
            orjson.loads(head + b"]}")
        except orjson.JSONDecodeError:
            self._whole, self._pending = self._pending, bytearray()
            return False
        self._head = head
        del self._pending[:at + len(ITEMS)]
        return True

    def _find_start(self) -> bool:
        colon = self._pending.find(b":")
        if colon < 0 or colon + 1 >= len(self._pending) or self._pending[:2] != b'{"':
            return False
        self._start = b"," + bytes(self._pending[:colon + 2])
        return True

    def _cut(self) -> None:
        assert self._start is not None
        end = len(self._pending)
        for _ in range(GUESSES):
            at = self._pending.rfind(self._start, 1, end)
            if at < 0:
                return
            try:
                batch = loads(b"[" + self._pending[:at] + b"]")
            except orjson.JSONDecodeError:
                end = at
                continue
            self.items.extend(batch)
            del self._pending[:at + 1]
            return
