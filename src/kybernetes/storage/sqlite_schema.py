"""The SQLite store's one table, its SQL, and rows turned into values.

The table is a revision log, in the manner of kine: every create, update and
delete appends one row whose ``id`` is the revision it made. A row holds:

- ``name``: the key;
- ``created`` / ``deleted``: the row made the key (again) or is a tombstone;
- ``create_revision``: the revision that created this life of the key;
- ``prev_revision``: the key's previous row (0 for the first create);
- ``value``: the new value, or for a tombstone the value that was deleted;
- ``old_value``: the value the update replaced (NULL for creates and tombstones),
  so a watch's ``prev_kv`` needs no join.

The unique ``(name, prev_revision)`` index makes a lost compare-and-swap an
integrity error even if a check were wrong: two writes can never both follow
the same row. ``(name, id)`` finds a key's newest row at any revision.
``AUTOINCREMENT`` keeps ``sqlite_sequence``, so the current revision survives
restarts and compactions that delete the newest tombstones.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from kybernetes.storage.interface import Event, KeyValue

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS kv (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        created INTEGER NOT NULL,
        deleted INTEGER NOT NULL,
        create_revision INTEGER NOT NULL,
        prev_revision INTEGER NOT NULL,
        value BLOB NOT NULL,
        old_value BLOB)""",
    "CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS kv_name_prev_revision ON kv (name, prev_revision)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)

PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    # WAL + NORMAL: a commit is in the WAL file before it returns, so it survives
    # a crash of this process; only power loss may lose the newest commits.
    "PRAGMA synchronous = NORMAL",
    "PRAGMA busy_timeout = 10000",
    # 16 MiB of pages per connection (six of them: writer, inline reader, 4 readers):
    # the cache lives in the API server's memory, the OS caches the file anyway, and
    # at 64 MiB each the caches alone grew to ~400 MiB on a large store.
    "PRAGMA cache_size = -16384",
    "PRAGMA temp_store = MEMORY",
    "PRAGMA journal_size_limit = 67108864",  # shrink the WAL file after a checkpoint
)

CURRENT_REVISION = "SELECT seq FROM sqlite_sequence WHERE name = 'kv'"
COMPACTED_REVISION = "SELECT value FROM meta WHERE key = 'compact_revision'"
SET_COMPACTED_REVISION = (
    "INSERT INTO meta (key, value) VALUES ('compact_revision', ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)

# The key's newest row (at or below a revision).
LATEST = (
    "SELECT id, deleted, create_revision, value FROM kv "
    "WHERE name = ? AND id <= ? ORDER BY id DESC LIMIT 1"
)

INSERT = (
    "INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision, value, "
    "old_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)

# Keys in [lower, upper) after `start_after`, each at its newest row <= revision,
# live only, in key order. The outer scan walks the (name, id) index in key order,
# so LIMIT stops it early.
LIST = (
    "SELECT k.id, k.name, k.create_revision, k.value FROM kv AS k "
    "WHERE k.name >= ? AND k.name < ? AND k.name > ? AND k.deleted = 0 AND k.id = "
    "(SELECT MAX(m.id) FROM kv AS m WHERE m.name = k.name AND m.id <= ?) "
    "ORDER BY k.name LIMIT ?"
)

COUNT = (
    "SELECT COUNT(*) FROM kv AS k "
    "WHERE k.name >= ? AND k.name < ? AND k.deleted = 0 AND k.id = "
    "(SELECT MAX(m.id) FROM kv AS m WHERE m.name = k.name)"
)

# The log itself, for a watch that starts in the past.
REPLAY = (
    "SELECT id, name, deleted, create_revision, prev_revision, value, old_value FROM kv "
    "WHERE id >= ? AND id <= ? AND name >= ? AND name < ? ORDER BY id LIMIT ?"
)

# Compaction of the revisions [lo, hi): rows superseded by a row in the range,
# then the tombstones in the range (the key is gone at every revision >= hi).
COMPACT_SUPERSEDED = (
    "DELETE FROM kv WHERE id IN "
    "(SELECT prev_revision FROM kv WHERE id >= ? AND id < ? AND prev_revision != 0)"
)
COMPACT_TOMBSTONES = "DELETE FROM kv WHERE deleted = 1 AND id >= ? AND id < ?"


def connect(path: str) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with our pragmas."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return conn


def scalar(conn: sqlite3.Connection, sql: str, *params: object) -> int:
    """The first column of the first row, or 0 when there is none."""
    row = conn.execute(sql, params).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def replay_event(row: tuple[Any, ...]) -> Event:
    """A REPLAY row as the event that wrote it."""
    rev, name, deleted, create_rev, prev_rev, value, old_value = row
    if deleted:
        gone = KeyValue(name, value, create_rev, prev_rev)
        return Event("DELETE", KeyValue(name, value, create_rev, rev), gone)
    prev = None if old_value is None else KeyValue(name, old_value, create_rev, prev_rev)
    return Event("PUT", KeyValue(name, value, create_rev, rev), prev)
