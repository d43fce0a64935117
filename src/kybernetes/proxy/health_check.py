"""Health check node ports: how an outside load balancer learns which nodes to use.

A LoadBalancer Service with ``externalTrafficPolicy: Local`` gets a
``healthCheckNodePort`` from the API server; every node's proxy answers HTTP on it,
as kube-proxy's service health server does: 200 while this node has an endpoint of
the Service, 503 while it has none (traffic sent there would be dropped), with
kube-proxy's JSON body ``{"service": {"namespace", "name"}, "localEndpoints": n,
"serviceProxyHealthy": true}``. One listener per port, opened and closed as the
Services change; a port that cannot be opened is logged and retried on the next sync.
"""

from __future__ import annotations

import json
import logging

from aiohttp import web

from kybernetes.proxy.model import ProxyState

log = logging.getLogger("kybernetes.proxy.health_check")


def local_counts(state: ProxyState) -> dict[int, tuple[str, int]]:
    """health check port → (`namespace/name`, this node's endpoint addresses)."""
    out: dict[int, tuple[str, set[str]]] = {}
    for key, sp in state.ports.items():
        if sp.health_check_node_port:
            ips = out.setdefault(sp.health_check_node_port, (sp.service_key, set()))[1]
            ips.update(ip for ip, _ in state.local.get(key, []))
    return {port: (name, len(ips)) for port, (name, ips) in out.items()}


class HealthCheckServers:
    """One small HTTP server per health check node port."""

    def __init__(self, bind_address: str = "0.0.0.0") -> None:
        self.bind_address = bind_address
        self.counts: dict[int, tuple[str, int]] = {}
        self._runners: dict[int, web.AppRunner] = {}

    async def update(self, state: ProxyState) -> None:
        self.counts = local_counts(state)
        for port in [p for p in self._runners if p not in self.counts]:
            await self._runners.pop(port).cleanup()
        for port in self.counts:
            if port not in self._runners:
                await self._open(port)

    async def _open(self, port: int) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", lambda request: self._answer(port))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.bind_address, port, reuse_address=True).start()
        except OSError as e:
            await runner.cleanup()
            log.warning("cannot open a health check node port", extra={
                "port": port, "error": str(e)})
            return
        self._runners[port] = runner

    async def _answer(self, port: int) -> web.Response:
        name, count = self.counts.get(port, ("/", 0))
        namespace, _, service = name.partition("/")
        body = {"service": {"namespace": namespace, "name": service},
                "localEndpoints": count, "serviceProxyHealthy": True}
        return web.Response(text=json.dumps(body), status=200 if count else 503,
                            content_type="application/json",
                            headers={"X-Content-Type-Options": "nosniff"})

    async def aclose(self) -> None:
        for runner in self._runners.values():
            await runner.cleanup()
        self._runners.clear()
