"""etcd's side of `kyb backup` / `kyb restore` for `kyb up --servers N`, with etcdctl
(Debian's etcd-client), as kubeadm's docs do it: ``etcdctl snapshot save`` from one
live member over client TLS, and ``etcdctl snapshot restore`` into a fresh data dir
per member with the same names, peer URLs and cluster token `kyb up` gives them
(they depend on the data dir's network tag and on root / ``KYB_HOST_NETWORK``, so
restore where and as the cluster will be started)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from kybernetes.cli.backup_archive import BackupError
from kybernetes.cli.node_network import NodeNetwork, is_root
from kybernetes.cli.servers import ServerHosts, etcd_client_tls

ETCDCTL = "/usr/bin/etcdctl"


def _etcdctl(*args: str, timeout: float = 120.0) -> str:
    if not Path(ETCDCTL).exists():
        raise BackupError(f"an etcd snapshot needs {ETCDCTL}: install Debian's etcd-client")
    result = subprocess.run([ETCDCTL, *args], capture_output=True, text=True,
                            timeout=timeout, check=False, env={**os.environ, "ETCDCTL_API": "3"})
    if result.returncode != 0:
        raise BackupError(f"etcdctl {args[0]} {args[1]}: {result.stderr.strip()[-500:]}")
    return result.stdout


def save(root: Path, member_urls: list[str], target: Path) -> int:
    """A snapshot of the cluster from the first member that gives one; its revision."""
    if not member_urls:
        raise BackupError("the cluster is not running (no etcd members to ask)")
    tls = etcd_client_tls(root)
    errors = []
    for url in member_urls:
        try:
            _etcdctl("snapshot", "save", str(target), "--endpoints", url,
                     "--cacert", str(tls.cafile), "--cert", str(tls.certfile),
                     "--key", str(tls.keyfile), "--command-timeout", "60s")
            break
        except BackupError as e:
            errors.append(str(e))
    else:
        raise BackupError("no etcd member gave a snapshot: " + "; ".join(errors))
    status = json.loads(_etcdctl("snapshot", "status", str(target), "-w", "json"))
    return int(status.get("revision", 0))


def restore(root: Path, snapshot: Path, servers: int) -> None:
    """Every member's data dir made anew from `snapshot` (the old ones removed)."""
    isolated = is_root() and os.environ.get("KYB_HOST_NETWORK") != "1"
    network = NodeNetwork(str(root), 0, isolated=isolated)
    hosts = ServerHosts(root, servers, network=network)
    peers = ",".join(f"{h.name}={h.etcd_peer_url}" for h in hosts.hosts)
    for host in hosts.hosts:
        data_dir = hosts.etcd_data_dir(host)
        if data_dir.exists():
            shutil.rmtree(data_dir)
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        _etcdctl("snapshot", "restore", str(snapshot), "--name", host.name,
                 "--data-dir", str(data_dir), "--initial-cluster", peers,
                 "--initial-cluster-token", f"kyb-{network.tag}",
                 "--initial-advertise-peer-urls", host.etcd_peer_url)
