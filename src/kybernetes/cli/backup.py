"""`kyb backup --data-dir D FILE`: a copy of a cluster's objects and PKI while it runs
(see :mod:`.backup_archive`). One server: SQLite's online backup of ``D/state.db``;
several servers: an etcd snapshot from a live member (:mod:`.etcd_backup`)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from kybernetes.apiserver import pki
from kybernetes.cli import backup_archive as archive
from kybernetes.cli import cluster_dir, etcd_backup
from kybernetes.cli.errors import CliError

HELP = "copy a cluster's objects and PKI to a file, while it runs (`kyb restore` reads it)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="the cluster's data directory (default ~/.kyb)")
    parser.add_argument("file", metavar="FILE", help="the backup to write (a .tar.gz)")


def run(args: argparse.Namespace) -> int:
    cdir = cluster_dir.resolve(args.data_dir)
    target = Path(args.file).resolve()
    pki_dir = pki.pki_dir(cdir.root)
    if not pki_dir.is_dir():
        raise CliError(f"no cluster in {cdir.root} (no {pki_dir})")
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".kyb-backup-") as tmp:
        try:
            if (cdir.root / "etcd").is_dir():
                copy = Path(tmp) / archive.ETCD_FILE
                members = (cdir.read_status() or {}).get("etcd") or []
                revision = etcd_backup.save(cdir.root, [m["url"] for m in members], copy)
                manifest = archive.Manifest("etcd", len(members), revision,
                                            archive.now_rfc3339())
            else:
                copy = Path(tmp) / archive.SQLITE_FILE
                revision = archive.copy_sqlite(cdir.root / "state.db", copy)
                manifest = archive.Manifest("sqlite", 1, revision, archive.now_rfc3339())
            archive.write(target, manifest, copy, pki_dir)
        except archive.BackupError as e:
            raise CliError(str(e)) from None
    print(f"backed up {cdir.root} at revision {revision} to {target}")
    return 0
