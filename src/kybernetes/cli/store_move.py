"""Moving a one-server data dir (SQLite) to `kyb up --servers N` (etcd).

`kyb up --servers N` on a stopped data dir that holds ``state.db`` moves its objects
into the new etcd cluster after the members are healthy and before any API server
starts: the etcd store is still empty, nothing else writes.

1. the SQLite store is opened (its lock refuses while an API server holds it) and a
   self-contained copy is taken (``state.db.before-etcd``, kept: the way back by hand);
2. etcd's revision is moved past SQLite's last one with puts to a scratch key,
   deleted after, so every copied object's resourceVersion is above any a client
   saw from the old cluster (one put per revision: etcd 3.4 has no
   ``--bump-revision``; a txn counts once however many puts it holds);
3. every live key is copied with its value byte for byte (Secrets stay encrypted
   by the same key, bound to the same storage key) in txns of up to 128 creates;
4. the count is checked and etcd compacted at its revision, so a client that
   watches from an old resourceVersion gets 410 Gone and lists again rather than
   see the copies as new objects;
5. only then ``state.db`` goes (its copy stays): the commit point. A move that fails
   before it leaves ``state.db`` in place and the next `kyb up` starts over on fresh
   etcd data dirs.

The PKI, kubeconfigs and ServiceAccount key stay where they are (``DIR/pki``), and
the N servers use them, so kubeconfigs and tokens keep working.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from kybernetes.cli.backup_archive import BackupError, copy_sqlite
from kybernetes.cli.errors import CliError
from kybernetes.cli.servers import EtcdTls
from kybernetes.storage.errors import StorageError
from kybernetes.storage.etcd import EtcdStore
from kybernetes.storage.sqlite import SqliteStore

SQLITE = "state.db"
KEPT_COPY = "state.db.before-etcd"
BATCH_KEYS = 128  # etcd's default --max-txn-ops
BATCH_BYTES = 512 * 1024  # base64 makes it ~700 KiB, under etcd's 1.5 MiB request limit
PAGE = 500
BUMP_KEY = "/kyb/store-move/revision"
BUMP_CONCURRENCY = 32
# puts go at ~1,000-2,000/s here: a larger gap (a restored backup is 10^9 ahead) is refused
MAX_REVISION_GAP = 1_000_000


@dataclass(frozen=True)
class Moved:
    keys: int
    sqlite_revision: int
    etcd_revision: int
    bump_puts: int
    bump_seconds: float
    copy_seconds: float

    def summary(self) -> str:
        return (f"moved {self.keys} keys from SQLite (revision {self.sqlite_revision}) into "
                f"etcd (now revision {self.etcd_revision}, history compacted); the revision "
                f"was moved on by {self.bump_puts} puts in {self.bump_seconds:.1f}s, the keys "
                f"copied in {self.copy_seconds:.1f}s")


def pending(root: Path) -> bool:
    """Whether `kyb up --servers N` on `root` has a SQLite store to move first."""
    return (root / SQLITE).exists()


def check_free(root: Path) -> None:
    """Refuse early (in the user's terminal) when an API server holds the store."""
    path = root / f"{SQLITE}.lock"
    if not path.exists():
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise CliError(f"{root / SQLITE} is in use by a running API server: stop that "
                       "cluster before moving it to --servers N") from None
    finally:
        os.close(fd)  # closing drops the lock


def clear_partial(etcd_dir: Path) -> None:
    """etcd data dirs beside a ``state.db`` are from a move that did not finish."""
    if etcd_dir.is_dir():
        shutil.rmtree(etcd_dir)


async def sqlite_to_etcd(root: Path, etcd_url: str, tls: EtcdTls,
                         note: Callable[[str], None] = lambda _: None) -> Moved:
    """The move (see the module docstring); raises CliError, leaving `state.db`."""
    source = SqliteStore(root / SQLITE)
    target = EtcdStore(etcd_url, cafile=str(tls.cafile), certfile=str(tls.certfile),
                       keyfile=str(tls.keyfile))
    copy = root / f"{KEPT_COPY}.tmp"
    try:
        await source.start()
        await target.start()
        await asyncio.to_thread(copy_sqlite, root / SQLITE, copy)
        moved = await _move(source, target, note)
    except (StorageError, BackupError, OSError) as e:
        copy.unlink(missing_ok=True)
        raise CliError(f"moving {root / SQLITE} into etcd failed: {e} (state.db is "
                       "untouched; `kyb up` again starts the move over)") from None
    except BaseException:
        copy.unlink(missing_ok=True)
        raise
    finally:
        await target.aclose()
        await source.aclose()
    copy.replace(root / KEPT_COPY)
    for suffix in ("", "-wal", "-shm", ".lock"):
        (root / f"{SQLITE}{suffix}").unlink(missing_ok=True)
    return moved


async def _move(source: SqliteStore, target: EtcdStore,
                note: Callable[[str], None]) -> Moved:
    revision = await source.current_revision()
    _, present = await target.count("")
    if present:
        raise CliError(f"the new etcd cluster already holds {present} keys: not moving "
                       "SQLite's objects over them")
    started = time.monotonic()
    puts = await _advance(target, revision, note)
    bumped = time.monotonic()
    copied = 0
    async for batch in _batches(source, revision):
        if not await target.create_all(batch):
            raise CliError(f"a key of {batch[0][0]}… already exists in etcd")
        copied += len(batch)
    now, count = await target.count("")
    if count != copied:
        raise CliError(f"copied {copied} keys but etcd holds {count}")
    await target.compact(now)
    return Moved(copied, revision, now, puts, bumped - started, time.monotonic() - bumped)


async def _advance(store: EtcdStore, revision: int, note: Callable[[str], None]) -> int:
    """Puts to a scratch key (then its delete) until etcd's revision reaches
    `revision`, so the copies land above it; how many puts."""
    gap = revision - await store.current_revision()
    if gap <= 0:
        return 0
    if gap > MAX_REVISION_GAP:
        raise CliError(f"SQLite's revision {revision} is {gap} ahead of the new etcd: "
                       f"moving it on takes one put per revision (more than "
                       f"{MAX_REVISION_GAP} is refused; a restored backup's revision is "
                       "10^9 ahead)")
    if gap > 20_000:
        note(f"moving etcd's revision on by {gap} (one put each)")
    if not (await store.create(BUMP_KEY, b"")).succeeded:
        raise CliError(f"{BUMP_KEY} already exists in etcd")
    puts = 1
    remaining = gap - 2  # the create above and the delete below count too

    async def worker(share: int) -> None:
        for _ in range(share):
            await store.update(BUMP_KEY, b"", mod_revision=0)  # 0: any revision
    if remaining > 0:
        workers = min(BUMP_CONCURRENCY, remaining)
        shares = [remaining // workers + (i < remaining % workers) for i in range(workers)]
        await asyncio.gather(*(worker(share) for share in shares))
        puts += remaining
    await store.delete(BUMP_KEY)
    return puts + 1


async def _batches(store: SqliteStore, revision: int) -> AsyncIterator[list[tuple[str, bytes]]]:
    """Every live key at `revision`, in txn-sized batches (key order)."""
    batch: list[tuple[str, bytes]] = []
    size = 0
    after = ""
    while True:
        page = await store.list("", revision=revision, limit=PAGE, start_after=after)
        for kv in page.kvs:
            if batch and (len(batch) >= BATCH_KEYS or size + len(kv.value) > BATCH_BYTES):
                yield batch
                batch, size = [], 0
            batch.append((kv.key, bytes(kv.value)))
            size += len(kv.key) + len(kv.value)
        if not page.more or not page.kvs:
            break
        after = page.kvs[-1].key
    if batch:
        yield batch
