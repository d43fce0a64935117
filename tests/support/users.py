"""Users of a test cluster, made as an administrator makes them: `kyb kubeconfig`."""

from __future__ import annotations

from pathlib import Path

from tests.support.apiserver import ApiServer
from tests.support.cluster import kyb


def user_kubeconfig(server: ApiServer, directory: Path, user: str,
                    *groups: str) -> Path:
    """A kubeconfig whose client certificate names `user` in `groups`."""
    out = directory / f"{user.replace(':', '_')}.kubeconfig"
    args = ["kubeconfig", "--data-dir", str(server.data_dir), "--user", user,
            "--server", server.url, "--out", str(out)]
    for group in groups:
        args += ["--group", group]
    done = kyb(*args, timeout=60)
    assert done.returncode == 0, done.stderr
    return out
