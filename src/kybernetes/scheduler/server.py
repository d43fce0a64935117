"""The scheduler's small HTTP server: `/healthz`, `/livez`, `/readyz` and `/metrics`.

Plain HTTP on its own port (kube-scheduler serves these on 10259); it answers
from the start, also while the process waits to become leader, so a supervisor
can tell a healthy standby from a dead process.
"""

from __future__ import annotations

from aiohttp import web

from kybernetes.scheduler.metrics import Metrics


class HealthServer:
    """Start with `await start()`, stop with `await aclose()`."""

    def __init__(self, metrics: Metrics, *, host: str = "127.0.0.1", port: int = 10259) -> None:
        self.metrics = metrics
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None

    async def _ok(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(text=self.metrics.render(),
                            content_type="text/plain", charset="utf-8")

    async def start(self) -> None:
        app = web.Application()
        for path in ("/healthz", "/livez", "/readyz"):
            app.router.add_get(path, self._ok)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
