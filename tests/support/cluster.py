"""A whole `kyb up` cluster for end-to-end tests: started detached, always taken down."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.kubectl import KUBECTL_DIR
from tests.support.net import free_port
from tests.support.procs import Proc

if TYPE_CHECKING:
    from kybernetes.cli.cluster_dir import ClusterDir


def kyb(*args: str, timeout: float = 180,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kybernetes.cli.main", *args],
                          capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, **(env or {})})


class KybCluster:
    """`kyb up --detach` on a data dir of its own and a free port; `down()` stops it all."""

    def __init__(self, data_dir: Path, *, env: dict[str, str] | None = None,
                 dashboard: bool = False) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        # the web dashboard only where a test asks for it (a free port), so parallel
        # clusters neither start one each nor race for its default 8001
        self.dashboard_port = free_port() if dashboard else 0
        self.extra_env = env or {}
        self.env = {**os.environ, **self.extra_env,
                    "KUBECONFIG": str(data_dir / "kubeconfig")}

    def up(self, *args: str) -> None:
        result = kyb("up", "--detach", "--data-dir", str(self.data_dir), "--port",
                     str(self.port), "--dashboard-port", str(self.dashboard_port), *args,
                     env=self.extra_env)
        assert result.returncode == 0, result.stdout + result.stderr + self.logs()

    def down(self) -> None:
        kyb("down", "--data-dir", str(self.data_dir), env=self.extra_env)

    def logs(self) -> str:
        out = []
        for log in sorted((self.data_dir / "logs").glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-15:]
            out.append(f"--- {log.name}\n" + "\n".join(lines))
        return "\n".join(out)

    def kubectl(self, *args: str, check: bool = True, binary: str = "kubectl") -> str:
        result = self.kubectl_run(*args, binary=binary)
        if check:
            assert result.returncode == 0, f"{binary} {args}: {result.stderr}"
        return result.stdout

    def kubectl_run(self, *args: str, stdin: str | None = None, timeout: float = 60,
                    binary: str = "kubectl") -> subprocess.CompletedProcess[str]:
        """kubectl's whole result (exit code, stdout, stderr), for commands meant to fail;
        `binary` names a version beside it (`kubectl.1.27`)."""
        path = KUBECTL_DIR / binary
        return subprocess.run([str(path) if path.exists() else binary, *args],
                              capture_output=True, text=True, input=stdin, env=self.env,
                              timeout=timeout, check=False)


@dataclass
class JoinedNode:
    name: str
    kubelet: Proc


@contextlib.contextmanager
def joined_node(cluster: KybCluster, index: int, *kubelet_args: str,
                pod_network: str | None = None, via_join: bool = False) -> Iterator[JoinedNode]:
    """A node that joins the running cluster (`kyb up` cannot add one): a process-runtime
    kubelet with the node's own credentials from the cluster CA, as `kyb up` issues them,
    on the host network at the address the nodes reach the API server by and a free port.
    Its pod CIDR is the one `kyb up --nodes <index>` would give it; `kubelet_args` go
    to its kubelet; `pod_network` (host-gw, vxlan) starts its `kyb pod-network` agent too,
    with the node's credentials as `kyb join --pod-network` runs it. `via_join`: all
    that through the `kyb join` command `kyb up` printed (token, CA hash, pod network;
    no proxy), its data dir the node's dir; `kubelet` is then the join process.
    Stopped (its pods torn down, its agent's device and rule removed) and its Node
    deleted on the way out."""
    from kybernetes.cli import cluster_dir, identities
    from kybernetes.cli.node_network import NodeNetwork
    from kybernetes.kubelet.purge import purge
    from kybernetes.podnetwork import masquerade
    from kybernetes.podnetwork.agent import vxlan_device

    cdir = cluster_dir.resolve(str(cluster.data_dir))
    server = (cdir.read_status() or {})["server"]
    host = server.split("//", 1)[1].rsplit(":", 1)[0]
    network = NodeNetwork(str(cdir.root), index, isolated=host != "127.0.0.1")
    addressing = network.nodes[-1]
    node_ip = host if network.isolated else addressing.ip  # no namespace of its own
    name = addressing.name
    kubeconfig = identities.component_kubeconfig(cdir, server, f"kubelet-{name}",
                                                 identities.kubelet(name))
    root = cdir.node_dir(name)
    root.mkdir(parents=True, exist_ok=True)
    kubelet_root = root / "kubelet" if via_join else root
    kubelet = Proc.kyb("kubelet", "--kubeconfig", str(kubeconfig), "--node-name", name,
                       "--runtime", "process", "--root-dir", str(root), "--node-ip", node_ip,
                       "--address", node_ip, "--port", str(free_port()),
                       "--pod-cidr", addressing.pod_cidr, "--teardown-on-exit", *kubelet_args,
                       log_path=cdir.logs / f"kubelet-{name}.log")
    if via_join:
        kubelet = _kyb_join(cdir, name, root, node_ip, addressing.pod_cidr, pod_network,
                            kubelet_args)
    agent = None
    if pod_network and not via_join:
        agent = Proc.kyb("pod-network", "--kubeconfig", str(kubeconfig), "--node-name", name,
                         "--mode", pod_network, "--cluster-cidr", network.cluster_cidr,
                         log_path=cdir.logs / f"pod-network-{name}.log")
    try:
        kubelet.start()
        if agent is not None:
            agent.start()
        yield JoinedNode(name, kubelet)
    finally:
        kubelet.stop(timeout=30)
        if agent is not None:
            agent.stop(timeout=30)
            # after a crash too: its VXLAN device and rule are in the host's namespace
            subprocess.run(["ip", "link", "del", vxlan_device(name)], capture_output=True,
                           check=False)
            masquerade.purge(name)
        purge(kubelet_root, name)  # its bridge and iptables rules live in the host's namespace
        cluster.kubectl("delete", "node", name, "--ignore-not-found", check=False)


def _kyb_join(cdir: ClusterDir, name: str, root: Path, node_ip: str, pod_cidr: str,
              pod_network: str | None, kubelet_args: tuple[str, ...]) -> Proc:
    """`kyb join` as the command `kyb up` printed says, for node `name` on this host."""
    words = shlex.split((cdir.read_status() or {})["join"])
    flags = dict(zip(words[2::2], words[3::2], strict=True))
    assert flags.get("--pod-network") == pod_network, words
    if pod_network is None:
        flags.pop("--cluster-cidr", None)
    flags.update({"--node-name": name, "--data-dir": str(root), "--runtime": "process",
                  "--node-ip": node_ip, "--kubelet-port": str(free_port()),
                  "--pod-cidr": pod_cidr})
    return Proc.kyb("join", *(w for pair in flags.items() for w in pair), "--no-proxy",
                    *(f"--kubelet-arg={a}" for a in kubelet_args),
                    log_path=cdir.logs / f"join-{name}.log")


@contextlib.contextmanager
def process_cluster(data_dir: Path, *args: str, nodes: int = 2,
                    dashboard: bool = False) -> Iterator[KybCluster]:
    """`kyb up` with the process runtime (real processes, per-node networks as root),
    two nodes unless asked; `args` go to `kyb up` as they are."""
    cluster = KybCluster(data_dir, dashboard=dashboard)
    try:
        cluster.up("--nodes", str(nodes), "--runtime", "process", *args)
        yield cluster
    finally:
        cluster.down()


@contextlib.contextmanager
def fake_runtime_cluster(data_dir: Path, nodes: int = 1,
                         dashboard: bool = False) -> Iterator[KybCluster]:
    """A cluster of fake nodes on the host network (nothing runs: pods report Running
    and their probes pass), for clients that drive the API (Helm, operators)."""
    cluster = KybCluster(data_dir, env={"KYB_HOST_NETWORK": "1"}, dashboard=dashboard)
    try:
        cluster.up("--nodes", str(nodes), "--runtime", "fake")
        yield cluster
    finally:
        cluster.down()
