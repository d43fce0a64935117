"""The control-plane hosts of `kyb up --servers N`: addresses, namespaces, PKI, etcd.

Each server host runs an etcd member, an API server over the etcd cluster, and a
leader-elected scheduler and controller-manager. As root, server *i* lives in a
network namespace ``kyb<tag>-s<i>`` with address ``172.30.<tag>.<1+i>`` on the
nodes' bridge (nodes take ``.11`` on); without root the hosts share the host
network on loopback addresses ``127.1.<tag>.<i>``, so each still has its own
ports 2379/2380 and the API port.

One PKI for all servers (``DATA/pki``, made here before any server starts, so
none races another to make it): the cluster CA, the ServiceAccount key, the
encryption config, the admin and kubelet-client certificates. etcd has a CA of
its own (``DATA/pki/etcd/``), as kubeadm makes it: client certificates from the
cluster CA are handed to every kubelet, and none of them must open etcd. Each
member's certificate serves and dials its peers; the API servers dial etcd with
``apiserver-etcd-client``. Each API server's serving certificate names its own
address and the load balancer's, where clients reach it through.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from kybernetes.apiserver import pki
from kybernetes.apiserver.serviceaccount.keys import ensure_signing_key
from kybernetes.cli import node_network
from kybernetes.cli.errors import CliError
from kybernetes.storage.encryption import ensure_default_config

ETCD = "/usr/bin/etcd"
ETCD_CA_NAME = "kybernetes-etcd-ca"
CLIENT_PORT, PEER_PORT = 2379, 2380
MAX_SERVERS = 7  # .2-.8 on the bridge, below the nodes' .11


@dataclass(frozen=True)
class ServerHost:
    name: str
    index: int
    ip: str
    netns: str | None  # None: the host network

    @property
    def etcd_client_url(self) -> str:
        return f"https://{self.ip}:{CLIENT_PORT}"

    @property
    def etcd_peer_url(self) -> str:
        return f"https://{self.ip}:{PEER_PORT}"


@dataclass(frozen=True)
class EtcdTls:
    """A client's view of the etcd cluster: its CA and a client certificate."""
    cafile: Path
    certfile: Path
    keyfile: Path

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.cafile))
        context.load_cert_chain(str(self.certfile), str(self.keyfile))
        return context


def etcd_client_tls(root: Path) -> EtcdTls:
    """The API servers' (and `kyb status`') etcd client certificate in data dir `root`."""
    d = pki.pki_dir(root)
    return EtcdTls(d / "etcd" / "ca.crt", d / "apiserver-etcd-client.crt",
                   d / "apiserver-etcd-client.key")


class ServerHosts:
    """Creates and removes the server hosts' namespaces; knows their files and argv."""

    def __init__(self, root: Path, count: int, *, network: node_network.NodeNetwork) -> None:
        self.root = root
        self.network = network
        tag = network.tag
        self.hosts = [
            ServerHost(f"kyb-server-{i}", i, f"172.30.{tag}.{1 + i}", f"kyb{tag}-s{i}")
            if network.isolated else
            ServerHost(f"kyb-server-{i}", i, f"127.1.{tag}.{i}", None)
            for i in range(1, count + 1)]

    # -- files ---------------------------------------------------------------------

    @property
    def pki_path(self) -> Path:
        return pki.pki_dir(self.root)

    @property
    def etcd_pki(self) -> pki.Location:
        return pki.Location(self.pki_path / "etcd")

    @property
    def etcd_client(self) -> EtcdTls:
        return etcd_client_tls(self.root)

    def server_dir(self, host: ServerHost) -> Path:
        return self.root / "servers" / host.name

    def etcd_data_dir(self, host: ServerHost) -> Path:
        return self.root / "etcd" / host.name

    def serving_cert(self, host: ServerHost) -> tuple[Path, Path]:
        d = pki.pki_dir(self.server_dir(host))
        return d / "apiserver.crt", d / "apiserver.key"

    def member_cert(self, host: ServerHost) -> tuple[Path, Path]:
        d = self.pki_path / "etcd"
        return d / f"{host.name}.crt", d / f"{host.name}.key"

    def prepare_pki(self, *, lb_address: str, service_ip: str) -> None:
        """Everything the servers share, made once before any starts; the per-host
        certificates are issued afresh (cheap EC keys) for today's addresses."""
        pki.ensure_ca(self.root)
        pki.admin_cert(self.root)
        pki.kubelet_client_cert(self.root)
        ensure_signing_key(self.root)
        ensure_default_config(self.pki_path / "encryption-config.yaml")
        pki.ensure_ca(self.etcd_pki, common_name=ETCD_CA_NAME)
        client = self.etcd_client
        pki.write_pair(client.certfile, client.keyfile,
                       pki.issue_client_cert(self.etcd_pki, "kube-apiserver-etcd-client"))
        for host in self.hosts:
            pki.write_pair(*self.member_cert(host), pki.issue_serving_cert(
                self.etcd_pki, host.name, [host.ip, "127.0.0.1", "localhost"], peer=True))
            names = pki.api_serving_names([host.ip, lb_address, service_ip])
            pki.write_pair(*self.serving_cert(host),
                           pki.issue_serving_cert(self.root, "kube-apiserver", names))

    # -- processes -----------------------------------------------------------------

    def command_prefix(self, host: ServerHost) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{host.netns}", "--"] if host.netns else []

    def etcd_argv(self, host: ServerHost, *, cluster_token: str) -> list[str]:
        """The member's etcd: client and peer TLS from the etcd CA. The initial-cluster
        flags count only on the first start (an existing data dir is its own truth)."""
        cert, key = self.member_cert(host)
        ca = str(self.etcd_client.cafile)
        peers = ",".join(f"{h.name}={h.etcd_peer_url}" for h in self.hosts)
        return [
            ETCD, "--name", host.name, "--data-dir", str(self.etcd_data_dir(host)),
            "--listen-client-urls", host.etcd_client_url,
            "--advertise-client-urls", host.etcd_client_url,
            "--listen-peer-urls", host.etcd_peer_url,
            "--initial-advertise-peer-urls", host.etcd_peer_url,
            "--initial-cluster", peers, "--initial-cluster-state", "new",
            "--initial-cluster-token", cluster_token,
            "--cert-file", str(cert), "--key-file", str(key), "--trusted-ca-file", ca,
            "--client-cert-auth",
            "--peer-cert-file", str(cert), "--peer-key-file", str(key),
            "--peer-trusted-ca-file", ca, "--peer-client-cert-auth",
            "--log-level", "warn", "--logger", "zap",
        ]

    def store_url(self, host: ServerHost) -> str:
        """Every member, the host's own first (the client tries them in order)."""
        ordered = [host, *(h for h in self.hosts if h is not host)]
        return "etcds://" + ",".join(f"{h.ip}:{CLIENT_PORT}" for h in ordered)

    def apiserver_flags(self, host: ServerHost, port: int) -> list[str]:
        cert, key = self.serving_cert(host)
        client = self.etcd_client
        return ["--data-dir", str(self.server_dir(host)), "--pki-dir", str(self.pki_path),
                "--tls-cert-file", str(cert), "--tls-private-key-file", str(key),
                "--store", self.store_url(host), "--etcd-cafile", str(client.cafile),
                "--etcd-certfile", str(client.certfile),
                "--etcd-keyfile", str(client.keyfile),
                "--port", str(port), "--bind-address", host.ip,
                "--advertise-address", host.ip]

    # -- network -------------------------------------------------------------------

    def setup(self) -> None:
        """A namespace per host on the nodes' bridge (after the node network's setup)."""
        if not self.network.isolated:
            return
        self.teardown()
        bridge, host_ip = self.network.bridge, self.network.host_ip
        for host in self.hosts:
            assert host.netns
            outer, inner = f"{bridge}s{host.index}", f"{bridge}t{host.index}"
            node_network._ip("netns", "add", host.netns)
            node_network._ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            node_network._ip("link", "set", outer, "master", bridge, "up")
            node_network._ip("link", "set", inner, "netns", host.netns)
            node_network._ns(host.netns, "ip", "link", "set", "lo", "up")
            node_network._ns(host.netns, "ip", "link", "set", inner, "name", "eth0")
            node_network._ns(host.netns, "ip", "addr", "add", f"{host.ip}/24", "dev", "eth0")
            node_network._ns(host.netns, "ip", "link", "set", "eth0", "up")
            node_network._ns(host.netns, "ip", "route", "add", "default", "via", host_ip)

    def teardown(self) -> None:
        """Remove the hosts' namespaces (nothing when the bridge of this tag is
        another cluster's: then so are they)."""
        if not self.network.isolated or self.network.owner() not in (
                None, self.network.data_dir):
            return
        for host in self.hosts:
            if host.netns:
                node_network._ip("netns", "del", host.netns, check=False)


def check_data_dir(root: Path, servers: int, *, move: bool = False) -> None:
    """Refuse to switch a data dir from N servers (etcd) back to one (SQLite) or to
    another member count. One to N is refused too unless `move` (`kyb up`, see
    `store_move`: etcd data dirs beside a ``state.db`` are a move that did not finish)."""
    etcd = root / "etcd"
    members = sorted(p.name for p in etcd.iterdir()) if etcd.is_dir() else []
    sqlite = (root / "state.db").exists()
    if servers == 1 and members:
        raise CliError(f"{root} holds a {len(members)}-server cluster (etcd in {etcd}): "
                       f"start it with --servers {len(members)}; moving back to one server "
                       "(SQLite) is not built")
    if servers > 1 and sqlite and not move:
        raise CliError(f"{root} holds a one-server cluster (SQLite state.db): `kyb up "
                       f"--servers {servers}` moves it to etcd; restoring over it is not built")
    if servers > 1 and members and len(members) != servers and not sqlite:
        raise CliError(f"{root} holds a {len(members)}-server cluster: adding or removing "
                       f"etcd members is not built yet; start it with --servers {len(members)}")


async def member_status(session: aiohttp.ClientSession, url: str,
                        context: ssl.SSLContext) -> dict[str, Any]:
    """One etcd member: {"healthy", "id", "leader"} from /health and the maintenance
    Status call of etcd's JSON gateway (a member that does not answer is unhealthy)."""
    timeout = aiohttp.ClientTimeout(total=2)
    try:
        async with session.get(f"{url}/health", ssl=context, timeout=timeout) as response:
            health = await response.json(content_type=None)
        async with session.post(f"{url}/v3/maintenance/status", json={}, ssl=context,
                                timeout=timeout) as response:
            status = await response.json(content_type=None)
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
        return {"healthy": False, "id": None, "leader": None}
    return {"healthy": health.get("health") == "true",
            "id": status.get("header", {}).get("member_id"), "leader": status.get("leader")}


async def members_status(urls: dict[str, str], tls: EtcdTls) -> list[dict[str, Any]]:
    """`kyb status`' etcd members: name, url, health and whether it leads."""
    context = tls.context()
    async with aiohttp.ClientSession() as session:
        found = await asyncio.gather(*(member_status(session, url, context)
                                       for url in urls.values()))
    leaders = {f["leader"] for f in found if f["healthy"] and f["leader"]}
    return [{"name": name, "url": url, "healthy": f["healthy"],
             "leader": bool(f["id"]) and f["id"] in leaders}
            for (name, url), f in zip(urls.items(), found, strict=True)]
