"""The SQLite store's single writer: one thread, one connection, group commit.

Every write of the process goes through one queue to one thread. The thread
takes whatever is queued (up to ``MAX_BATCH``), applies each write in turn
inside one ``BEGIN IMMEDIATE`` transaction - each still checked on its own, so
a lost compare-and-swap in a batch does not touch its neighbours - and commits
once. Only after the commit are the callers' futures resolved and the events
handed, in revision order, to the loop (``on_commit``): an acknowledged write is
in the WAL, and a watcher never sees a write that could still roll back.

Because this thread is the only writer, it knows the next revision without
asking SQLite, and checks compare-and-swap by reading the key's newest row;
the unique ``(name, prev_revision)`` index stands behind that check.

Compaction runs on this thread too, in chunks of ``COMPACT_CHUNK`` revisions
that go to the back of the queue between chunks, so writes keep flowing while
a large history is deleted.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from kybernetes.storage import sqlite_schema as sql
from kybernetes.storage.errors import FutureRevisionError, StorageUnavailable
from kybernetes.storage.interface import Event, KeyValue, WriteResult

log = logging.getLogger("kybernetes.storage.sqlite")

MAX_BATCH = 1024
COMPACT_CHUNK = 5000
_NEWEST = sys.maxsize
_STOP = object()
_PENDING = object()  # a compaction that goes on in a later batch

OpKind = Literal["create", "update", "delete", "compact"]


@dataclass(slots=True)
class Op:
    """One queued write; `future` belongs to the event loop that submitted it."""

    kind: OpKind
    key: str
    value: bytes
    mod_revision: int
    future: asyncio.Future[Any]
    compact_from: int = -1  # compaction: the next revision to compact (-1: not begun)


class Writer:
    """Owns the write connection and the thread that group-commits writes."""

    def __init__(self, path: str, *, loop: asyncio.AbstractEventLoop,
                 on_commit: Callable[[list[Event]], None]) -> None:
        self._path = path
        self._loop = loop
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._conn: sqlite3.Connection | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self.revision = 0

    def open(self) -> int:
        """Create the schema and start the thread; returns the current revision."""
        conn = sql.connect(self._path)
        for statement in sql.SCHEMA:
            conn.execute(statement)
        self.revision = sql.scalar(conn, sql.CURRENT_REVISION)
        self._conn = conn
        self._thread = threading.Thread(target=self._run, name="kyb-sqlite-writer", daemon=True)
        self._thread.start()
        return self.revision

    def submit(self, kind: OpKind, key: str = "", value: bytes = b"", *,
               mod_revision: int = 0) -> asyncio.Future[Any]:
        """Queue one write; the future resolves after its transaction commits."""
        if self._closed:
            raise StorageUnavailable("the sqlite store is closed")
        future = self._loop.create_future()
        self._queue.put(Op(kind, key, value, mod_revision, future))
        return future

    def close(self) -> None:
        """Finish the queued writes, stop the thread, close the connection."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join()
        if self._conn is not None:
            self._conn.close()
        while True:  # compaction chunks requeued after the stop: fail them
            try:
                op = self._queue.get_nowait()
            except queue.Empty:
                break
            if op is not _STOP:
                self._resolve([op], [StorageUnavailable("the sqlite store is closed")], [])

    # -- the writer thread --------------------------------------------------

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[Op]) -> None:
        assert self._conn is not None
        start_revision = self.revision
        results: list[Any] = []
        events: list[Event] = []
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            for op in batch:
                results.append(self._apply(op, events))
            self._conn.execute("COMMIT")
        except Exception as e:  # every caller must hear of it
            log.error("sqlite write failed", extra={"error": str(e)})
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            self.revision = start_revision
            failure = StorageUnavailable(f"sqlite write failed: {e}")
            self._resolve(batch, [failure] * len(batch), [])
            return
        for op, result in zip(batch, results, strict=True):
            if result is _PENDING and not self._closed:
                self._queue.put(op)
        self._resolve(batch, results, events)

    def _resolve(self, batch: list[Op], results: list[Any], events: list[Event]) -> None:
        try:
            self._loop.call_soon_threadsafe(_deliver, self._on_commit, batch, results, events)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    def _apply(self, op: Op, events: list[Event]) -> Any:
        try:
            if op.kind == "compact":
                return self._compact(op)
            return self._write(op, events)
        except FutureRevisionError as e:
            return e

    def _write(self, op: Op, events: list[Event]) -> WriteResult:
        assert self._conn is not None
        row = self._conn.execute(sql.LATEST, (op.key, _NEWEST)).fetchone()
        current = None if row is None or row[1] else KeyValue(op.key, row[3], row[2], row[0])
        if op.kind == "create":
            if current is not None:
                return WriteResult(self.revision, False, current)
            return self._append(op.key, op.value, created=True, prev_revision=row[0] if row else 0,
                                current=None, events=events)
        if current is None or (op.mod_revision and current.mod_revision != op.mod_revision):
            return WriteResult(self.revision, False, current)
        if op.kind == "update":
            return self._append(op.key, op.value, created=False, prev_revision=current.mod_revision,
                                current=current, events=events)
        return self._append(op.key, current.value, created=False, deleted=True,
                            prev_revision=current.mod_revision, current=current, events=events)

    def _append(self, key: str, value: bytes, *, created: bool, prev_revision: int,
                current: KeyValue | None, events: list[Event], deleted: bool = False
                ) -> WriteResult:
        assert self._conn is not None
        revision = self.revision + 1
        create_revision = revision if created else current.create_revision  # type: ignore[union-attr]
        old_value = current.value if current is not None and not deleted else None
        self._conn.execute(sql.INSERT, (revision, key, int(created), int(deleted), create_revision,
                                        prev_revision, value, old_value))
        self.revision = revision
        kv = KeyValue(key, value, create_revision, revision)
        events.append(Event("DELETE" if deleted else "PUT", kv, current))
        return WriteResult(revision, True, kv)

    def _compact(self, op: Op) -> Any:
        assert self._conn is not None
        target = op.mod_revision
        if op.compact_from < 0:  # the first chunk: check and record the revision
            if target > self.revision:
                raise FutureRevisionError(target, self.revision)
            done = sql.scalar(self._conn, sql.COMPACTED_REVISION)
            if target <= done:
                return None
            self._conn.execute(sql.SET_COMPACTED_REVISION, (target,))
            op.compact_from = done
        hi = min(op.compact_from + COMPACT_CHUNK, target)
        self._conn.execute(sql.COMPACT_SUPERSEDED, (op.compact_from, hi))
        self._conn.execute(sql.COMPACT_TOMBSTONES, (op.compact_from, hi))
        op.compact_from = hi
        return None if hi >= target else _PENDING


def _deliver(on_commit: Callable[[list[Event]], None], batch: list[Op], results: list[Any],
             events: list[Event]) -> None:
    """On the loop: publish the batch's events, then answer its callers."""
    if events:
        on_commit(events)
    for op, result in zip(batch, results, strict=True):
        if result is _PENDING or op.future.done():
            continue
        if isinstance(result, BaseException):
            op.future.set_exception(result)
        else:
            op.future.set_result(result)
