"""The userspace proxy mode: Python listeners per service port, plus iptables portals.

Each service port gets a listener (:mod:`~kybernetes.proxy.tcp`,
:mod:`~kybernetes.proxy.udp`) on the bind address: on its NodePort when it has
one (so, without root, clients reach the Service there), otherwise on a free port
the kernel picks. A sync opens listeners
for new ports, closes those of deleted ports, reopens one whose cluster IP,
protocol or NodePort changed, and hands every balancer its new ready endpoints;
a listener stays up across syncs, so established clients are undisturbed.

As root the proxy also captures the cluster IP, as the original kube-proxy did,
with NAT rules in chains of its own (one ``iptables-restore`` per sync)::

  PREROUTING → KYB-PORTALS-CONTAINER  -d <clusterIP> --dport <port>  REDIRECT/DNAT → listener
  OUTPUT     → KYB-PORTALS-HOST       -d <clusterIP> --dport <port>  DNAT → <host IP>:listener
  PREROUTING (dst LOCAL) → KYB-NODEPORT-CONTAINER  --dport <nodePort> → listener
  OUTPUT     (dst LOCAL) → KYB-NODEPORT-HOST       --dport <nodePort> → listener

REDIRECT (to the address the packet came in on) serves a listener bound to
0.0.0.0; a listener on one address is reached with DNAT to it. Host traffic is
DNATed to the bind address, or to 127.0.0.1 (with ``route_localnet``) when the
proxy binds every address.
"""

from __future__ import annotations

import logging

from kybernetes.proxy import netfilter
from kybernetes.proxy.balancer import LoadBalancer
from kybernetes.proxy.metrics import Metrics
from kybernetes.proxy.model import ProxyState, ServicePort
from kybernetes.proxy.netfilter import Jump
from kybernetes.proxy.tcp import TcpListener
from kybernetes.proxy.udp import UdpListener

log = logging.getLogger("kybernetes.proxy.userspace")

PORTALS_CONTAINER = "KYB-PORTALS-CONTAINER"
PORTALS_HOST = "KYB-PORTALS-HOST"
NODEPORT_CONTAINER = "KYB-NODEPORT-CONTAINER"
NODEPORT_HOST = "KYB-NODEPORT-HOST"
CHAINS = (PORTALS_CONTAINER, PORTALS_HOST, NODEPORT_CONTAINER, NODEPORT_HOST)
_LOCAL = ("-m", "addrtype", "--dst-type", "LOCAL")
JUMPS = (
    Jump("nat", "PREROUTING", PORTALS_CONTAINER, comment="kybernetes portals"),
    Jump("nat", "OUTPUT", PORTALS_HOST, comment="kybernetes portals"),
    Jump("nat", "PREROUTING", NODEPORT_CONTAINER, _LOCAL, comment="kybernetes nodeports"),
    Jump("nat", "OUTPUT", NODEPORT_HOST, _LOCAL, comment="kybernetes nodeports"),
)

Listener = TcpListener | UdpListener


def render_portals(listeners: dict[str, tuple[ServicePort, int]], *, bind_address: str
                   ) -> str:
    """The iptables-restore input that points each service port at its listener."""
    any_address = bind_address in ("", "0.0.0.0")
    host_ip = "127.0.0.1" if any_address else bind_address
    rules = []
    for key in sorted(listeners):
        sp, port = listeners[key]
        proto = sp.protocol.lower()
        match = f"-p {proto} -m {proto}"
        comment = f'-m comment --comment "{key}"'
        to_container = (f"-j REDIRECT --to-ports {port}" if any_address
                        else f"-j DNAT --to-destination {bind_address}:{port}")
        to_host = f"-j DNAT --to-destination {host_ip}:{port}"
        ip = f"-d {sp.cluster_ip}/32"
        rules.append(f"-A {PORTALS_CONTAINER} {ip} {match} --dport {sp.port} {comment} "
                     f"{to_container}")
        rules.append(f"-A {PORTALS_HOST} {ip} {match} --dport {sp.port} {comment} {to_host}")
        if sp.node_port:
            rules.append(f"-A {NODEPORT_CONTAINER} {match} --dport {sp.node_port} {comment} "
                         f"{to_container}")
            rules.append(f"-A {NODEPORT_HOST} {match} --dport {sp.node_port} {comment} "
                         f"{to_host}")
    return ("*nat\n" + "".join(f":{c} - [0:0]\n" for c in CHAINS)
            + "".join(f"{r}\n" for r in rules) + "COMMIT\n")


class UserspaceProxier:
    """Keeps one listener (and, as root, one portal) per service port."""

    def __init__(self, metrics: Metrics, *, bind_address: str = "0.0.0.0",
                 lb_mode: str = "round-robin", portals: bool = False,
                 udp_timeout: float = 1.0) -> None:
        self.metrics = metrics
        self.bind_address = bind_address or "0.0.0.0"
        self.lb_mode = lb_mode
        self.portals = portals
        self.udp_timeout = udp_timeout
        self.listeners: dict[str, Listener] = {}
        self.balancers: dict[str, LoadBalancer] = {}
        self._run = netfilter.Runner()

    async def start(self) -> None:
        if self.portals:
            await self._run(self._prepare)

    def _prepare(self) -> None:
        netfilter.set_sysctl("net.ipv4.conf.all.route_localnet", "1")

    async def sync(self, state: ProxyState) -> None:
        """Bring listeners, balancers and portals to `state`."""
        for key in [k for k, lst in self.listeners.items()
                    if state.ports.get(k) != lst.port]:
            await self._close(key)
        for key in [k for k in self.balancers if k not in state.ports]:
            del self.balancers[key]
        failures = 0
        for key, sp in state.ports.items():
            balancer = self.balancers.setdefault(key, LoadBalancer(mode=self.lb_mode))
            balancer.update(state.endpoints.get(key, []), affinity_timeout=sp.affinity_timeout)
            listener = self.listeners.get(key)
            if listener is None:
                failures += not await self._open(sp, balancer)
            elif isinstance(listener, UdpListener):
                listener.drop_endpoints_not_in(balancer.endpoints)
        if self.portals:
            bound = {k: (lst.port, lst.bound_port) for k, lst in self.listeners.items()}
            text = render_portals(bound, bind_address=self.bind_address)
            await self._run(self._apply, text)
        if failures:
            raise OSError(f"{failures} service port(s) could not be opened; retrying")

    def _apply(self, text: str) -> None:
        netfilter.restore(text)
        netfilter.ensure_jumps(JUMPS)

    async def _open(self, sp: ServicePort, balancer: LoadBalancer) -> bool:
        cls = TcpListener if sp.protocol == "TCP" else UdpListener
        kwargs = {} if cls is TcpListener else {"idle_timeout": self.udp_timeout}
        listener = cls(sp, balancer, self.metrics, host=self.bind_address, port=sp.node_port,
                       **kwargs)
        try:
            await listener.start()
        except OSError as e:
            log.error("cannot open service port", extra={
                "service": sp.key, "port": sp.node_port, "error": str(e)})
            self.metrics.errors[sp.key] += 1
            return False
        self.listeners[sp.key] = listener
        log.info("opened service port", extra={"service": sp.key, "protocol": sp.protocol,
                                                "listen": listener.bound_port})
        return True

    async def _close(self, key: str) -> None:
        listener = self.listeners.pop(key)
        self.balancers.pop(key, None)
        await listener.aclose()
        log.info("closed service port", extra={"service": key})

    async def aclose(self) -> None:
        for key in list(self.listeners):
            await self._close(key)
        if self.portals:
            await self._run.drain()
            await self._run(netfilter.cleanup)
