"""Request bodies: read within the size limit, decode, and check against the path.

A body larger than 3 MiB is refused (413) before and while it is read, so a
client cannot make the server buffer more. A body's kind and apiVersion, when
given, must be the path's; when missing they are filled from the path, as
Kubernetes' decoder does with its defaults.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from kybernetes.api.errors import ApiError, BadRequest
from kybernetes.api.resources import Resource
from kybernetes.apiserver import codec
from kybernetes.apiserver.request_info import RequestInfo

# How long a request body may take to arrive: kube-apiserver's --request-timeout
# (which bounds the whole request there; here the body, the part a client controls).
DEFAULT_BODY_READ_TIMEOUT = 60.0
BODY_READ_TIMEOUT = web.AppKey("body_read_timeout", float)


async def read_body(request: web.Request) -> bytes:
    """The raw body; 413 past the limit (checked before and while reading); 408 when
    it has not all arrived within the app's BODY_READ_TIMEOUT (a client trickling a
    body holds a connection and a buffer no longer than that)."""
    if request.content_length is not None:
        codec.check_size(request.content_length)
    content = request.content
    if content.is_eof() and content.exception() is None:
        # All of it has arrived with the headers (most bodies): no timer, no chunk loop.
        body = content.read_nowait(-1)
        codec.check_size(len(body))
        request["body"] = body
        return body
    chunks: list[bytes] = []
    size = 0
    limit = request.config_dict.get(BODY_READ_TIMEOUT, DEFAULT_BODY_READ_TIMEOUT)
    try:
        async with asyncio.timeout(limit or None):
            async for chunk in request.content.iter_chunked(1 << 16):
                size += len(chunk)
                codec.check_size(size)
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(f"the request body was not received within {limit:g}s",
                       code=408, reason="Timeout") from None
    body = request["body"] = b"".join(chunks)  # the audit log's requestObject
    return body


async def read_object(request: web.Request) -> dict[str, Any]:
    raw = await read_body(request)
    if not raw.strip():
        raise BadRequest("the body of the request was empty")
    obj = codec.decode_body(raw, request.headers.get("Content-Type"))
    if request.query.get("fieldValidation") == "Strict":
        _refuse_duplicate_fields(request, raw)
    return obj


def _refuse_duplicate_fields(request: web.Request, raw: bytes) -> None:
    """Strict decoding refuses a JSON body that repeats a field (orjson keeps the last)."""
    duplicates = codec.duplicate_fields(raw)
    if duplicates and "info" in request:
        r = request["info"].resource
        fields = ", ".join(f'duplicate field "{path}"' for path in duplicates)
        raise BadRequest(f'{r.kind} in version "{r.version}" cannot be handled as a {r.kind}: '
                         f"strict decoding error: {fields}")


def check_object(resource: Resource, info: RequestInfo, obj: dict[str, Any]) -> None:
    """Body kind/apiVersion and namespace must agree with the path (missing: filled)."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if kind and kind != resource.kind:
        raise BadRequest(f'{kind} in version "{api_version or resource.version}" cannot be '
                         f'handled as a {resource.kind}: the kind "{kind}" does not match '
                         f'"{resource.kind}"')
    if api_version and api_version != resource.api_version:
        raise BadRequest(f"the API version in the data ({api_version}) does not match the "
                         f"expected API version ({resource.api_version})")
    obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        raise BadRequest("metadata must be an object")
    ns = meta.get("namespace")
    if resource.namespaced and ns and info.namespace and ns != info.namespace:
        raise BadRequest("the namespace of the provided object does not match the namespace "
                         "sent on the request")
