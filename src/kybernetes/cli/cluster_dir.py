"""The layout of a `kyb up` data directory, and the run state shared by up/down/status.

::

    DIR/VERSION            format version of this directory (refuse another one)
    DIR/state.db           the SQLite store (written by the API server)
    DIR/pki/               certificates (written by the API server)
    DIR/kubeconfig         the admin kubeconfig (written by the API server)
    DIR/logs/<name>.log    one log per component
    DIR/nodes/<node>/      each kubelet's root dir and kubeconfig
    DIR/run/supervisor.pid the `kyb up` supervisor
    DIR/run/status.json    what the supervisor runs now, rewritten on every change
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kybernetes.cli.errors import CliError

DATA_DIR_FORMAT = "1"


@dataclass(frozen=True)
class ClusterDir:
    root: Path

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def pid_file(self) -> Path:
        return self.run / "supervisor.pid"

    @property
    def status_file(self) -> Path:
        return self.run / "status.json"

    def node_dir(self, node: str) -> Path:
        return self.root / "nodes" / node

    def prepare(self) -> None:
        """Create the directory, or check that it is one this version can use."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            for sub in (self.logs, self.run):
                sub.mkdir(exist_ok=True)
        except PermissionError:
            raise CliError(f"cannot write to {self.root}: choose another --data-dir") from None
        version_file = self.root / "VERSION"
        if version_file.exists():
            found = version_file.read_text().strip()
            if found != DATA_DIR_FORMAT:
                raise CliError(
                    f"{self.root} holds data of format {found!r}, this kyb uses "
                    f"{DATA_DIR_FORMAT!r}: use another --data-dir or the matching kyb version"
                )
        else:
            version_file.write_text(DATA_DIR_FORMAT + "\n")

    def supervisor_pid(self) -> int | None:
        """The pid of a live supervisor of this directory, if any."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def read_status(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.status_file.read_text())  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return None

    def write_status(self, status: dict[str, Any]) -> None:
        tmp = self.status_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(status, indent=2, sort_keys=True))
        tmp.replace(self.status_file)


def resolve(data_dir: str | None) -> ClusterDir:
    """`--data-dir`, else $KYB_DATA_DIR, else ~/.kyb."""
    raw = data_dir or os.environ.get("KYB_DATA_DIR") or str(Path.home() / ".kyb")
    return ClusterDir(Path(raw).expanduser().resolve())
