"""The file `kyb backup` writes and `kyb restore` reads: a gzipped tar of

- ``kyb-backup.json``: ``{"format": 1, "store": "sqlite"|"etcd", "servers": N,
  "revision": R, "created": RFC 3339}``;
- ``state.db``: the SQLite store, copied online with SQLite's backup API (a
  consistent snapshot while the API server writes); or ``etcd.snapshot``;
- ``pki/``: the cluster's PKI (CAs, the ServiceAccount key, the encryption config
  that Secrets at rest are encrypted with, so the store is unreadable without it).

A restore bumps the store's revision by :data:`REVISION_BUMP` and marks everything
before it compacted, as ``etcdutl snapshot restore --bump-revision
--mark-compacted`` does: a client that kept watching the old cluster gets 410 Gone
and re-lists, and never sees a resourceVersion go backwards.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kybernetes.storage.sqlite_schema import CURRENT_REVISION, SET_COMPACTED_REVISION

FORMAT = 1
MANIFEST = "kyb-backup.json"
SQLITE_FILE = "state.db"
ETCD_FILE = "etcd.snapshot"
PKI = "pki"
REVISION_BUMP = 1_000_000_000


class BackupError(Exception):
    """The backup cannot be made or read (the message says why)."""


@dataclass(frozen=True)
class Manifest:
    store: str
    servers: int
    revision: int
    created: str

    def to_json(self) -> bytes:
        return json.dumps({"format": FORMAT, "store": self.store, "servers": self.servers,
                           "revision": self.revision, "created": self.created}).encode()

    @classmethod
    def parse(cls, raw: bytes) -> Manifest:
        try:
            doc: dict[str, Any] = json.loads(raw)
            if doc.get("format") != FORMAT:
                raise BackupError(f"unknown backup format {doc.get('format')!r}")
            return cls(str(doc["store"]), int(doc["servers"]), int(doc["revision"]),
                       str(doc["created"]))
        except (ValueError, KeyError, TypeError) as e:
            raise BackupError(f"unreadable {MANIFEST}: {e}") from None


def copy_sqlite(source: Path, target: Path) -> int:
    """An online, consistent copy of the SQLite store; its revision."""
    if not source.exists():
        raise BackupError(f"no SQLite store at {source}")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            row = dst.execute(CURRENT_REVISION).fetchone()
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            dst.close()
    except sqlite3.Error as e:
        raise BackupError(f"copying {source}: {e}") from None
    finally:
        src.close()
    return int(row[0]) if row else 0


def bump_sqlite_revision(db: Path, bump: int = REVISION_BUMP) -> int:
    """Move the store's revision on by `bump`, compacted up to there; the new one."""
    conn = sqlite3.connect(db)
    try:
        with conn:
            row = conn.execute(CURRENT_REVISION).fetchone()
            revision = (int(row[0]) if row else 0) + bump
            if row:
                conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'kv'",
                             (revision,))
            else:
                conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('kv', ?)",
                             (revision,))
            conn.execute(SET_COMPACTED_REVISION, (revision,))
    except sqlite3.Error as e:
        raise BackupError(f"{db}: {e}") from None
    finally:
        conn.close()
    return revision


def write(target: Path, manifest: Manifest, store_file: Path, pki_dir: Path) -> None:
    """The archive at `target`, written to a temporary file first (no half backups)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.",
                                     delete=False) as tmp:
        tmp_path = Path(tmp.name)
    try:
        with tarfile.open(tmp_path, "w:gz") as tar:
            info = tarfile.TarInfo(MANIFEST)
            data = manifest.to_json()
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            tar.add(store_file, arcname=SQLITE_FILE if manifest.store == "sqlite"
                    else ETCD_FILE)
            tar.add(pki_dir, arcname=PKI)
        tmp_path.chmod(0o600)  # it holds the CA keys
        tmp_path.replace(target)
    finally:
        tmp_path.unlink(missing_ok=True)


def extract(archive: Path, into: Path) -> Manifest:
    """Unpack `archive` into the empty directory `into`; its manifest."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(into, filter="data")
    except (OSError, tarfile.TarError) as e:
        raise BackupError(f"cannot read {archive}: {e}") from None
    manifest_path = into / MANIFEST
    if not manifest_path.exists():
        raise BackupError(f"{archive} is not a kyb backup (no {MANIFEST})")
    manifest = Manifest.parse(manifest_path.read_bytes())
    wanted = SQLITE_FILE if manifest.store == "sqlite" else ETCD_FILE
    if not (into / wanted).exists() or not (into / PKI).is_dir():
        raise BackupError(f"{archive} lacks {wanted} or {PKI}/")
    return manifest


def now_rfc3339() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def replace_dir(source: Path, target: Path) -> None:
    """`target` becomes `source` (moved), the old one removed."""
    if target.exists():
        shutil.rmtree(target)
    source.replace(target)
