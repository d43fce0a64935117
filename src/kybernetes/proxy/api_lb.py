"""A TCP load balancer in front of every API server (k3s' agent load balancer).

Clients (kubectl with the admin kubeconfig, kubelets, proxies) dial one local
address; each new connection goes to a live API server, round-robin, and a dial
that is refused or times out moves on to the next (the userspace proxy's TCP path,
:mod:`kybernetes.proxy.tcp`). TLS passes through untouched: every server's serving
certificate names the balancer's address.

Which servers: the ``--server`` seeds, plus those the ``kubernetes`` Endpoints list
(one address per live API server, from their leases). Every refresh probes each
with ``GET /readyz``: a server that does not answer, or answers not ready, takes
no new connections until it does (a stalled one would accept TCP and never
answer). With none ready, every known one is tried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Any

import aiohttp

from kybernetes.api import resources
from kybernetes.api.errors import ApiError
from kybernetes.client import ApiClient
from kybernetes.proxy.balancer import LoadBalancer
from kybernetes.proxy.metrics import Metrics
from kybernetes.proxy.model import Endpoint, ServicePort
from kybernetes.proxy.tcp import TcpListener

log = logging.getLogger("kybernetes.proxy.api_lb")

PROBE_TIMEOUT = 1.0


def endpoint_addresses(endpoints: dict[str, Any]) -> list[Endpoint]:
    """The (ip, port) of every ready address of the `kubernetes` Endpoints' https port."""
    found: list[Endpoint] = []
    for subset in endpoints.get("subsets") or []:
        ports = [p["port"] for p in subset.get("ports") or []
                 if p.get("name", "https") == "https" and p.get("port")]
        for address in subset.get("addresses") or []:
            found += [(address["ip"], int(port)) for port in ports if address.get("ip")]
    return found


class ApiLoadBalancer:
    """Listens on (host, port); keeps the set of ready API servers fresh."""

    def __init__(self, seeds: list[Endpoint], *, host: str, port: int,
                 client: ApiClient | None = None, refresh: float = 2.0) -> None:
        self.seeds = list(seeds)
        self.known = list(seeds)
        self.client = client
        self.refresh = refresh
        self.balancer = LoadBalancer()
        self.balancer.update(self.known)
        self.listener = TcpListener(
            ServicePort("default", "kubernetes", "https", "TCP", "", port), self.balancer,
            Metrics(), host=host, port=port)
        # a liveness probe, not trust: no credentials are sent, nothing is believed
        self._probe_ssl = ssl.create_default_context()
        self._probe_ssl.check_hostname = False
        self._probe_ssl.verify_mode = ssl.CERT_NONE

    async def run(self, stop: asyncio.Event) -> None:
        await self.listener.start()
        log.info("balancing", extra={"address": f"{self.listener.host}:"
                                     f"{self.listener.bound_port}", "servers": self.known})
        async with aiohttp.ClientSession() as session:
            while not stop.is_set():
                await self._sync(session)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.refresh)
        await self.listener.aclose()

    async def _sync(self, session: aiohttp.ClientSession) -> None:
        listed = await self._listed()
        known = sorted({*listed, *self.seeds})  # one order, whatever answered this time
        ready = [e for e, ok in zip(known, await asyncio.gather(
            *(self._ready(session, e) for e in known)), strict=True) if ok]
        chosen = ready or known
        if chosen != self.balancer.endpoints:
            log.info("API servers changed", extra={"ready": ready, "known": known})
        self.known = known
        self.balancer.update(chosen)

    async def _listed(self) -> list[Endpoint]:
        if self.client is None:
            return []
        try:  # a list, as kube-proxy's role may list Endpoints but not get them; bounded,
            # as it goes through this balancer, maybe to a server that stalled
            async with asyncio.timeout(2 * PROBE_TIMEOUT):
                listed = await self.client.list(resources.ENDPOINTS, namespace="default",
                                                field_selector="metadata.name=kubernetes")
        except (ApiError, OSError, TimeoutError) as e:
            log.debug("cannot read the kubernetes Endpoints", extra={"error": str(e)})
            return []
        return [e for item in listed.get("items") or [] for e in endpoint_addresses(item)]

    async def _ready(self, session: aiohttp.ClientSession, endpoint: Endpoint) -> bool:
        host, port = endpoint
        try:
            async with session.get(f"https://{host}:{port}/readyz", ssl=self._probe_ssl,
                                   timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT)
                                   ) as response:
                # 401/403: anonymous requests are refused there, but it answers
                return response.status in (200, 401, 403)
        except (aiohttp.ClientError, OSError, TimeoutError):
            return False
