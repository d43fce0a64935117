"""The dashboard's HTTP app: the static UI and a thin backend acting as the user.

* `/`, `/static/…`: the single-page UI (plain ES modules, vendored libraries).
* `/api/k8s/<api path>`: any Kubernetes API request (GET, POST, PUT, PATCH, DELETE)
  passed to the API server with the caller's bearer token and answered with the API's
  own status and body, streamed (so `pods/log?follow=true` follows live). The UI thus
  shows the API's own messages (a 422's field errors, a 403's Forbidden text).
* `/api/live` (WebSocket) and `/api/events?path=…` (server-sent events): live lists
  from the user's own watches (:mod:`.events`).
* `/api/exec?path=…`: the terminal's WebSocket (:mod:`.exec_bridge`).
* `/healthz`: for the supervisor; no credentials needed.

Every `/api/` request without a bearer token is answered 401 before anything reaches
the API server. Nothing is loaded from another host: the page's Content-Security-Policy
allows only this origin.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from kybernetes.dashboard import events, exec_bridge
from kybernetes.dashboard.errors import status_response, unauthorized
from kybernetes.dashboard.upstream import UPSTREAM, Upstream, bearer_token

log = logging.getLogger("kybernetes.dashboard.server")
STATIC = Path(__file__).parent / "static"
PASSED_REQUEST_HEADERS = ("Content-Type", "Accept")
PASSED_RESPONSE_HEADERS = ("Content-Type", "Audit-Id", "Warning")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")


def build_app(upstream: Upstream) -> web.Application:
    app = web.Application(client_max_size=8 * 1024 * 1024, middlewares=[_security_headers])
    app[UPSTREAM] = upstream
    app.router.add_get("/", _index)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/api/events", events.sse)
    app.router.add_get("/api/live", events.live)
    app.router.add_get("/api/exec", exec_bridge.handle)
    app.router.add_route("*", "/api/k8s/{tail:.*}", _passthrough)
    app.router.add_route("*", "/api/{tail:.*}", _unknown)
    app.router.add_static("/static/", STATIC, follow_symlinks=False)

    async def close(_: web.Application) -> None:
        await upstream.aclose()

    app.on_cleanup.append(close)
    return app


@web.middleware
async def _security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    if not response.prepared:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


async def _index(_: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def _healthz(_: web.Request) -> web.Response:
    return web.Response(text="ok")


async def _unknown(request: web.Request) -> web.Response:
    if bearer_token(request) is None:
        return unauthorized()
    return status_response(404, f"no such dashboard API: {request.path}")


async def _passthrough(request: web.Request) -> web.StreamResponse:
    upstream = request.app[UPSTREAM]
    token = bearer_token(request)
    if token is None:
        return unauthorized()
    tail = request.match_info["tail"]
    if not tail.startswith(("api/", "apis/", "api?", "apis?")) and tail not in ("api", "apis"):
        return status_response(400, f"not a Kubernetes API path: /{tail}")
    headers = upstream.headers(token, accept=request.headers.get("Accept", "application/json"))
    if "Content-Type" in request.headers:
        headers["Content-Type"] = request.headers["Content-Type"]
    body = await request.read() if request.can_read_body else None
    try:
        async with upstream.session.request(
                request.method, f"{upstream.url}/{tail}", params=request.query, data=body,
                headers=headers, server_hostname=upstream.server_hostname()) as resp:
            response = web.StreamResponse(status=resp.status, headers={
                h: resp.headers[h] for h in PASSED_RESPONSE_HEADERS if h in resp.headers})
            response.headers["Cache-Control"] = "no-store"
            response.headers["Content-Security-Policy"] = CSP
            await response.prepare(request)
            with contextlib.suppress(ConnectionResetError):  # the browser left (a log closed)
                async for chunk in resp.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
            return response
    except aiohttp.ClientError as e:
        return status_response(503, f"API server unreachable: {e}")
