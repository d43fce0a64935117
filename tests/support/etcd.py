"""A real etcd (Debian's etcd-server, /usr/bin/etcd) on free loopback ports, for tests.

The data directory lives under the caller's temporary directory; the process is
its own process group and is always killed by :meth:`Etcd.stop`.
"""

from __future__ import annotations

import shutil
import time
import urllib.request
from pathlib import Path

from tests.support.net import free_port
from tests.support.procs import Proc

ETCD = shutil.which("etcd") or "/usr/bin/etcd"


def etcd_available() -> bool:
    return Path(ETCD).exists()


class Etcd:
    """One single-member etcd cluster: ``Etcd(tmp).start()``, ``.url``, ``.stop()``."""

    def __init__(self, base_dir: Path, *, name: str = "default") -> None:
        self.base_dir = base_dir
        self.name = name
        self.client_port = free_port()
        self.peer_port = free_port()
        self.proc: Proc | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def url(self) -> str:
        """The store URL for :func:`kybernetes.storage.open_store`."""
        return f"etcd://{self.endpoint}"

    def start(self, timeout: float = 20.0) -> Etcd:
        client = f"http://{self.endpoint}"
        peer = f"http://127.0.0.1:{self.peer_port}"
        argv = [
            ETCD, "--name", self.name, "--data-dir", str(self.base_dir / "data"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"{self.name}={peer}", "--initial-cluster-state", "new",
            "--log-level", "warn", "--logger", "zap",
        ]
        self.proc = Proc(argv, log_path=self.base_dir / "etcd.log").start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise RuntimeError(f"etcd exited:\n{self.proc.log_tail()}")
            try:
                with urllib.request.urlopen(f"{client}/health", timeout=1) as response:
                    if b'"true"' in response.read():
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        tail = self.proc.log_tail()
        self.stop()
        raise RuntimeError(f"etcd not healthy after {timeout}s:\n{tail}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
