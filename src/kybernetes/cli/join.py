"""`kyb join`: make this machine a node of a cluster running elsewhere (kubeadm join,
k3s agent).

Checks cluster-info's JWS signature with the token and the cluster's CA against
``--ca-cert-hash``, gets the kubelet's client
certificate with the bootstrap token (see :mod:`.join_bootstrap`), writes the
node's files in ``--data-dir`` (``pki/ca.crt``, ``kubelet.kubeconfig``, the kubelet's
``kubelet/pki``) and runs the kubelet and proxy, supervised (restarted when they
crash), until SIGINT/SIGTERM. With ``--pod-network host-gw|vxlan`` (the command `kyb
up` prints says which, with the cluster CIDR, when its cluster has one) it runs the
`kyb pod-network` agent too, with the node's credentials (bound to the agent's
ClusterRole through ``system:nodes``, see :mod:`.pod_network`). A data dir that
already holds a kubelet.kubeconfig is joined already: its credentials are used and
the token is not needed again.
Nothing is written when the CA or the token do not check out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from kybernetes.api import bootstrap_tokens as bt
from kybernetes.apiserver.pki import write_pair
from kybernetes.cli.control_plane import kyb
from kybernetes.cli.errors import CliError
from kybernetes.cli.join_bootstrap import HASH_RE, discover_ca, request_client_cert
from kybernetes.cli.supervisor import Component, Supervisor
from kybernetes.client.kubeconfig import load_kubeconfig, write_kubeconfig
from kybernetes.kubelet.cert_store import CertStore, ClientCert
from kybernetes.podnetwork.backends import MODES

HELP = ("join this machine to a cluster as a node: verify its CA by hash, bootstrap the "
        "kubelet's certificate with a token, run the kubelet and proxy")
RUNTIMES = ("process", "docker", "containerd", "fake")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("Get the command with its token and hash on a server: `kyb token "
                     "create --data-dir D --print-join-command` (`kyb up` prints one). "
                     "Run again on the same --data-dir, it reuses the node's certificate.")
    parser.add_argument("--server", required=True, metavar="https://ADDR:PORT",
                        help="the cluster's API server (or its balancer)")
    parser.add_argument("--token", required=True, metavar="ID.SECRET",
                        help="a bootstrap token (`kyb token create`)")
    parser.add_argument("--ca-cert-hash", required=True, metavar="sha256:HEX",
                        help="the SHA-256 of the cluster CA's public key: only that CA "
                        "is trusted")
    parser.add_argument("--node-name", default=os.uname().nodename,
                        help="the Node to register (default: the host name)")
    parser.add_argument("--data-dir", required=True,
                        help="where this node keeps its credentials, pods and logs")
    parser.add_argument("--runtime", choices=RUNTIMES, default="process",
                        help="how the kubelet runs containers (default process)")
    parser.add_argument("--node-ip", help="the node's address (default: detected; the "
                        "kubelet and proxy listen on it)")
    parser.add_argument("--kubelet-port", type=int, default=10250,
                        help="the kubelet's HTTPS port (default 10250)")
    parser.add_argument("--pod-cidr", help="pod addresses (default: the Node's spec.podCIDR)")
    parser.add_argument("--proxy-mode", choices=("userspace", "iptables"), default="userspace",
                        help="how the proxy carries Service traffic (default userspace)")
    parser.add_argument("--no-proxy", action="store_true", help="run the kubelet only")
    parser.add_argument("--pod-network", choices=(*MODES, "none"), default="none",
                        help="run a `kyb pod-network` agent routing to the other nodes' "
                        "pods by host-gw or vxlan, as the cluster's nodes do (root; "
                        "default none: the cluster has no pod network, or this machine "
                        "routes otherwise)")
    parser.add_argument("--cluster-cidr", default="10.244.0.0/16",
                        help="the pods' range, with --pod-network (default 10.244.0.0/16)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds to wait for the certificate (default 120)")
    for name in ("kubelet", "proxy"):
        parser.add_argument(f"--{name}-arg", action="append", default=[], metavar="FLAG",
                            dest=f"{name}_args", help=f"hand FLAG to the {name} (repeatable)")


def run(args: argparse.Namespace) -> int:
    if not args.server.startswith("https://"):
        raise CliError("--server must be an https:// URL")
    if not bt.TOKEN_RE.match(args.token):
        raise CliError("--token must look like [a-z0-9]{6}.[a-z0-9]{16}")
    if not HASH_RE.match(args.ca_cert_hash.lower()):
        raise CliError("--ca-cert-hash must be sha256: and 64 hex digits")
    node = JoinedNode(Path(args.data_dir).resolve())
    joined_as = node.joined_as()
    if joined_as not in (None, args.node_name):
        raise CliError(f"{node.root} is the data dir of node {joined_as}: use another "
                       "--data-dir for another node")
    if joined_as is None:
        ca, cert, key = asyncio.run(_bootstrap(args))
        node.store(args.server, args.node_name, ca, cert, key)
        print(f"node {args.node_name} joined {args.server}: certificate issued", flush=True)
    return asyncio.run(_supervise(args, node))


async def _bootstrap(args: argparse.Namespace) -> tuple[bytes, bytes, bytes]:
    ca = await discover_ca(args.server, args.ca_cert_hash, args.token)
    cert, key = await request_client_cert(args.server, ca, args.token, args.node_name,
                                          wait_seconds=args.timeout)
    return ca, cert, key


class JoinedNode:
    """The files of a joined node under its data dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.kubeconfig = root / "kubelet.kubeconfig"
        self.kubelet_dir = root / "kubelet"
        self.cert_dir = self.kubelet_dir / "pki"
        self.logs = root / "logs"

    def joined_as(self) -> str | None:
        """The node this data dir joined as (None: not joined yet)."""
        if not self.kubeconfig.exists():
            return None
        try:
            user = load_kubeconfig(self.kubeconfig).cert_pem or b""
            name = x509.load_pem_x509_certificate(user).subject.get_attributes_for_oid(
                NameOID.COMMON_NAME)[0].value
        except (OSError, ValueError, IndexError) as e:  # KubeconfigError is a ValueError
            raise CliError(f"{self.kubeconfig}: {e}") from None
        return str(name).removeprefix("system:node:")

    def store(self, server: str, node_name: str, ca: bytes, cert: bytes, key: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        pki = self.root / "pki"
        pki.mkdir(exist_ok=True, mode=0o700)
        (pki / "ca.crt").write_bytes(ca)
        # the kubelet rotates from here; the kubeconfig keeps the first pair for the proxy
        CertStore(self.cert_dir).update(ClientCert.load(cert, key))
        write_pair(pki / "kubelet-client.crt", pki / "kubelet-client.key", (cert, key))
        write_kubeconfig(self.kubeconfig, server=server, ca_pem=ca, cert_pem=cert,
                         key_pem=key, user=f"system:node:{node_name}")


async def _supervise(args: argparse.Namespace, node: JoinedNode) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    node.logs.mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor(on_change=lambda text: print(
        f"[{time.strftime('%H:%M:%S')}] {text}", flush=True))
    address = args.node_ip or "0.0.0.0"
    kubelet = [*kyb(), "kubelet", "--kubeconfig", str(node.kubeconfig),
               "--node-name", args.node_name, "--runtime", args.runtime,
               "--root-dir", str(node.kubelet_dir), "--cert-dir", str(node.cert_dir),
               "--rotate-certificates", "--teardown-on-exit", "--address", address,
               "--port", str(args.kubelet_port),
               *(["--node-ip", args.node_ip] if args.node_ip else []),
               *(["--pod-cidr", args.pod_cidr] if args.pod_cidr else []), *args.kubelet_args]
    pod_network = [*kyb(), "pod-network", "--kubeconfig", str(node.kubeconfig),
                   "--node-name", args.node_name, "--mode", args.pod_network,
                   "--cluster-cidr", args.cluster_cidr]
    proxy = [*kyb(), "proxy", "--kubeconfig", str(node.kubeconfig),
             "--node-name", args.node_name, "--mode", args.proxy_mode,
             "--bind-address", address, "--cleanup-on-exit", *args.proxy_args]
    try:
        await supervisor.start(Component("kubelet", kubelet, node.logs / "kubelet.log",
                                         kind="kubelet", host=args.node_name))
        if not args.no_proxy:
            await supervisor.start(Component("proxy", proxy, node.logs / "proxy.log",
                                             kind="proxy", host=args.node_name))
        if args.pod_network != "none":
            await supervisor.start(Component("pod-network", pod_network,
                                             node.logs / "pod-network.log",
                                             kind="pod-network", host=args.node_name))
        print(f"node {args.node_name}: {', '.join(supervisor.components)} running (logs in "
              f"{node.logs}); Ctrl-C stops them", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await stop.wait()
    finally:
        await supervisor.stop_all([["kubelet", "proxy", "pod-network"]])
    sys.stdout.flush()
    return 0
