"""`kyb restore --data-dir D FILE`: put a `kyb backup` into a data dir whose cluster is
stopped (a new one, or the same one), so `kyb up --data-dir D` brings back its objects.
The store's revision moves on past anything the old cluster served (see
:mod:`.backup_archive`); the PKI is the backup's, so old kubeconfigs stay valid."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from kybernetes.apiserver import pki
from kybernetes.cli import backup_archive as archive
from kybernetes.cli import cluster_dir, etcd_backup
from kybernetes.cli.errors import CliError
from kybernetes.cli.servers import check_data_dir

HELP = "restore a `kyb backup` into the data dir of a stopped cluster"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="where to restore (default ~/.kyb); its cluster "
                        "must be stopped, its store is replaced")
    parser.add_argument("file", metavar="FILE", help="a backup `kyb backup` wrote")


def run(args: argparse.Namespace) -> int:
    cdir = cluster_dir.resolve(args.data_dir)
    source = Path(args.file).resolve()
    if not source.is_file():
        raise CliError(f"no backup at {source}")
    if cdir.supervisor_pid():
        raise CliError(f"a cluster is running from {cdir.root}: `kyb down --data-dir "
                       f"{cdir.root}` first")
    # unpacked beside the data dir: a backup that does not check out leaves nothing
    cdir.root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cdir.root.parent, prefix=".kyb-restore-") as tmp:
        unpacked = Path(tmp)
        try:
            manifest = archive.extract(source, unpacked)
            check_data_dir(cdir.root, manifest.servers)
            if manifest.store == "sqlite":
                revision = archive.bump_sqlite_revision(unpacked / archive.SQLITE_FILE)
            cdir.prepare()
            if manifest.store == "etcd":
                etcd_backup.restore(cdir.root, unpacked / archive.ETCD_FILE, manifest.servers)
                revision = manifest.revision
        except archive.BackupError as e:
            raise CliError(str(e)) from None
        if manifest.store == "sqlite":
            for suffix in ("-wal", "-shm"):
                (cdir.root / f"state.db{suffix}").unlink(missing_ok=True)
            (unpacked / archive.SQLITE_FILE).replace(cdir.root / "state.db")
        archive.replace_dir(unpacked / archive.PKI, pki.pki_dir(cdir.root))
    servers = f" --servers {manifest.servers}" if manifest.servers > 1 else ""
    print(f"restored {source} (taken {manifest.created}, revision {manifest.revision}) into "
          f"{cdir.root}; revisions go on from {revision}: start it with "
          f"`kyb up --data-dir {cdir.root}{servers}`")
    return 0
