"""`GET /api/exec?path=/api/v1/namespaces/NS/pods/P/exec?…`: the browser's terminal
bridged to the API server's exec WebSocket, as the logged-in user.

The browser cannot set an Authorization header on a WebSocket, so it offers its token
as the `base64url.bearer.authorization.k8s.io.<token>` subprotocol (as kube-apiserver
accepts it) beside `v5.channel.k8s.io`/`v4.channel.k8s.io`. The backend dials the API
server with the token as a bearer header and the channel protocols only, then copies
messages both ways unchanged (channel byte first: 0 stdin, 1 stdout, 2 stderr, 3
status, 4 resize). A refusal by the API server (403, 404, 400) is sent to the browser
as a channel-3 Status before closing, so the terminal shows the API's message.
"""

from __future__ import annotations

import re

import aiohttp
import orjson
from aiohttp import web

from kybernetes.dashboard.errors import status_response, unauthorized
from kybernetes.dashboard.upstream import TOKEN_PROTOCOL, UPSTREAM, bearer_token
from kybernetes.streaming import websockets

CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
EXEC_PATH = re.compile(r"^/api/v1/namespaces/[a-z0-9.-]+/pods/[a-z0-9.-]+/exec\?")
ERROR_CHANNEL = 3


async def handle(request: web.Request) -> web.StreamResponse:
    upstream = request.app[UPSTREAM]
    token = bearer_token(request)
    if token is None:
        return unauthorized()
    path = request.query.get("path", "")
    if not EXEC_PATH.match(path):
        return status_response(400, f"not a pod exec path: {path!r}")
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    wanted = [p for p in offered if p in CHANNEL_PROTOCOLS] or list(CHANNEL_PROTOCOLS)
    url = upstream.url.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + path
    browser = web.WebSocketResponse(protocols=[*wanted, *(p for p in offered
                                                           if p.startswith(TOKEN_PROTOCOL))],
                                    max_msg_size=0)
    try:
        api = await upstream.session.ws_connect(
            url, protocols=wanted, headers={"Authorization": f"Bearer {token}"},
            max_msg_size=0, server_hostname=upstream.server_hostname())
    except aiohttp.WSServerHandshakeError as e:
        await browser.prepare(request)
        message = e.message or f"exec refused ({e.status})"
        await browser.send_bytes(bytes([ERROR_CHANNEL]) + orjson.dumps(
            {"kind": "Status", "status": "Failure", "code": e.status, "message": message}))
        await browser.close()
        return browser
    except aiohttp.ClientError as e:
        return status_response(503, f"API server unreachable: {e}")
    browser = web.WebSocketResponse(protocols=(api.protocol,) if api.protocol else (),
                                    max_msg_size=0)
    await browser.prepare(request)
    await websockets.pump_both(browser, api, name="dashboard-exec")
    return browser


