"""`kyb up`: a whole cluster on this machine, one supervised process per component.

Order: network layout → API server (wait for /readyz) → controller-manager and
scheduler → for each node its kubelet and proxy → wait until every node is Ready.
In the foreground a status line follows the cluster and Ctrl-C stops it all;
with ``--detach`` the supervisor moves to the background and this command returns
once the cluster is ready (``kyb down`` stops it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from kybernetes.api import bootstrap_tokens
from kybernetes.api.errors import ApiError
from kybernetes.cli import (
    cluster_dir,
    cluster_dns,
    dashboard,
    identities,
    network_policy,
    pod_network,
    readiness,
    store_move,
    token,
)
from kybernetes.cli.control_plane import (
    ServerCluster,
    controller_manager_argv,
    kyb,
    scheduler_argv,
)
from kybernetes.cli.controller_manager import parse_duration
from kybernetes.cli.errors import CliError
from kybernetes.cli.node_network import NodeAddressing, NodeNetwork, is_root
from kybernetes.cli.registry import DEFAULT_PORT, REGISTRY, ClusterRegistry
from kybernetes.cli.servers import ETCD, MAX_SERVERS, check_data_dir
from kybernetes.cli.supervisor import Component, Supervisor
from kybernetes.client import ApiClient
from kybernetes.kubelet.runtime.containerd_daemon import CONTAINERD, Layout

HELP = "start a whole cluster on this machine (API server, controllers, scheduler, nodes)"
COMPONENT_ARG_FLAGS = ("apiserver", "controller-manager", "scheduler", "kubelet", "proxy",
                       "dns")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="where the cluster keeps its state (default ~/.kyb)")
    parser.add_argument("--nodes", type=int, default=1, help="how many nodes (default 1)")
    parser.add_argument("--runtime", choices=("auto", "process", "docker", "containerd", "fake"),
                        default="auto", help="how nodes run containers (default auto; "
                        "containerd: one `kyb containerd` per node, CRI over its socket)")
    parser.add_argument("--store", help="store URL (default sqlite in the data dir)")
    parser.add_argument("--servers", type=int, default=1,
                        help="control-plane hosts (default 1: one API server over SQLite); "
                        "N > 1: each runs an etcd member, an API server, a leader-elected "
                        "scheduler and controller-manager, behind a load balancer on --port")
    parser.add_argument("--port", type=int, default=6443, help="API server port (default 6443)")
    parser.add_argument("--proxy-mode", choices=("userspace", "iptables"), default="userspace")
    parser.add_argument("--pod-network", choices=("host-gw", "vxlan"), default="host-gw",
                        help="how nodes reach each other's pods with per-node networks "
                        "(root): a `kyb pod-network` agent per node routes by host-gw or "
                        "a VXLAN overlay (default host-gw)")
    parser.add_argument("--dashboard-port", type=int, default=8001,
                        help="serve the web dashboard on this port (default 8001; 0: none)")
    parser.add_argument("--dashboard-address", default="127.0.0.1",
                        help="address to serve the dashboard on (default 127.0.0.1: HTTP; "
                        "any other: HTTPS with a certificate from the cluster CA)")
    parser.add_argument("--registry", action="store_true",
                        help="run an image registry (Debian's docker-registry, plain HTTP) "
                        "on the host, its storage in the data dir; nodes pull "
                        "localhost:PORT/... from it; `kyb image load` pushes to it")
    parser.add_argument("--registry-port", type=int, default=DEFAULT_PORT,
                        help=f"the registry's port (default {DEFAULT_PORT})")
    parser.add_argument("--registry-address", default="0.0.0.0",
                        help="the address it listens on (default 0.0.0.0: nodes in their "
                        "own network namespaces reach it at the node bridge's address; "
                        "another must be one the nodes reach)")
    parser.add_argument("--detach", action="store_true",
                        help="return once the cluster is ready; stop it with `kyb down`")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds to wait for the cluster to be ready (default 120)")
    parser.add_argument("--kubelet-cert-ttl", type=parse_duration, default=None,
                        metavar="DURATION",
                        help="lifetime of the kubelets' first client certificates (e.g. 30s, "
                        "1h; default 10 years); they rotate at 70-90%% of it")
    for name in COMPONENT_ARG_FLAGS:
        parser.add_argument(f"--{name}-arg", action="append", default=[], metavar="FLAG",
                            dest=f"{name.replace('-', '_')}_args",
                            help=f"hand FLAG to every {name} (repeatable)")
    parser.add_argument("--supervise", action="store_true", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    if args.nodes < 1:
        raise CliError("--nodes must be at least 1")
    if args.kubelet_cert_ttl is not None and args.kubelet_cert_ttl <= 0:
        raise CliError("--kubelet-cert-ttl must be longer than 0s")
    if not 1 <= args.servers <= MAX_SERVERS:
        raise CliError(f"--servers must be between 1 and {MAX_SERVERS}")
    if args.servers > 1 and args.store:
        raise CliError("--store is for one server: --servers N runs an etcd cluster of its own")
    if args.servers > 1 and not os.path.exists(ETCD):
        raise CliError(f"--servers {args.servers} needs etcd at {ETCD}: install Debian's "
                       "etcd-server")
    cdir = cluster_dir.resolve(args.data_dir)
    cdir.prepare()
    if not args.supervise and cdir.supervisor_pid():
        raise CliError(f"a cluster is already running from {cdir.root} "
                       f"(pid {cdir.supervisor_pid()}): `kyb down --data-dir {cdir.root}` first")
    check_data_dir(cdir.root, args.servers, move=True)
    if args.servers > 1 and store_move.pending(cdir.root):
        store_move.check_free(cdir.root)
    if not args.supervise:
        _check_port_free(args.port)
    if args.registry and not os.path.exists(REGISTRY):
        raise CliError(f"--registry needs {REGISTRY}: install Debian's docker-registry")
    if args.registry and not args.supervise:
        _check_port_free(args.registry_port, flag="--registry-port")
    runtime = resolve_runtime(args.runtime)
    if args.detach and not args.supervise:
        return _detach(args, cdir, runtime)
    return asyncio.run(ClusterRun(args, cdir, runtime).run())


def resolve_runtime(choice: str) -> str:
    if choice != "auto":
        if choice == "docker" and not docker_available():
            raise CliError("no Docker Engine answers on /var/run/docker.sock: start dockerd "
                           "or use --runtime process")
        if choice == "containerd" and not Path(CONTAINERD).exists():
            raise CliError(f"--runtime containerd needs {CONTAINERD} (Debian's containerd)")
        if choice == "containerd" and os.geteuid() != 0:
            raise CliError("--runtime containerd needs root (containerd, runc and CNI do)")
        return choice
    picked = "docker" if docker_available() else "process"
    why = "a Docker Engine answers" if picked == "docker" else "no Docker Engine found"
    print(f"runtime: {picked} ({why})", flush=True)
    return picked


def docker_available() -> bool:
    sock_path = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not sock_path.startswith("unix://"):
        return False
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(sock_path[len("unix://"):])
            s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b" 200 " in s.recv(128)
    except OSError:
        return False


def _check_port_free(port: int, *, flag: str = "--port") -> None:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            raise CliError(f"port {port} is in use: stop what listens there or pass "
                           f"{flag}") from None


def _detach(args: argparse.Namespace, cdir: cluster_dir.ClusterDir, runtime: str) -> int:
    # argparse keeps the last of a repeated flag: these override what the user gave.
    argv = [*_kyb(), *sys.argv[1:], "--supervise", "--runtime", runtime,
            "--data-dir", str(cdir.root)]
    cdir.status_file.unlink(missing_ok=True)
    with open(cdir.logs / "supervisor.log", "ab") as log:
        subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    deadline = time.monotonic() + args.timeout + 15
    while time.monotonic() < deadline:
        status = cdir.read_status() or {}
        if status.get("phase") == "Ready":
            _print_ready(cdir, status)
            return 0
        if status.get("phase") == "Failed":
            raise CliError(f"the cluster did not start: {status.get('message')} "
                           f"(logs in {cdir.logs})")
        time.sleep(0.2)
    raise CliError(f"the cluster was not ready in time: see {cdir.logs}/ and `kyb down`")


def _print_ready(cdir: cluster_dir.ClusterDir, status: dict[str, Any]) -> None:
    print(f"cluster ready: {len(status.get('nodes', []))} node(s), runtime "
          f"{status.get('runtime')}, API at {status.get('server')}")
    print(f"  export KUBECONFIG={cdir.kubeconfig}")
    print("  kubectl get nodes")
    if status.get("dashboard"):
        print(f"  dashboard: {status['dashboard']} (log in: kyb dashboard-url --data-dir "
              f"{cdir.root})")
    if status.get("registry"):
        print(f"  image registry: {status['registry']['name']} (push with: kyb image load "
              f"FILE.tar --data-dir {cdir.root})")
    print(f"  stop it with: kyb down --data-dir {cdir.root}")
    if status.get("join"):
        print(f"  join a machine (token valid 24h): {status['join']}")


class ClusterRun:
    """One `kyb up`: builds the cluster, watches it, tears it down."""

    def __init__(self, args: argparse.Namespace, cdir: cluster_dir.ClusterDir,
                 runtime: str) -> None:
        self.args = args
        self.cdir = cdir
        self.runtime = runtime
        self.isolated = is_root() and os.environ.get("KYB_HOST_NETWORK") != "1"
        self.network = NodeNetwork(str(cdir.root), args.nodes, isolated=self.isolated)
        self.servers = (ServerCluster(cdir, args, self.network) if args.servers > 1
                        else None)
        self.supervisor = Supervisor(on_change=self._event)
        self.registry = (ClusterRegistry(cdir, args.registry_port, args.registry_address,
                                         self.network.host_ip) if args.registry else None)
        self.phase = "Starting"
        self.message = ""
        self.server = f"https://{self.network.host_ip}:{args.port}"
        self.dashboard = ""
        self.join_command = ""
        self._stop = asyncio.Event()
        self._foreground = not args.supervise
        # One admin client from when the API server answers until the cluster stops.
        self.client: ApiClient | None = None

    def _event(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"[{stamp}] {text}", flush=True)
        self._write_status()

    def _write_status(self) -> None:
        self.cdir.write_status({
            "phase": self.phase, "message": self.message, "pid": os.getpid(),
            "runtime": self.runtime, "server": self.server,
            "kubeconfig": str(self.cdir.kubeconfig), "dashboard": self.dashboard,
            "join": self.join_command,
            # what `kyb join` is told to run on a machine joining (see token.create)
            **({"pod_network": {"mode": self.args.pod_network,
                                "cluster_cidr": self.network.cluster_cidr}}
               if self.isolated else {}),
            "nodes": [n.name for n in self.network.nodes],
            "components": self.supervisor.summaries(),
            **(self.servers.status() if self.servers is not None else {}),
            **({"registry": self.registry.status()} if self.registry is not None else {}),
        })

    async def run(self) -> int:
        self.cdir.pid_file.write_text(str(os.getpid()))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop.set)
        try:
            await self._bring_up()
            await self._offer_join()
            self.phase = "Ready"
            self._event(f"cluster ready: {self.args.nodes} node(s); "
                        f"export KUBECONFIG={self.cdir.kubeconfig}"
                        + (f"; dashboard {self.dashboard}" if self.dashboard else ""))
            await self._follow()
            return 0
        except CliError as e:
            self.phase, self.message = "Failed", str(e)
            self._write_status()
            raise
        finally:
            # a start that failed stays Failed, so `kyb up --detach` reports why
            failed = self.phase == "Failed"
            self.phase = "Stopping"
            if self.client is not None:
                await self.client.aclose()
            await self._tear_down()
            self.phase = "Failed" if failed else "Stopped"
            self._write_status()
            self.cdir.pid_file.unlink(missing_ok=True)

    async def _bring_up(self) -> None:
        await asyncio.to_thread(self.network.setup)
        if self.servers is not None:
            await asyncio.to_thread(self.servers.hosts.setup)
            await self.servers.start(self)
        else:
            await self._start("apiserver", self._apiserver_argv(), kind="apiserver",
                              url=self.server)
        await self._until(readiness.api_ready(self.cdir), "the API server")
        self.client = client = readiness.admin_client(self.cdir)
        if self.servers is None:
            await self._start("controller-manager", controller_manager_argv(
                self.cdir, self.network,
                self._kubeconfig("controller-manager", identities.CONTROLLER_MANAGER),
                self.args.controller_manager_args))
            await self._start("scheduler", scheduler_argv(
                self._kubeconfig("scheduler", identities.SCHEDULER), self.args.scheduler_args))
        await self._start_registry()
        dns_args = await self._start_dns()
        await self._start_dashboard()
        await self._allow_pod_network()
        for node in self.network.nodes:
            prefix = self.network.command_prefix(node)
            root = self.cdir.node_dir(node.name)
            root.mkdir(parents=True, exist_ok=True)
            port = "10250" if node.netns else str(10250 + node.index)
            if self.servers is not None:
                await self.servers.start_node_lb(self, node, prefix)
            runtime_args = await self._start_containerd(node.name, prefix, root)
            await self._start(f"kubelet-{node.name}", [
                *prefix, *_kyb(), "kubelet", "--kubeconfig",
                str(self._kubeconfig(f"kubelet-{node.name}", identities.kubelet(node.name),
                                     lifetime=self._kubelet_cert_ttl)),
                "--node-name", node.name, "--runtime", self.runtime, "--root-dir", str(root),
                "--pod-cidr", node.pod_cidr, "--node-ip", node.ip, "--address", node.ip,
                "--port", port, "--teardown-on-exit", "--rotate-certificates",
                *runtime_args, *dns_args, *self.args.kubelet_args])
            await self._start(f"proxy-{node.name}", [
                *prefix, *_kyb(), "proxy", "--kubeconfig",
                str(self._kubeconfig(f"proxy-{node.name}", identities.PROXY)),
                "--node-name", node.name, "--mode", self.args.proxy_mode,
                "--bind-address", node.ip,
                # on the host network its rules would outlive the cluster (in a node's
                # namespace they go with it)
                *([] if node.netns else ["--cleanup-on-exit"]), *self.args.proxy_args])
            if self.isolated:
                await self._start(f"pod-network-{node.name}", [
                    *prefix, *_kyb(), "pod-network", "--kubeconfig",
                    str(self._kubeconfig(f"pod-network-{node.name}", pod_network.ACCESS.identity)),
                    "--node-name", node.name, "--mode", self.args.pod_network,
                    "--cluster-cidr", self.network.cluster_cidr])
                await self._start(f"network-policy-{node.name}", [
                    *prefix, *_kyb(), "network-policy", "--kubeconfig",
                    str(self._kubeconfig(f"network-policy-{node.name}",
                                         network_policy.ACCESS.identity)),
                    "--node-name", node.name])
        names = [n.name for n in self.network.nodes]
        await self._until(readiness.nodes_ready(client, names), "every node to be Ready")

    async def _offer_join(self) -> None:
        """A fresh bootstrap token and the `kyb join` command for it (k3s and kubeadm
        print theirs at the end of a start); a failure leaves the cluster usable."""
        try:
            self.join_command = await token.create(
                self.cdir, bootstrap_tokens.new_token(), ttl=token.DEFAULT_TTL,
                description="made by kyb up")
        except (ApiError, OSError, TimeoutError) as e:
            self._event(f"no join token made: {e} (`kyb token create` makes one)")
            return
        self._event(f"join a machine: {self.join_command}")

    async def _start_containerd(self, node: str, prefix: list[str], root: Path) -> list[str]:
        """With --runtime containerd: the node's own containerd (on the node's network),
        stopped after its kubelet; the kubelet flags that point at it."""
        if self.runtime != "containerd":
            return []
        layout = Layout((root / "containerd").resolve())
        name = f"containerd-{node}"
        mirrors = self.registry.mirrors() if self.registry is not None else {}
        await self.supervisor.start(Component(
            name, [*prefix, *_kyb(), "containerd", "--root-dir", str(layout.dir),
                   *(f"--registry-mirror={n}={url}" for n, url in mirrors.items())],
            self.cdir.logs / f"{name}.log", stop_timeout=90.0))

        async def answers() -> str | None:
            if layout.ready_file.exists():
                return None
            return f"not ready yet (see {layout.dir / 'containerd.log'})"
        await self._until(answers, f"containerd of {node}")
        return ["--containerd-endpoint", layout.endpoint]

    async def _start_registry(self) -> None:
        """With --registry: the image registry on the host, before any node (their
        runtimes are configured to pull from it)."""
        registry = self.registry
        if registry is None:
            return
        registry.write_config()
        await self._start("registry", registry.argv(), kind="registry",
                          url=registry.display_url)

        async def answers() -> str | None:
            return await asyncio.to_thread(registry.answers)
        await self._until(answers, "the image registry")

    async def _start_dashboard(self) -> None:
        """The web UI: it holds no credentials; users log in with their own tokens
        (`kyb dashboard-url`). HTTP on loopback, HTTPS from the cluster CA elsewhere."""
        port, address = self.args.dashboard_port, self.args.dashboard_address
        if not port:
            return
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((address, port))
            except OSError as e:
                self._event(f"dashboard not started: cannot serve on {address}:{port} "
                            f"({e.strerror}; see --dashboard-port, --dashboard-address)")
                return
        argv, url = dashboard.for_cluster(self.cdir, self.server, address, port)
        await self._start("dashboard", [*_kyb(), "dashboard", *argv])
        self.dashboard = url

    async def _allow_pod_network(self) -> None:
        """The pod-network and network-policy agents' ClusterRoles and bindings
        (per-node networks only: on the host network every pod CIDR is on the one host
        already, and pods have no addresses of their own to filter)."""
        if not self.isolated:
            return
        assert self.client is not None
        client = self.client

        async def granted() -> str | None:
            try:
                await pod_network.ACCESS.ensure(client)
                await network_policy.ACCESS.ensure(client)
            except (ApiError, OSError) as e:
                return f"pod-network/network-policy ClusterRoles not made yet: {e}"
            return None
        await self._until(granted, "the pod-network and network-policy ClusterRoles")

    async def _start_dns(self) -> list[str]:
        """`kyb dns` on the host end of the node bridge, behind the kube-dns Service;
        the kubelet flags that point pods at it. Only with per-node networks: on the
        host network pods have neither a resolv.conf of their own nor port 53."""
        if not self.isolated:
            return []
        address = self.network.host_ip
        await self._start("dns", [
            *_kyb(), "dns", "--kubeconfig",
            str(self._kubeconfig("dns", cluster_dns.IDENTITY)),
            "--bind-address", address, "--port", "53", *self.args.dns_args])
        ip = cluster_dns.dns_ip(cluster_dns.service_range(self.args.apiserver_args))
        assert self.client is not None
        client = self.client

        async def service() -> str | None:
            try:
                await cluster_dns.ensure(client, cluster_ip=ip, address=address, port=53)
            except (ApiError, OSError) as e:
                return f"kube-dns Service not made yet: {e}"
            return None
        await self._until(service, "the kube-dns Service")
        return ["--cluster-dns", ip, "--cluster-domain", "cluster.local"]

    def _kubeconfig(self, component: str, identity: identities.Identity, *,
                    lifetime: timedelta | None = None) -> Path:
        """The component's own least-privilege credentials (never the admin's); a
        node's components reach the API through the node's own balancer."""
        server = self.server
        if self.servers is not None and self._node_of(component) is not None:
            server = self.servers.node_server()
        return identities.component_kubeconfig(self.cdir, server, component, identity,
                                               lifetime=lifetime)

    def _node_of(self, component: str) -> NodeAddressing | None:
        """The node a component runs on: its name is `<kind>-<node>`."""
        return next((n for n in self.network.nodes if component.endswith(f"-{n.name}")),
                    None)

    @property
    def _kubelet_cert_ttl(self) -> timedelta | None:
        ttl = self.args.kubelet_cert_ttl
        return None if ttl is None else timedelta(seconds=ttl)

    def _apiserver_argv(self) -> list[str]:
        argv = [*_kyb(), "apiserver", "--data-dir", str(self.cdir.root),
                "--port", str(self.args.port), "--bind-address", "0.0.0.0",
                "--advertise-address", self.network.host_ip,
                # a controller manager runs here, so pods get their identity as in
                # Kubernetes (a bare `kyb apiserver` keeps the plugin opt-in)
                "--enable-admission-plugins", "ServiceAccount"]
        if self.args.store:
            argv += ["--store", self.args.store]
        return argv + list(self.args.apiserver_args)

    async def _start(self, name: str, argv: list[str], *, kind: str = "", host: str = "host",
                     url: str = "") -> None:
        if not kind:  # a node's component is `<kind>-<node>`, the others just `<kind>`
            node = self._node_of(name)
            kind, host = (name, host) if node is None else (name[:-len(node.name) - 1],
                                                            node.name)
        await self.supervisor.start(Component(name, argv, self.cdir.logs / f"{name}.log",
                                              kind=kind, host=host, url=url))

    async def launch(self, name: str, argv: list[str], *, kind: str, host: str,
                     url: str = "") -> None:
        """A control-plane component of a server host (see control_plane.Launcher)."""
        await self._start(name, argv, kind=kind, host=host, url=url)

    def note(self, text: str) -> None:
        self._event(text)

    async def until(self, check: Any, what: str) -> None:
        await self._until(check, what)

    async def _until(self, check: Any, what: str) -> None:
        """Wait for `check` (an async callable returning a message or None)."""
        self.message = f"waiting for {what}"
        self._write_status()
        deadline = time.monotonic() + self.args.timeout
        last = ""
        while time.monotonic() < deadline:
            if self._stop.is_set():
                raise CliError("interrupted while starting")
            last = await check()
            if last is None:
                self.message = ""
                return
            await asyncio.sleep(0.2)
        raise CliError(f"timed out waiting for {what}: {last} (logs in {self.cdir.logs})")

    async def _follow(self) -> None:
        """Until Ctrl-C / SIGTERM: keep the status file fresh, show a live line."""
        assert self.client is not None
        names = [n.name for n in self.network.nodes]
        while not self._stop.is_set():
            line = await readiness.one_line_status(self.client, names, self.supervisor)
            if self._foreground and sys.stdout.isatty():
                print(f"\r\x1b[K{line}", end="", flush=True)
            self._write_status()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 2.0)
        if self._foreground and sys.stdout.isatty():
            print()

    async def _tear_down(self) -> None:
        self._event("stopping the cluster")
        nodes = [n.name for n in self.network.nodes]
        await self.supervisor.stop_all([
            [f"kubelet-{n}" for n in nodes] + [f"proxy-{n}" for n in nodes]
            + [f"pod-network-{n}" for n in nodes] + [f"network-policy-{n}" for n in nodes],
            ["scheduler", "controller-manager", "dashboard", "dns", "registry"],
            ["apiserver"], *(self.servers.stop_order() if self.servers is not None else []),
        ])
        if self.servers is not None:
            await asyncio.to_thread(self.servers.hosts.teardown)
        await asyncio.to_thread(self.network.teardown)


_kyb = kyb

