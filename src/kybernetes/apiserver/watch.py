"""WATCH over HTTP: a chunked stream of newline-delimited ``{"type", "object"}`` events.

Where a watch starts, as Kubernetes does:
  * no resourceVersion, or ``0``: synthetic ADDED events for the current state,
    then changes (``sendInitialEvents=false`` with no resourceVersion skips them);
  * ``resourceVersion=X``: the events after X, from the cache's ring; too old is
    an ERROR event carrying a 410 ``Expired`` Status (the client re-lists);
  * ``sendInitialEvents=true``: the current state, then a BOOKMARK annotated
    ``k8s.io/initial-events-end: "true"`` (needs allowWatchBookmarks and
    ``resourceVersionMatch=NotOlderThan``).

With ``allowWatchBookmarks`` an idle stream gets a BOOKMARK every second, so a
client always knows a recent resourceVersion to resume from. The stream ends at
``timeoutSeconds`` (default 30-60 minutes, as Kubernetes), when the client goes
away, or when the watcher fell too far behind (the client then re-watches).
Tables (``kubectl get -w``) are sent as one-row Table objects.
"""

from __future__ import annotations

import random
import time
from typing import Any

import orjson
from aiohttp import web

from kybernetes.api.errors import ApiError, BadRequest
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition
from kybernetes.apiserver.lists import ListQuery
from kybernetes.apiserver.request_info import parse_resource_version, query_bool, query_int
from kybernetes.apiserver.responses import JSON, partial_metadata, wants
from kybernetes.apiserver.watch_cache import Entry, WatchCache

BOOKMARK_INTERVAL = 1.0
DIRECT_HIGH_WATER = 256 * 1024
_INITIAL_END = {"k8s.io/initial-events-end": "true"}


NOW = -1  # start at the cache's current revision, without initial events


def _params(request: web.Request, query: ListQuery) -> tuple[int | None, bool, bool]:
    """(revision to start after, None for the current state first; send_initial;
    bookmarks)."""
    bookmarks = query_bool(request, "allowWatchBookmarks")
    rv = query.resource_version
    parse_resource_version(rv)
    if request.query.get("sendInitialEvents") is None:
        return (None if rv in ("", "0") else int(rv)), False, bookmarks
    if query_bool(request, "sendInitialEvents"):
        if not bookmarks or query.match != "NotOlderThan":
            raise BadRequest("sendInitialEvents requires setting allowWatchBookmarks=true "
                             "and resourceVersionMatch=NotOlderThan", reason="Invalid",
                             code=422)
        return None, True, bookmarks
    return (NOW if rv in ("", "0") else int(rv)), False, bookmarks


class _Encoder:
    """Event lines for one watch: plain objects, Table rows or metadata only."""

    def __init__(self, request: web.Request, kind: KindDefinition) -> None:
        self.request, self.kind = request, kind
        self.as_kind = wants(request)

    def line(self, type_: str, entry: Entry) -> bytes:
        try:
            return self._line(type_, entry)
        except ApiError as e:  # an object the store cannot decrypt: an ERROR event
            return orjson.dumps({"type": "ERROR", "object": e.to_status()}) + b"\n"

    def _line(self, type_: str, entry: Entry) -> bytes:
        if self.as_kind == "Table":
            table = tables.table_for(self.kind.table, [self.kind.present(entry.obj)],
                                     self.request)
            return orjson.dumps({"type": type_, "object": table}) + b"\n"
        if self.as_kind.startswith("PartialObjectMetadata"):
            return orjson.dumps({"type": type_, "object": partial_metadata(entry.obj)}) + b"\n"
        return entry.event_line(type_, self.kind.resource.api_version,
                                self.kind.present if self.kind.convert else None)

    def bookmark(self, revision: int, *, annotations: dict[str, str] | None = None) -> bytes:
        meta: dict[str, Any] = {"resourceVersion": str(revision)}
        if annotations:
            meta["annotations"] = annotations
        resource = self.kind.resource
        obj = {"kind": resource.kind, "apiVersion": resource.api_version,
               "metadata": meta}
        return orjson.dumps({"type": "BOOKMARK", "object": obj}) + b"\n"


async def serve_watch(request: web.Request, cache: WatchCache, kind: KindDefinition,
                      query: ListQuery) -> web.StreamResponse:
    """Stream the watch `query` asks for until timeout, disconnect or overflow."""
    from_rv, send_initial, bookmarks = _params(request, query)
    timeout = query_int(request, "timeoutSeconds")
    if timeout is None:
        timeout = random.randint(1800, 3600)
    if query.resource_version not in ("", "0") and (from_rv or send_initial):
        await cache.wait_not_older(int(query.resource_version))
    encoder = _Encoder(request, kind)
    prefix_cache = cache.for_prefix(kind.key_prefix)

    response = web.StreamResponse(headers={"Content-Type": JSON,
                                           "Cache-Control": "no-cache, private"})
    response.enable_chunked_encoding()
    try:
        watcher, initial, revision = prefix_cache.watch(
            kind.prefix(query.namespace),
            query.matches if query.filtered else None,
            from_rv=cache.revision if from_rv == NOW else from_rv)
    except ApiError as e:
        await response.prepare(request)
        await response.write(orjson.dumps({"type": "ERROR", "object": e.to_status()}) + b"\n")
        return response
    try:
        await response.prepare(request)
        out = [encoder.line(t, e) for t, e in initial]
        if send_initial:
            out.append(encoder.bookmark(revision, annotations=_INITIAL_END))
        if out:
            await response.write(b"".join(out))
        watcher.direct = _direct_writer(request, encoder)
        await _pump(request, response, watcher, encoder, cache, seconds=timeout,
                    bookmarks=bookmarks)
    except (ConnectionResetError, ConnectionError):
        pass
    finally:
        watcher.close()
    return response


def _direct_writer(request: web.Request, encoder: _Encoder) -> Any:
    """Write an event as an HTTP chunk straight to the connection, from the cache's
    dispatch: no task wake-up per watcher and event. Declines (the event is queued
    for the pump, which awaits the connection) when the connection is backed up."""
    transport = request.transport

    def write(type_: str, entry: Entry) -> bool:
        if transport is None or transport.is_closing() or \
                transport.get_write_buffer_size() > DIRECT_HIGH_WATER:
            return False
        try:
            line = encoder.line(type_, entry)
        except Exception:  # the pump will hit (and log) it again
            return False
        transport.write(b"%x\r\n%s\r\n" % (len(line), line))
        return True

    return write


async def _pump(request: web.Request, response: web.StreamResponse, watcher: Any,
                encoder: _Encoder, cache: WatchCache, *, seconds: int, bookmarks: bool
                ) -> None:
    deadline = time.monotonic() + seconds
    while not watcher.closed:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        batch = await watcher.next_batch(min(BOOKMARK_INTERVAL, left))
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        if batch:
            await response.write(b"".join(encoder.line(t, e) for t, e in batch))
        elif bookmarks and not watcher.closed:
            await response.write(encoder.bookmark(cache.revision))
