"""Key ranges and event batches, shared by the backends.

Keys are strings compared as their UTF-8 bytes (etcd's order, and SQLite's
BINARY collation). A prefix is the half-open range ``[prefix, prefix_end(prefix))``,
as etcd's ``WithPrefix``; the empty prefix means every key.
"""

from __future__ import annotations

from kybernetes.storage.interface import Event


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with `prefix`;
    None when there is none (the empty prefix: every key).

    Code point order equals UTF-8 byte order, so bumping the last code point that
    can be bumped is the string form of etcd's byte increment.
    """
    chars = list(prefix)
    while chars:
        last = ord(chars[-1])
        if last < 0x10FFFF:
            nxt = last + 1
            if 0xD800 <= nxt <= 0xDFFF:  # surrogates are not characters
                nxt = 0xE000
            chars[-1] = chr(nxt)
            return "".join(chars)
        chars.pop()
    return None


def prefix_end_bytes(prefix: bytes) -> bytes:
    """etcd's range_end for a prefix: the last byte below 0xff incremented;
    ``b"\\0"`` (every key) when there is none."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"


def by_revision(events: list[Event]) -> list[list[Event]]:
    """Split events (in revision order) into batches that share one revision."""
    batches: list[list[Event]] = []
    for event in events:
        if batches and batches[-1][-1].kv.mod_revision == event.kv.mod_revision:
            batches[-1].append(event)
        else:
            batches.append([event])
    return batches
