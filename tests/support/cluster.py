"""A whole `kyb up` cluster for end-to-end tests: started detached, always taken down."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.support.net import free_port


def kyb(*args: str, timeout: float = 180,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kybernetes.cli.main", *args],
                          capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, **(env or {})})


class KybCluster:
    """`kyb up --detach` on a data dir of its own and a free port; `down()` stops it all."""

    def __init__(self, data_dir: Path, *, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.extra_env = env or {}
        self.env = {**os.environ, **self.extra_env,
                    "KUBECONFIG": str(data_dir / "kubeconfig")}

    def up(self, *args: str) -> None:
        result = kyb("up", "--detach", "--data-dir", str(self.data_dir), "--port",
                     str(self.port), *args, env=self.extra_env)
        assert result.returncode == 0, result.stdout + result.stderr + self.logs()

    def down(self) -> None:
        kyb("down", "--data-dir", str(self.data_dir), env=self.extra_env)

    def logs(self) -> str:
        out = []
        for log in sorted((self.data_dir / "logs").glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-15:]
            out.append(f"--- {log.name}\n" + "\n".join(lines))
        return "\n".join(out)

    def kubectl(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(["kubectl", *args], capture_output=True, text=True,
                                env=self.env, timeout=60, check=False)
        if check:
            assert result.returncode == 0, f"kubectl {args}: {result.stderr}"
        return result.stdout


@contextlib.contextmanager
def fake_runtime_cluster(data_dir: Path, nodes: int = 1) -> Iterator[KybCluster]:
    """A cluster of fake nodes on the host network (nothing runs: pods report Running
    and their probes pass), for clients that drive the API (Helm, operators)."""
    cluster = KybCluster(data_dir, env={"KYB_HOST_NETWORK": "1"})
    try:
        cluster.up("--nodes", str(nodes), "--runtime", "fake")
        yield cluster
    finally:
        cluster.down()
