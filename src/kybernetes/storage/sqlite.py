"""The default store: one SQLite file used as a revision log, in the manner of kine.

``sqlite:///abs/path/state.db``. Writes go to one writer thread that
group-commits them (:mod:`.sqlite_writer`); reads run on a few reader threads,
each with its own connection, so a long list never blocks a write (WAL lets
readers and the writer proceed together). Every read is one read transaction,
so the revision it returns matches the rows it returns.

Point reads (``get``, the revisions) run inline on the event loop on a
connection of their own: a B-tree lookup takes microseconds, far less than a
hop to a thread, and WAL readers do not wait for the writer. Anything that may
touch many rows (``list``, ``count``, a watch's replay) runs on a reader thread.

Watches are fed in-process (:mod:`.sqlite_watch`): this process is the only
writer, so it can hand committed events to watchers without polling. That is
also why one SQLite file serves exactly one API server; for more, use etcd. A
second opener (another process, or another store in this one) is refused
through an advisory lock on ``<file>.lock``, which the kernel drops when the
holder dies, even by ``kill -9``.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from kybernetes.storage import sqlite_schema as sql
from kybernetes.storage.errors import CompactedError, FutureRevisionError, StorageUnavailable
from kybernetes.storage.interface import Event, KeyValue, ListResult, WriteResult
from kybernetes.storage.keys import prefix_end
from kybernetes.storage.sqlite_watch import SqliteWatch, WatchHub
from kybernetes.storage.sqlite_writer import OpKind, Writer

T = TypeVar("T")
LogChunk = tuple[list[Event], int, bool]  # an alias: inside the class `list` is a method
READERS = 4


class SqliteStore:
    """The Store protocol on one SQLite file (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._writer: Writer | None = None
        self._hub: WatchHub | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._inline: sqlite3.Connection | None = None
        self._lock_fd: int | None = None

    async def start(self) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _lock(self.path + ".lock")
        # Secrets live in this file: owner only (SQLite gives -wal and -shm the same mode).
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        loop = asyncio.get_running_loop()
        self._hub = WatchHub(0)
        self._writer = Writer(self.path, loop=loop, on_commit=self._hub.publish)
        try:
            self._hub.revision = await asyncio.to_thread(self._writer.open)
            self._inline = self._reader_connection()
        except sqlite3.Error as e:
            await self.aclose()  # and release the lock
            raise StorageUnavailable(f"cannot open sqlite store {self.path}: {e}") from e
        self._readers = ThreadPoolExecutor(READERS, thread_name_prefix="kyb-sqlite-read")

    async def aclose(self) -> None:
        if self._hub is not None:
            self._hub.close()
        if self._writer is not None:
            writer, self._writer = self._writer, None
            await asyncio.to_thread(writer.close)
        if self._readers is not None:
            readers, self._readers = self._readers, None
            await asyncio.to_thread(readers.shutdown)
        self._inline = None
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    # -- reads ----------------------------------------------------------------

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` in a read transaction on a reader thread."""
        if self._readers is None:
            raise StorageUnavailable("the sqlite store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._on_reader_thread, fn, args)

    def _read_inline(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a point read `fn(conn, *args)` right here, on the loop."""
        if self._inline is None:
            raise StorageUnavailable("the sqlite store is not open")
        return _in_transaction(self._inline, fn, args)

    def _on_reader_thread(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._reader_connection()
        return _in_transaction(conn, fn, args)

    def _reader_connection(self) -> sqlite3.Connection:
        conn = sql.connect(self.path)
        conn.execute("PRAGMA query_only = 1")
        with self._lock:
            self._connections.append(conn)
        return conn

    async def current_revision(self) -> int:
        return self._read_inline(sql.scalar, sql.CURRENT_REVISION)

    async def compacted_revision(self) -> int:
        return self._read_inline(sql.scalar, sql.COMPACTED_REVISION)

    async def get(self, key: str) -> tuple[int, KeyValue | None]:
        return self._read_inline(_get, key)

    async def list(self, prefix: str, *, revision: int = 0, limit: int = 0,
                   start_after: str = "") -> ListResult:
        return await self._read(_list, prefix, revision, limit, start_after)

    async def count(self, prefix: str) -> tuple[int, int]:
        return await self._read(_count, prefix)

    # -- writes ---------------------------------------------------------------

    async def _submit(self, kind: OpKind, key: str = "", value: bytes = b"", *,
                      mod_revision: int = 0) -> Any:
        if self._writer is None:
            raise StorageUnavailable("the sqlite store is not open")
        return await self._writer.submit(kind, key, value, mod_revision=mod_revision)

    async def create(self, key: str, value: bytes) -> WriteResult:
        result: WriteResult = await self._submit("create", key, bytes(value))
        return result

    async def update(self, key: str, value: bytes, *, mod_revision: int) -> WriteResult:
        result: WriteResult = await self._submit("update", key, bytes(value),
                                                 mod_revision=mod_revision)
        return result

    async def delete(self, key: str, *, mod_revision: int = 0) -> WriteResult:
        result: WriteResult = await self._submit("delete", key, mod_revision=mod_revision)
        return result

    async def compact(self, revision: int) -> None:
        await self._submit("compact", mod_revision=revision)

    # -- watch ----------------------------------------------------------------

    def watch(self, prefix: str, *, start_revision: int) -> SqliteWatch:
        if self._hub is None:
            raise StorageUnavailable("the sqlite store is not open")
        return SqliteWatch(self._hub, self._read_log, prefix, start_revision)

    async def _read_log(self, prefix: str, start: int, upto: int, limit: int) -> LogChunk:
        return await self._read(_read_log, prefix, start, upto, limit)


def _lock(path: str) -> int:
    """Take the store's advisory lock (see the module docstring); returns its fd."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise StorageUnavailable(
            f"sqlite store {path.removesuffix('.lock')} is in use by another process "
            f"(pid {holder}); one SQLite file serves one API server - use etcd for more"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


# The read functions run inside one read transaction, on a reader thread or inline.

def _in_transaction(conn: sqlite3.Connection, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
    try:
        conn.execute("BEGIN")
        try:
            return fn(conn, *args)
        finally:
            conn.execute("COMMIT")
    except sqlite3.Error as e:
        raise StorageUnavailable(f"sqlite read failed: {e}") from e


def _upper(prefix: str) -> str | bytes:
    """The exclusive upper bound of a prefix for SQL; for "every key" a BLOB, which
    SQLite orders after every TEXT value."""
    end = prefix_end(prefix)
    return b"\xff" if end is None else end


def _check_revision(conn: sqlite3.Connection, revision: int, current: int) -> None:
    if revision > current:
        raise FutureRevisionError(revision, current)
    compacted = sql.scalar(conn, sql.COMPACTED_REVISION)
    if revision < compacted:
        raise CompactedError(revision, compacted)


def _get(conn: sqlite3.Connection, key: str) -> tuple[int, KeyValue | None]:
    current = sql.scalar(conn, sql.CURRENT_REVISION)
    row = conn.execute(sql.LATEST, (key, current)).fetchone()
    if row is None or row[1]:
        return current, None
    return current, KeyValue(key, row[3], row[2], row[0])


def _list(conn: sqlite3.Connection, prefix: str, revision: int, limit: int,
          start_after: str) -> ListResult:
    current = sql.scalar(conn, sql.CURRENT_REVISION)
    if revision > 0:
        _check_revision(conn, revision, current)
    else:
        revision = current
    fetch = limit + 1 if limit > 0 else -1
    rows = conn.execute(sql.LIST, (prefix, _upper(prefix), start_after, revision, fetch))
    kvs = [KeyValue(name, value, create_rev, rev) for rev, name, create_rev, value in rows]
    more = 0 < limit < len(kvs)
    return ListResult(revision, kvs[:limit] if more else kvs, more)


def _count(conn: sqlite3.Connection, prefix: str) -> tuple[int, int]:
    current = sql.scalar(conn, sql.CURRENT_REVISION)
    return current, sql.scalar(conn, sql.COUNT, prefix, _upper(prefix))


def _read_log(conn: sqlite3.Connection, prefix: str, start: int, upto: int, limit: int
              ) -> tuple[list[Event], int, bool]:
    current = sql.scalar(conn, sql.CURRENT_REVISION)
    compacted = sql.scalar(conn, sql.COMPACTED_REVISION)
    if start < compacted:
        raise CompactedError(start, compacted)
    upto = upto or current
    rows = conn.execute(sql.REPLAY, (start, upto, prefix, _upper(prefix), limit)).fetchall()
    return [sql.replay_event(row) for row in rows], upto, len(rows) < limit
