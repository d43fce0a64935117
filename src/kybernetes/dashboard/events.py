"""Live lists for the browser, from the user's own list + watch.

:func:`follow` is one informer without a cache: it emits `sync` with the whole list,
then one `change` per watch event (`{"type": "ADDED", "object": …}`); when the watch
ends or its resourceVersion is too old (410) it lists again and emits a new `sync`, so
the browser never misses a change. A refused list emits `failure` with the API's
Status and ends. With `chunk`, a long list's `sync` carries only its first `chunk`
items and `"more": true`, and `page` messages bring the rest (the last with
`"more": false`): the list is parsed as it arrives (:mod:`.list_stream`), so the page
draws its first pods while the API server still writes the rest; with a
`project`ion (:mod:`.projections`) every item and change is cut down to the fields the
page draws. Objects go out without `metadata.managedFields`, which the UI never
shows and which is most of a pod's bytes (10,000 pods are a third the size without).

Two ways to the browser:

* `GET /api/live` (WebSocket, what the UI uses): many lists over one connection —
  a browser allows only six HTTP/1.1 connections per host, fewer than the lists one
  page follows. The browser sends `{"op": "watch", "id": 1, "path": "/api/v1/pods",
  "fieldSelector": …, "projection": "map"}` and `{"op": "stop", "id": 1}`; every
  message back is `{"id": 1, "event": "sync"|"page"|"change"|"failure", "data": …}`,
  a sync in pages of LIVE_CHUNK items.
* `GET /api/events?path=…` (server-sent events, one list per request; handy for
  curl): the first list's refusal is the HTTP answer itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
from aiohttp import WSMsgType, web

from kybernetes.dashboard.errors import status_response, unauthorized
from kybernetes.dashboard.list_stream import ListStream, gc_paused, loads
from kybernetes.dashboard.projections import Projection, projection_for
from kybernetes.dashboard.upstream import TOKEN_PROTOCOL, UPSTREAM, Upstream, bearer_token
from kybernetes.tasks import cancel_and_wait, spawn

log = logging.getLogger("kybernetes.dashboard.events")
HEARTBEAT = 15.0
WATCH_TIMEOUT = 300  # seconds the API server keeps one watch open before we re-open it
LIVE_CHUNK = 1000  # items per WebSocket message of a sync: the first ones are drawn at once
SELECTORS = ("labelSelector", "fieldSelector")
# Lists come from the API server's watch cache as it is, as informers list: a consistent
# read would first wait for the cache to catch up with the store, which a busy cluster
# (1,000 nodes heartbeating) keeps a little behind; the watch that follows starts at
# the list's resourceVersion, so nothing is missed either way.
ANY_RV = {"resourceVersion": "0"}
Emit = Callable[[str, dict[str, Any]], Awaitable[None]]


class Gone(Exception):
    """The watch's resourceVersion was compacted: list again."""


def listable(path: str) -> bool:
    return path.startswith(("/api/", "/apis/")) and ".." not in path and "?" not in path


async def follow(upstream: Upstream, token: str, path: str, selector: dict[str, str],
                 emit: Emit, *, first: tuple[int, dict[str, Any]] | None = None,
                 project: Projection | None = None, chunk: int = 0) -> None:
    """List, then watch, re-listing whenever the watch ends; until cancelled or refused."""
    while True:
        if first is not None:
            (status, listed), first = first, None
            if status == 200:
                await _sync(listed, emit, chunk, project)
        else:
            status, listed = await _list_and_sync(upstream, token, path, selector, emit,
                                                  chunk, project)
        if status != 200:
            await emit("failure", listed)
            return
        rv = (listed.get("metadata") or {}).get("resourceVersion", "")
        with contextlib.suppress(Gone, aiohttp.ClientError, TimeoutError):
            await _watch(upstream, token, path, selector, rv, emit, project)


async def list_once(upstream: Upstream, token: str, path: str,
                    selector: dict[str, str]) -> tuple[int, dict[str, Any]]:
    try:
        async with upstream.session.get(upstream.url + path, params=selector,
                                        headers=upstream.headers(token),
                                        server_hostname=upstream.server_hostname()) as resp:
            return resp.status, _parsed(resp.status, await resp.read())
    except aiohttp.ClientError as e:
        return 503, _unreachable(e)


def _parsed(status: int, body: bytes) -> dict[str, Any]:
    try:
        parsed: dict[str, Any] = loads(body)
    except orjson.JSONDecodeError:
        return {"kind": "Status", "message": body.decode(errors="replace"), "code": status}
    return parsed


def _unreachable(e: Exception) -> dict[str, Any]:
    return {"kind": "Status", "status": "Failure", "code": 503,
            "reason": "ServiceUnavailable", "message": f"API server unreachable: {e}"}


async def _list_and_sync(upstream: Upstream, token: str, path: str, selector: dict[str, str],
                         emit: Emit, chunk: int, project: Projection | None
                         ) -> tuple[int, dict[str, Any]]:
    """List and send it as it arrives (:mod:`.list_stream`): the first `chunk` items go
    out as a `sync` while the API server is still writing the rest, which follows in
    `page`s. Returns the status and the list without its items, or the refusal."""
    started = time.monotonic()
    first_sent = 0.0
    sent = 0
    try:
        async with upstream.session.get(upstream.url + path, params={**selector, **ANY_RV},
                                        headers=upstream.headers(token),
                                        server_hostname=upstream.server_hostname()) as resp:
            if resp.status != 200:
                return resp.status, _parsed(resp.status, await resp.read())
            stream = ListStream()
            head: dict[str, Any] | None = None
            ready: list[dict[str, Any]] = []
            with gc_paused():  # it would walk the projected items again and again
                async for data in resp.content.iter_any():
                    stream.feed(data)
                    ready.extend(_slim(i, project) for i in stream.take())
                    head = head or stream.head()
                    while chunk and head is not None and len(ready) >= chunk:
                        await _send(emit, head, ready[:chunk], sent, more=True)
                        sent += chunk
                        first_sent = first_sent or time.monotonic() - started
                        del ready[:chunk]
                listed = stream.finish()
    except aiohttp.ClientError as e:
        return 503, _unreachable(e)
    ready.extend(_slim(i, project) for i in listed.pop("items", None) or ())
    while chunk and len(ready) > chunk:
        await _send(emit, listed, ready[:chunk], sent, more=True)
        sent += chunk
        del ready[:chunk]
    await _send(emit, listed, ready, sent, more=False)
    sent += len(ready)
    log.debug("sync of %s: %d items, first sent at %.3fs, all at %.3fs", path,
              sent, first_sent or time.monotonic() - started,
              time.monotonic() - started)
    return 200, listed


async def _send(emit: Emit, head: dict[str, Any], items: list[dict[str, Any]], sent: int,
                *, more: bool) -> None:
    """A list's first items as its `sync`, the rest as `page`s (`more` until the last)."""
    if not sent:
        await emit("sync", {**head, "items": items, **({"more": True} if more else {})})
    else:
        await emit("page", {"items": items, "more": more})


async def _watch(upstream: Upstream, token: str, path: str, selector: dict[str, str],
                 rv: str, emit: Emit, project: Projection | None) -> None:
    params = {**selector, "watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true",
              "timeoutSeconds": str(WATCH_TIMEOUT)}
    async with upstream.session.get(upstream.url + path, params=params,
                                    headers=upstream.headers(token),
                                    server_hostname=upstream.server_hostname()) as resp:
        if resp.status != 200:
            return
        buffer = b""
        while True:
            try:
                chunk = await asyncio.wait_for(resp.content.readany(), HEARTBEAT)
            except TimeoutError:
                await emit("heartbeat", {})
                continue
            if not chunk:
                return
            *lines, buffer = (buffer + chunk).split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                event = orjson.loads(line)
                if event.get("type") == "ERROR":
                    raise Gone()
                if event.get("type") != "BOOKMARK":
                    event["object"] = _slim(event.get("object") or {}, project)
                    await emit("change", event)


async def _sync(listed: dict[str, Any], emit: Emit, chunk: int,
                project: Projection | None = None) -> int:
    """Send the list, each chunk projected just before it goes (the page draws the
    first while the rest are cut down); returns how many items went."""
    items = listed.get("items") or []
    if not chunk or len(items) <= chunk:
        await emit("sync", {**listed, "items": [_slim(i, project) for i in items]})
        return len(items)
    first = [_slim(i, project) for i in items[:chunk]]
    await emit("sync", {**listed, "items": first, "more": True})
    for start in range(chunk, len(items), chunk):
        await emit("page", {"items": [_slim(i, project) for i in items[start:start + chunk]],
                            "more": start + chunk < len(items)})
    return len(items)


def _slim(obj: dict[str, Any], project: Projection | None) -> dict[str, Any]:
    if project is not None:
        return project(obj)
    (obj.get("metadata") or {}).pop("managedFields", None)
    return obj


async def sse(request: web.Request) -> web.StreamResponse:
    upstream = request.app[UPSTREAM]
    token = bearer_token(request)
    if token is None:
        return unauthorized()
    path = request.query.get("path", "")
    if not listable(path):
        return status_response(400, f"not a list path: {path!r}")
    selector = {k: v for k, v in request.query.items() if k in SELECTORS}
    first = await list_once(upstream, token, path, selector)
    if first[0] != 200:
        return web.Response(status=first[0], body=orjson.dumps(first[1]),
                            content_type="application/json")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-store"})
    await response.prepare(request)

    async def emit(event: str, data: dict[str, Any]) -> None:
        if event == "heartbeat":
            await response.write(b": keep-alive\n\n")
            return
        head = b"" if event == "change" else f"event: {event}\n".encode()
        await response.write(head + b"data: " + orjson.dumps(data) + b"\n\n")

    with contextlib.suppress(ConnectionResetError):
        await follow(upstream, token, path, selector, emit, first=first)
    return response


async def live(request: web.Request) -> web.StreamResponse:
    upstream = request.app[UPSTREAM]
    token = bearer_token(request)
    if token is None:
        return unauthorized()
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    ws = web.WebSocketResponse(protocols=[p for p in offered if p.startswith(TOKEN_PROTOCOL)],
                               heartbeat=30)
    await ws.prepare(request)
    lists: dict[int, asyncio.Task[None]] = {}

    def emitter(ident: int) -> Emit:
        async def emit(event: str, data: dict[str, Any]) -> None:
            if event != "heartbeat":
                await ws.send_bytes(orjson.dumps({"id": ident, "event": event, "data": data}))
        return emit

    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            try:
                op = orjson.loads(msg.data)
                ident = int(op["id"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
            await cancel_and_wait(lists.pop(ident, None))
            if op.get("op") != "watch":
                continue
            path = str(op.get("path", ""))
            if not listable(path):
                await emitter(ident)("failure", {"kind": "Status", "code": 400,
                                                 "message": f"not a list path: {path!r}"})
                continue
            try:
                project = projection_for(str(op.get("projection") or ""), path)
            except KeyError:
                await emitter(ident)("failure", {"kind": "Status", "code": 400, "message":
                                                 f"no projection {op.get('projection')!r} "
                                                 f"of {path!r}"})
                continue
            selector = {k: str(op[k]) for k in SELECTORS if op.get(k)}
            lists[ident] = spawn(_quietly(follow(upstream, token, path, selector,
                                                 emitter(ident), project=project,
                                                 chunk=LIVE_CHUNK)),
                                 name="dashboard-live-list")
    finally:
        await cancel_and_wait(*lists.values())
    return ws


async def _quietly(work: Awaitable[None]) -> None:
    """A list whose browser went away ends without a traceback."""
    with contextlib.suppress(ConnectionResetError, aiohttp.ClientConnectionResetError):
        await work
