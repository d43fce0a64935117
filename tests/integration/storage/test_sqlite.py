"""What only the SQLite store promises: durability, restarts, compaction on disk,
slow watchers."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kybernetes.storage import StorageUnavailable, open_store, sqlite_watch, sqlite_writer
from tests.integration.storage.conftest import collect

WRITER = textwrap.dedent("""
    import asyncio, sys
    from kybernetes.storage import open_store

    async def main():
        store = open_store(sys.argv[1])
        await store.start()
        async def worker(w):
            for i in range(1_000_000):
                key = f"/k/{w}/{i}"
                result = await store.create(key, key.encode())
                assert result.succeeded
                print(key, result.revision, flush=True)
        await asyncio.gather(*(worker(w) for w in range(16)))

    asyncio.run(main())
""")


async def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/state.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, url], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    acknowledged: dict[str, int] = {}
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 20
        while len(acknowledged) < 2000 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            key, written = line.decode().split()
            acknowledged[key] = int(written)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
    assert len(acknowledged) >= 2000, proc.stderr.read().decode() if proc.stderr else ""
    store = open_store(url)
    await store.start()
    try:
        for key, revision in acknowledged.items():
            _, kv = await store.get(key)
            assert kv is not None and kv.value == key.encode() and kv.mod_revision == revision
        assert await store.current_revision() >= max(acknowledged.values())
    finally:
        await store.aclose()


async def test_revision_and_compaction_survive_reopen(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/state.db"
    store = open_store(url)
    await store.start()
    await store.create("/a", b"1")
    await store.create("/b", b"2")
    deleted = await store.delete("/b")  # the newest row is a tombstone ...
    await store.compact(deleted.revision + 0)
    await store.create("/c", b"3")
    last = await store.delete("/c")
    await store.compact(last.revision)  # ... and compaction deletes it
    await store.aclose()

    store = open_store(url)
    await store.start()
    try:
        assert await store.current_revision() == last.revision
        assert await store.compacted_revision() == last.revision
        again = await store.create("/d", b"4")
        assert again.revision == last.revision + 1
        assert [kv.key for kv in (await store.list("/")).kvs] == ["/a", "/d"]
    finally:
        await store.aclose()


async def test_compaction_deletes_superseded_rows_in_chunks(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.setattr(sqlite_writer, "COMPACT_CHUNK", 3)
    path = tmp_path / "state.db"
    store = open_store(f"sqlite://{path}")
    await store.start()
    try:
        result = await store.create("/a", b"0")
        for i in range(1, 30):
            result = await store.update("/a", str(i).encode(), mod_revision=result.revision)
        for i in range(10):
            await store.create(f"/gone/{i}", b"x")
            await store.delete(f"/gone/{i}")
        last = await store.create("/z", b"z")
        await store.compact(last.revision)
        assert [(kv.key, kv.value) for kv in (await store.list("/")).kvs] == [
            ("/a", b"29"), ("/z", b"z")]
    finally:
        await store.aclose()
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name, value FROM kv ORDER BY id").fetchall()
    assert rows == [("/a", b"29"), ("/z", b"z")]


async def test_a_watcher_that_falls_behind_catches_up_from_the_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_watch, "MAX_BUFFER", 5)
    monkeypatch.setattr(sqlite_watch, "REPLAY_CHUNK", 7)
    store = open_store(f"sqlite://{tmp_path}/state.db")
    await store.start()
    try:
        watch = store.watch("/", start_revision=1)
        with pytest.raises(TimeoutError):  # registered, replay done, nothing yet
            await asyncio.wait_for(anext(aiter(watch)), 0.05)
        for i in range(60):
            await store.create(f"/{i:02d}", b"v")  # nobody reads: the buffer overflows
        events = await collect(watch, 60)
        assert [e.kv.mod_revision for e in events] == list(range(1, 61))
        await watch.aclose()
    finally:
        await store.aclose()


async def test_a_cancelled_wait_loses_no_event(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path}/state.db")
    await store.start()
    try:
        watch = store.watch("/", start_revision=1)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(aiter(watch)), 0.05)
        created = await store.create("/a", b"v")
        batch = await asyncio.wait_for(anext(aiter(watch)), 5)
        assert [e.kv.mod_revision for e in batch] == [created.revision]
    finally:
        await store.aclose()


async def test_a_second_opener_of_the_file_is_refused(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/state.db"
    first = open_store(url)
    await first.start()
    try:
        second = open_store(url)
        with pytest.raises(StorageUnavailable, match="in use by another process"):
            await second.start()
        await second.aclose()
    finally:
        await first.aclose()
    third = open_store(url)  # the lock went with the first store
    await third.start()
    await third.aclose()


async def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    store = open_store(f"sqlite://{path}")
    with pytest.raises(StorageUnavailable, match="cannot open sqlite store"):
        await store.start()
    path.unlink()
    await store.start()  # the failed start let go of the lock
    await store.aclose()


async def test_compaction_in_chunks_while_writes_go_on(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_writer, "COMPACT_CHUNK", 7)
    store = open_store(f"sqlite://{tmp_path}/state.db")
    await store.start()
    try:
        versions = {}
        for i in range(20):
            versions[f"/k/{i:02d}"] = (await store.create(f"/k/{i:02d}", b"0")).revision
        for round_ in range(1, 6):
            for key, revision in versions.items():
                result = await store.update(key, str(round_).encode(), mod_revision=revision)
                versions[key] = result.revision
        target = await store.current_revision()

        async def writer() -> list[int]:
            revisions = []
            for i in range(50):
                revisions.append((await store.create(f"/new/{i:02d}", b"n")).revision)
            return revisions

        written, _ = await asyncio.gather(writer(), store.compact(target))
        assert written == list(range(target + 1, target + 51))
        now = await store.list("/k/")
        assert [(kv.key, kv.value, kv.mod_revision) for kv in now.kvs] == [
            (key, b"5", revision) for key, revision in sorted(versions.items())]
        assert len((await store.list("/new/", revision=target + 50)).kvs) == 50
        watch = store.watch("/", start_revision=target)
        events = await collect(watch, 51)
        await watch.aclose()
        assert [e.kv.mod_revision for e in events] == list(range(target, target + 51))
        assert events[0].prev_kv is not None and events[0].prev_kv.value == b"4"
    finally:
        await store.aclose()


async def test_the_database_files_are_private_to_their_owner(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path}/state.db")
    await store.start()
    try:
        await store.create("/registry/secrets/default/s", b"password")
        for name in ("state.db", "state.db-wal", "state.db.lock"):
            assert (tmp_path / name).stat().st_mode & 0o077 == 0, name
    finally:
        await store.aclose()
