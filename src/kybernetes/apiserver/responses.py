"""Response bodies: objects, lists, Status, and what the Accept header asks for.

Lists are assembled from the cached JSON bytes of their items, so serving a list
of ten thousand objects is no encode at all; the bytes are written a slice at a
time, never joined into one body. ``Accept:
application/json;as=Table;g=meta.k8s.io;v=v1`` (kubectl get) returns a server-side
Table from :mod:`~kybernetes.apiserver.tables`;
``as=PartialObjectMetadata(List)`` returns metadata only.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

import orjson
from aiohttp import web

from kybernetes.api.errors import ApiError
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition
from kybernetes.apiserver.watch_cache import Entry

JSON = "application/json"


class SentOnceResponse(web.Response):
    """A response that lets go of its body once written. aiohttp's connection loop
    holds a keep-alive connection's last response until the next request on it, so
    every idle connection kept its last LIST's body (hundreds of MB at scale)."""

    async def write_eof(self, data: bytes = b"") -> None:
        await super().write_eof(data)
        self._body = None
        self._compressed_body = None


class PartsResponse(web.StreamResponse):
    """A body of many byte strings (a list's items), written a slice at a time with
    the transport drained in between: one joined body costs its size twice while it
    is built, and the TLS layer keeps a buffer as large as the largest write for the
    rest of the connection's life."""

    SLICE = 256 * 1024

    def __init__(self, parts: list[bytes], *, content_type: str) -> None:
        super().__init__()
        self.content_type = content_type
        self.content_length = sum(map(len, parts))
        self._parts = parts

    @property
    def body(self) -> bytes:
        """The whole body at once (for an audit log that records responses)."""
        return b"".join(self._parts)

    async def write_eof(self, data: bytes = b"") -> None:
        parts, self._parts = self._parts, []
        pending: list[bytes] = []
        size = 0
        for part in parts:
            pending.append(part)
            size += len(part)
            if size >= self.SLICE:
                await self.write(b"".join(pending))
                pending, size = [], 0
        await super().write_eof(b"".join(pending))


def json_response(obj: Any, *, status: int = 200, warnings: Iterable[str] = ()) -> web.Response:
    response = SentOnceResponse(body=orjson.dumps(obj), status=status, content_type=JSON)
    add_warnings(response, warnings)
    return response


def error_body(error: ApiError) -> bytes:
    """A Status as kube-apiserver writes it: Go's field order (details before code),
    then a newline; clients compare these bytes."""
    status = error.to_status()
    return orjson.dumps(status) + b"\n"


def add_warnings(response: web.StreamResponse, warnings: Iterable[str]) -> None:
    """Kubernetes' NewWarningHeader refuses text with a control character (which a
    header cannot carry) and the warning is dropped; so is it here."""
    for text in warnings:
        if any(unicodedata.category(c) == "Cc" for c in text):
            continue
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        response.headers.add("Warning", f'299 - "{escaped}"')


def status_success(*, code: int = 200, details: dict[str, Any] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                              "status": "Success", "code": code}
    if details:
        status["details"] = details
    return status


def wants(request: web.Request) -> str:
    """'Table', 'PartialObjectMetadata', 'PartialObjectMetadataList' or '' (the object)."""
    accept = request.headers.get("Accept", "")
    for clause in accept.split(","):
        params = dict(p.strip().split("=", 1) for p in clause.split(";")[1:] if "=" in p)
        kind = params.get("as", "")
        if kind in ("Table", "PartialObjectMetadata", "PartialObjectMetadataList"):
            return kind
        if clause.split(";", 1)[0].strip() in (JSON, "*/*", "application/*", ""):
            return ""
    return ""


def partial_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata") or {}}


def object_response(request: web.Request, kind: KindDefinition, obj: dict[str, Any], *,
                    status: int = 200, warnings: Iterable[str] = ()) -> web.Response:
    """One object (as the request's version shows it), or its Table row / metadata when
    the client asks so."""
    obj = kind.present(obj)
    as_kind = wants(request)
    if as_kind == "Table":
        return json_response(tables.table_for(kind.table, [obj], request), status=status,
                             warnings=warnings)
    if as_kind.startswith("PartialObjectMetadata"):
        return json_response(partial_metadata(obj), status=status, warnings=warnings)
    return json_response(obj, status=status, warnings=warnings)


def list_response(request: web.Request, kind: KindDefinition, items: list[Entry], *,
                  revision: int, continue_: str = "", remaining: int | None = None
                  ) -> web.StreamResponse:
    meta: dict[str, Any] = {"resourceVersion": str(revision)}
    if continue_:
        meta["continue"] = continue_
    if remaining is not None:
        meta["remainingItemCount"] = remaining
    as_kind = wants(request)
    if as_kind == "Table":
        table = tables.table_for(kind.table, [kind.present(e.obj) for e in items], request)
        table["metadata"] = {**table.get("metadata", {}), **meta}
        return json_response(table)
    if as_kind.startswith("PartialObjectMetadata"):
        return json_response({"kind": "PartialObjectMetadataList",
                              "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                              "items": [partial_metadata(e.obj) for e in items]})
    resource = kind.resource
    head = orjson.dumps({"kind": f"{resource.kind}List", "apiVersion": resource.api_version,
                         "metadata": meta})
    api_version = resource.api_version
    present = kind.present if kind.convert else None
    parts = [head[:-1], b',"items":[']
    for i, entry in enumerate(items):
        if i:
            parts.append(b",")
        parts.append(entry.raw_as(api_version, present))
    parts.append(b"]}")
    return PartsResponse(parts, content_type=JSON)
