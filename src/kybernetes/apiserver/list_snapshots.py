"""Snapshots of a resource's cache for paged lists, as Kubernetes' ListFromCacheSnapshot.

A paged LIST (``limit``, then ``continue``) must show every page at the revision of
its first one. Read from the store, each page is a range query at that revision: at
150,000 pods the 300 pages kubectl asks for took minutes under load. Instead the first
page, when the watch cache is fresh, takes a snapshot of the cache: the keys under the
list's prefix in order and their entries (references only: an entry is immutable).
Later pages come from it by bisection.

Snapshots are few and short-lived: at most `MAX_SNAPSHOTS` per resource, each dropped
once its list has been read to the end, or once the cache's event history no longer
reaches back to its revision (so a snapshot never pins more old entries than the
history already does). A continue token without a snapshot (another API server's, or
an older one) is served from the store as before, and is 410 Gone once compacted.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kybernetes.apiserver.watch_cache import Entry

MAX_SNAPSHOTS = 8


@dataclass(frozen=True)
class ListSnapshot:
    """The entries under `prefix` at `revision`, in key order."""

    prefix: str
    revision: int
    entries: list[Entry]

    def page(self, start_after: str, limit: int, matches: Callable[[Entry], bool] | None
             ) -> tuple[list[Entry], int]:
        """Up to `limit` entries after the key `start_after` ("" from the first) that
        `matches` selects (all if None), and the index the next page starts from."""
        entries = self.entries
        i = bisect_right(entries, start_after, key=_key) if start_after else 0
        if matches is None:
            end = min(i + limit, len(entries))
            return entries[i:end], end
        items: list[Entry] = []
        while i < len(entries) and len(items) < limit:
            if matches(entries[i]):
                items.append(entries[i])
            i += 1
        return items, i


def _key(entry: Entry) -> str:
    return entry.key


class ListSnapshots:
    """The snapshots of one resource's cache, by (prefix, revision), oldest first."""

    def __init__(self) -> None:
        self._by_key: OrderedDict[tuple[str, int], ListSnapshot] = OrderedDict()
        self._oldest = 0  # the lowest revision kept, for a cheap check on every change

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, prefix: str, revision: int) -> ListSnapshot | None:
        found = self._by_key.get((prefix, revision))
        if found is not None:
            self._by_key.move_to_end((prefix, revision))
        return found

    def keep(self, snapshot: ListSnapshot) -> None:
        self._by_key[(snapshot.prefix, snapshot.revision)] = snapshot
        while len(self._by_key) > MAX_SNAPSHOTS:
            self._by_key.popitem(last=False)
        self._oldest = min(s.revision for s in self._by_key.values())

    def done(self, snapshot: ListSnapshot) -> None:
        """The list has been read to its end: its snapshot is not needed again."""
        self._by_key.pop((snapshot.prefix, snapshot.revision), None)

    def forget_before(self, revision: int) -> None:
        """Drop the snapshots older than `revision` (the cache's oldest history)."""
        if not self._by_key or self._oldest >= revision:
            return
        for key in [k for k in self._by_key if k[1] < revision]:
            del self._by_key[key]
        self._oldest = min((s.revision for s in self._by_key.values()), default=0)

    def clear(self) -> None:
        self._by_key.clear()
        self._oldest = 0
