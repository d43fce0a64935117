"""The control plane `kyb up` starts: one API server over SQLite, or with ``--servers N``
N server hosts over an etcd cluster behind a load balancer.

With N servers, in order: every host's etcd member (wait until each is healthy),
every host's API server (wait until each is ready), `kyb api-lb` on the host where
one server alone would listen (the admin kubeconfig, the DNS server and the
dashboard point there), then on every host a scheduler and a controller-manager
with ``--leader-elect``, each talking to its own host's API server as kubeadm's
static pods do. Each node (in its own namespace) gets a `kyb api-lb` of its own on
127.0.0.1 for its kubelet, proxy and pod-network agent, as k3s' agents have; all of
them survive the loss of any one server host.
"""

from __future__ import annotations

import argparse
import ipaddress
import ssl
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from kybernetes.apiserver import pki
from kybernetes.cli import cluster_dns, identities, store_move
from kybernetes.cli.cluster_dir import ClusterDir
from kybernetes.cli.node_network import NodeAddressing, NodeNetwork
from kybernetes.cli.servers import ServerHost, ServerHosts, members_status
from kybernetes.client.kubeconfig import write_kubeconfig

Check = Callable[[], Awaitable[str | None]]


class Launcher(Protocol):
    """What the control plane needs from `kyb up`'s run."""

    async def launch(self, name: str, argv: list[str], *, kind: str, host: str,
                     url: str = "") -> None: ...

    async def until(self, check: Check, what: str) -> None: ...

    def note(self, text: str) -> None: ...


def kyb() -> list[str]:
    """How to run a `kyb` subcommand as a process of its own."""
    return [sys.executable, "-m", "kybernetes.cli.main"]


def controller_manager_argv(cdir: ClusterDir, network: NodeNetwork, kubeconfig: Path,
                            extra: list[str]) -> list[str]:
    ca = pki.pki_dir(cdir.root)
    return [*kyb(), "controller-manager", "--kubeconfig", str(kubeconfig),
            "--cluster-cidr", network.cluster_cidr,
            "--cluster-signing-cert-file", str(ca / "ca.crt"),
            "--cluster-signing-key-file", str(ca / "ca.key"),
            "--local-path-root", str(cdir.root / "local-path"),
            # kubeadm's: the two controllers machines joining with tokens need
            "--controllers", "*,bootstrapsigner,tokencleaner", *extra]


def scheduler_argv(kubeconfig: Path, extra: list[str]) -> list[str]:
    return [*kyb(), "scheduler", "--kubeconfig", str(kubeconfig), *extra]


class ServerCluster:
    """`kyb up --servers N`: the server hosts, their processes and the balancer."""

    def __init__(self, cdir: ClusterDir, args: argparse.Namespace,
                 network: NodeNetwork) -> None:
        self.cdir = cdir
        self.args = args
        self.network = network
        self.hosts = ServerHosts(cdir.root, args.servers, network=network)
        self.server = f"https://{network.host_ip}:{args.port}"

    def api_url(self, host: ServerHost) -> str:
        return f"https://{host.ip}:{self.args.port}"

    # -- bring-up ------------------------------------------------------------------

    async def start(self, run: Launcher) -> None:
        hosts = self.hosts
        service_ip = str(ipaddress.ip_network(
            cluster_dns.service_range(self.args.apiserver_args), strict=False)[1])
        hosts.prepare_pki(lb_address=self.network.host_ip, service_ip=service_ip)
        moving = store_move.pending(self.cdir.root)
        if moving:
            store_move.clear_partial(self.cdir.root / "etcd")
        for host in hosts.hosts:
            await run.launch(f"etcd-{host.name}", [
                *hosts.command_prefix(host),
                *hosts.etcd_argv(host, cluster_token=f"kyb-{self.network.tag}")],
                kind="etcd", host=host.name, url=host.etcd_client_url)
        await run.until(self._etcd_healthy, "every etcd member to be healthy")
        if moving:  # before any API server starts: nothing else writes
            run.note(f"moving the one-server cluster's SQLite store into etcd "
                     f"(a copy stays in {store_move.KEPT_COPY})")
            moved = await store_move.sqlite_to_etcd(
                self.cdir.root, hosts.store_url(hosts.hosts[0]), hosts.etcd_client, run.note)
            run.note(moved.summary())
        for host in hosts.hosts:
            await run.launch(f"apiserver-{host.name}", [
                *hosts.command_prefix(host), *kyb(), "apiserver",
                *hosts.apiserver_flags(host, self.args.port),
                # a controller manager runs here, so pods get their identity
                "--enable-admission-plugins", "ServiceAccount", *self.args.apiserver_args],
                kind="apiserver", host=host.name, url=self.api_url(host))
        await run.until(self._apiservers_ready, "every API server to be ready")
        self._write_admin_kubeconfig()
        bind = "0.0.0.0" if self.network.isolated else self.network.host_ip
        await run.launch("api-lb", self._lb_argv(
            bind, self._kubeconfig("api-lb", identities.PROXY, self.server)),
            kind="api-lb", host="host", url=self.server)
        for host in hosts.hosts:
            local = self.api_url(host)
            prefix = hosts.command_prefix(host)
            await run.launch(f"controller-manager-{host.name}", [
                *prefix, *controller_manager_argv(
                    self.cdir, self.network,
                    self._kubeconfig(f"controller-manager-{host.name}",
                                     identities.CONTROLLER_MANAGER, local),
                    ["--leader-elect", *self.args.controller_manager_args])],
                kind="controller-manager", host=host.name)
            await run.launch(f"scheduler-{host.name}", [
                *prefix, *scheduler_argv(
                    self._kubeconfig(f"scheduler-{host.name}", identities.SCHEDULER, local),
                    ["--leader-elect", *self.args.scheduler_args])],
                kind="scheduler", host=host.name)

    def node_server(self) -> str:
        """Where a node's components reach the API: the balancer on the node itself
        (in its namespace, as k3s' agent load balancer), or the host's when nodes share
        the host network."""
        return f"https://127.0.0.1:{self.args.port}" if self.network.isolated else self.server

    async def start_node_lb(self, run: Launcher, node: NodeAddressing,
                            prefix: list[str]) -> None:
        """`kyb api-lb` on 127.0.0.1 of the node's own namespace, before its kubelet."""
        if not self.network.isolated:
            return
        server = self.node_server()
        await run.launch(f"api-lb-{node.name}", [
            *prefix, *self._lb_argv("127.0.0.1", self._kubeconfig(
                f"api-lb-{node.name}", identities.PROXY, server))],
            kind="api-lb", host=node.name, url=server)

    def _lb_argv(self, bind: str, kubeconfig: Path) -> list[str]:
        port = str(self.args.port)
        return [*kyb(), "api-lb", "--bind-address", bind, "--port", port,
                *(a for h in self.hosts.hosts for a in ("--server", f"{h.ip}:{port}")),
                "--kubeconfig", str(kubeconfig)]

    def _kubeconfig(self, component: str, identity: identities.Identity, server: str) -> Path:
        return identities.component_kubeconfig(self.cdir, server, component, identity)

    def _write_admin_kubeconfig(self) -> None:
        """The admin kubeconfig points at the balancer, never at one server."""
        cert, key = pki.admin_cert(self.cdir.root)
        write_kubeconfig(self.cdir.kubeconfig, server=self.server,
                         ca_pem=(pki.pki_dir(self.cdir.root) / "ca.crt").read_bytes(),
                         cert_pem=cert.read_bytes(), key_pem=key.read_bytes(),
                         user=pki.ADMIN_USER, cluster="kybernetes")

    async def _etcd_healthy(self) -> str | None:
        members = await members_status(self.etcd_urls(), self.hosts.etcd_client)
        sick = [m["name"] for m in members if not m["healthy"]]
        return f"not healthy yet: {', '.join(sick)}" if sick else None

    async def _apiservers_ready(self) -> str | None:
        ready = await apiservers_ready(
            {h.name: self.api_url(h) for h in self.hosts.hosts},
            pki.pki_dir(self.cdir.root) / "ca.crt")
        waiting = [name for name, ok in ready.items() if not ok]
        return f"not ready yet: {', '.join(waiting)}" if waiting else None

    # -- what `kyb status` and teardown need ---------------------------------------

    def etcd_urls(self) -> dict[str, str]:
        return {h.name: h.etcd_client_url for h in self.hosts.hosts}

    def status(self) -> dict[str, Any]:
        """For the run's status file: the server hosts and their etcd members."""
        return {"servers": [{"name": h.name, "ip": h.ip} for h in self.hosts.hosts],
                "etcd": [{"name": n, "url": u} for n, u in self.etcd_urls().items()]}

    def stop_order(self) -> list[list[str]]:
        """After the nodes: their balancers, schedulers and controller-managers, then
        the host's balancer and the API servers, then etcd."""
        names = [h.name for h in self.hosts.hosts]
        return [[f"api-lb-{n.name}" for n in self.network.nodes]
                + [f"scheduler-{n}" for n in names] + [f"controller-manager-{n}" for n in names],
                ["api-lb", *(f"apiserver-{n}" for n in names)],
                [f"etcd-{n}" for n in names]]


async def apiservers_ready(urls: dict[str, str], cafile: Path) -> dict[str, bool]:
    """Whether each API server answers GET /readyz with 200."""
    context = ssl.create_default_context(cafile=str(cafile))
    timeout = aiohttp.ClientTimeout(total=2)
    found: dict[str, bool] = {}
    async with aiohttp.ClientSession() as session:
        for name, url in urls.items():
            try:
                async with session.get(f"{url}/readyz", ssl=context,
                                       timeout=timeout) as response:
                    found[name] = response.status == 200
            except (aiohttp.ClientError, OSError, TimeoutError):
                found[name] = False
    return found
