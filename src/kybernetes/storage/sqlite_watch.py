"""Watches on the SQLite store: replay from the log, then live, in-process fan-out.

This process is the store's only writer, so every committed event passes
through :meth:`WatchHub.publish` (on the event loop, after commit, in revision
order) and no polling is needed. A watch that starts in the past first replays
the log from SQLite, then continues with the live events it buffered meanwhile.

No gap and no duplicate: a watcher registers with the hub *before* it reads the
log. An event committed after the log snapshot is published after the
registration, so it reaches the buffer; one already in the snapshot may reach
the buffer too, and is skipped because its revision is below the watcher's
next revision.

A watcher that falls too far behind (``MAX_BUFFER`` events) is not dropped: its
buffer is thrown away and it replays from the log again, where it left off, as
etcd resyncs its slow watchers from the database.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

from kybernetes.storage.interface import Event
from kybernetes.storage.keys import by_revision

MAX_BUFFER = 10_000  # events; a watcher further behind reads the log instead
REPLAY_CHUNK = 1000

# read_log(prefix, from_revision, upto_revision, limit) -> (events, upto, complete):
# events under prefix in [from_revision, upto] (upto 0 = the current revision),
# at most limit, in revision order; raises CompactedError for a compacted start.
ReadLog = Callable[[str, int, int, int], Awaitable[tuple[list[Event], int, bool]]]


class WatchHub:
    """The set of live watchers, fed every committed event on the loop."""

    def __init__(self, revision: int) -> None:
        self.revision = revision  # the newest revision published
        self._watchers: set[SqliteWatch] = set()
        self._closed = False

    def add(self, watch: SqliteWatch) -> None:
        if self._closed:  # the store is closed: the watch ends at once
            watch.close()
        else:
            self._watchers.add(watch)

    def discard(self, watch: SqliteWatch) -> None:
        self._watchers.discard(watch)

    def publish(self, events: list[Event]) -> None:
        self.revision = events[-1].kv.mod_revision
        for watch in tuple(self._watchers):
            watch.offer(events)

    def close(self) -> None:
        self._closed = True
        for watch in tuple(self._watchers):
            watch.close()
        self._watchers.clear()


class SqliteWatch:
    """One watch: an async iterator of event batches under a prefix.

    A plain iterator object rather than an async generator, so that a caller
    may cancel a ``__anext__`` (a timeout, a bookmark tick) and go on iterating
    without losing an event: all state lives on the object, and a read of the
    log that is cancelled is simply done again.
    """

    def __init__(self, hub: WatchHub, read_log: ReadLog, prefix: str, start_revision: int
                 ) -> None:
        self._hub = hub
        self._read_log = read_log
        self._prefix = prefix
        self._next = start_revision  # the next revision to hand out; 0 = from now
        self._registered = False
        self._buffer: deque[Event] = deque()  # live events from the hub
        self._ready: deque[list[Event]] = deque()  # batches to hand out, in order
        self._replaying = start_revision > 0
        self._replay_upto = 0  # the log snapshot's revision while replaying
        self._overflowed = False
        self._closed = False
        self._wakeup = asyncio.Event()

    def __aiter__(self) -> SqliteWatch:
        return self

    async def __anext__(self) -> list[Event]:
        if not self._registered:
            self._registered = True
            if not self._closed:
                self._hub.add(self)
            if self._next <= 0:
                self._next = self._hub.revision + 1
        while not self._closed:
            if self._ready:
                return self._ready.popleft()
            if self._replaying:
                await self._replay_chunk()
                continue
            self._queue(e for e in self._buffer if e.kv.mod_revision >= self._next)
            self._buffer.clear()
            if self._ready:
                continue
            if self._overflowed:
                self._replaying = True
                continue
            self._wakeup.clear()
            await self._wakeup.wait()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        self._hub.discard(self)
        self._wakeup.set()

    def offer(self, events: list[Event]) -> None:
        """Called by the hub on the loop: keep the events under our prefix."""
        prefix = self._prefix
        matched = [e for e in events if e.kv.key.startswith(prefix)]
        if not matched:
            return
        if len(self._buffer) + len(matched) > MAX_BUFFER:
            self._buffer.clear()
            self._overflowed = True
        else:
            self._buffer.extend(matched)
        self._wakeup.set()

    async def _replay_chunk(self) -> None:
        """Read the next chunk of the log (the first read fixes the snapshot)."""
        if self._replay_upto == 0:  # a new replay: what is buffered is in the log
            self._buffer.clear()
            self._overflowed = False
        events, upto, complete = await self._read_log(
            self._prefix, self._next, self._replay_upto, REPLAY_CHUNK)
        self._replay_upto = upto
        self._queue(events)
        if complete or not events:
            self._next = max(self._next, upto + 1)
            self._replaying = False
            self._replay_upto = 0

    def _queue(self, events: Iterable[Event]) -> None:
        for batch in by_revision(list(events)):
            self._ready.append(batch)
            self._next = batch[-1].kv.mod_revision + 1
