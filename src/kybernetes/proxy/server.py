"""The proxy component: watch Services and EndpointSlices, program the chosen mode.

The shape of kube-proxy: two informers (Services, EndpointSlices) whose handlers only
mark the state dirty; one sync loop that, when dirty (and at least every
``resync`` seconds, which repairs rules someone else removed), rebuilds the whole
:class:`ProxyState` from the caches and hands it to the mode's proxier. Syncs are
at most ``min_sync_period`` apart, so a burst of changes costs one sync and any
change is live well within a second. A failed sync is retried after a second.

``/healthz`` answers 200 with kube-proxy's JSON (lastUpdated, currentTime) once the
first sync is done and while no change has waited more than ``2 × resync``
seconds, 503 otherwise; ``/metrics`` is Prometheus text. Both can share a port.
On stop the userspace proxier removes its listeners and portals; the iptables one
leaves its rules for the next proxy (unless told to clean up on exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from typing import Any, Protocol

from aiohttp import web

from kybernetes.api.resources import ENDPOINT_SLICES, SERVICES
from kybernetes.client import ApiClient, Informer
from kybernetes.proxy.health_check import HealthCheckServers
from kybernetes.proxy.iptables import IptablesProxier
from kybernetes.proxy.metrics import Metrics
from kybernetes.proxy.model import ProxyState, StateBuilder, group_slices
from kybernetes.proxy.userspace import UserspaceProxier

log = logging.getLogger("kybernetes.proxy")


class Proxier(Protocol):
    async def start(self) -> None: ...

    async def sync(self, state: ProxyState) -> None: ...

    async def aclose(self) -> None: ...


def _rfc3339(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat().replace("+00:00", "Z")


class Proxy:
    """One node's proxy: informers → sync loop → proxier, plus health and metrics."""

    def __init__(self, client: ApiClient, proxier: Proxier, metrics: Metrics, *,
                 node_name: str, bind_address: str = "0.0.0.0", healthz_port: int = 0,
                 metrics_port: int = 0, min_sync_period: float = 0.02,
                 resync: float = 30.0) -> None:
        self.client = client
        self.proxier = proxier
        self.metrics = metrics
        self.node_name = node_name
        self.bind_address = bind_address
        self.healthz_port = healthz_port
        self.metrics_port = metrics_port
        self.min_sync_period = min_sync_period
        self.resync = resync
        self.services = Informer(client, SERVICES)
        self.slices = Informer(client, ENDPOINT_SLICES)
        self._dirty = asyncio.Event()
        self._dirty_since = 0.0
        self._runners: list[web.AppRunner] = []
        self.health_checks = HealthCheckServers(bind_address)
        self._builder = StateBuilder(node_name)

    def _changed(self, *_: Any) -> None:
        if not self._dirty.is_set():
            self._dirty_since = time.monotonic()
        self._dirty.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set; always cleans up what it made."""
        for informer in (self.services, self.slices):
            informer.add_handler(on_add=self._changed, on_update=self._changed,
                                 on_delete=self._changed)
        try:
            await self._serve_http()
            await self.proxier.start()
            for informer in (self.services, self.slices):
                await informer.start()
            waiter = asyncio.ensure_future(stop.wait())
            syncer = asyncio.ensure_future(self._sync_loop())
            try:
                await asyncio.wait([waiter, syncer], return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (waiter, syncer):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        finally:
            await self._shutdown()

    async def _sync_loop(self) -> None:
        for informer in (self.services, self.slices):
            await informer.wait_synced()
        self._changed()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), self.resync)
            self._dirty.clear()
            started = time.monotonic()
            try:
                state = self._state()
                await self.proxier.sync(state)
                await self.health_checks.update(state)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.metrics.sync_errors += 1
                log.warning("sync failed; retrying", extra={"error": str(e)})
                self._changed()
                await asyncio.sleep(1.0)
                continue
            self.metrics.synced(time.monotonic() - started)
            await asyncio.sleep(self.min_sync_period)

    def _state(self) -> ProxyState:
        return self._builder.build(self.services.list(), group_slices(self.slices.list()))

    # -- health and metrics ------------------------------------------------------

    def healthy(self) -> bool:
        if not self.metrics.last_sync:
            return False
        waiting = time.monotonic() - self._dirty_since if self._dirty.is_set() else 0.0
        return waiting < 2 * self.resync

    async def _healthz(self, _: web.Request) -> web.Response:
        body = {"lastUpdated": _rfc3339(self.metrics.last_sync or 0),
                "currentTime": _rfc3339(time.time()), "nodeName": self.node_name}
        return web.json_response(body, status=200 if self.healthy() else 503)

    async def _metrics(self, _: web.Request) -> web.Response:
        connections = None
        if isinstance(self.proxier, IptablesProxier):
            connections = await self.proxier.connections()
        return web.Response(text=self.metrics.render(connections=connections),
                            content_type="text/plain", charset="utf-8")

    async def _serve_http(self) -> None:
        ports: dict[int, list[tuple[str, Any]]] = {}
        if self.healthz_port:
            ports.setdefault(self.healthz_port, []).append(("/healthz", self._healthz))
        if self.metrics_port:
            ports.setdefault(self.metrics_port, []).append(("/metrics", self._metrics))
        for port, routes in ports.items():
            app = web.Application()
            for path, handler in routes:
                app.router.add_get(path, handler)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            self._runners.append(runner)
            await web.TCPSite(runner, self.bind_address, port, reuse_address=True).start()

    async def _shutdown(self) -> None:
        for informer in (self.services, self.slices):
            await informer.aclose()
        try:
            await self.proxier.aclose()
        except Exception as e:
            log.error("cleanup failed", extra={"error": str(e)})
        await self.health_checks.aclose()
        for runner in self._runners:
            await runner.cleanup()


def make_proxier(mode: str, metrics: Metrics, *, bind_address: str, lb_mode: str,
                 portals: bool, cluster_cidr: str = "", udp_timeout: float = 1.0,
                 cleanup_on_exit: bool = False) -> Proxier:
    """The proxier for `mode` (userspace | iptables)."""
    if mode == "iptables":
        return IptablesProxier(cluster_cidr=cluster_cidr, cleanup_on_exit=cleanup_on_exit)
    return UserspaceProxier(metrics, bind_address=bind_address, lb_mode=lb_mode,
                            portals=portals, udp_timeout=udp_timeout)
