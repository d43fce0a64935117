"""The async REST client every component talks to the API server through.

One :class:`ApiClient` holds one aiohttp session (a keep-alive connection pool),
made lazily inside the running event loop, so building a client is cheap and
sync. Requests are JSON both ways (orjson). Errors are translated in exactly one
place, :meth:`ApiClient._raise_for`: a `Status` body becomes the same
:class:`~kybernetes.api.errors.ApiError` subclass the server raised (via
``from_status``); a connection failure becomes ``ServiceUnavailable`` so callers
handle one exception tree.

Paths come from the shared resource registry (``Resource.path``), so the client
and the server cannot disagree on where a resource lives.

A watch is a :class:`Watch`: an async iterator of :class:`WatchEvent` parsed from
the chunked stream, one JSON object per line. We split lines ourselves instead
of using ``readline`` because one object may be larger than aiohttp's line
limit. An ``ERROR`` event raises the ``ApiError`` in its Status (``410 Gone`` for
a compacted resourceVersion); the end of the stream ends the iteration. Leaving
the iteration for any reason (end, error, break inside ``async with``, or
``aclose()``) releases the connection.

An overloaded API server's 429 (kube's plain-text answer of its priority and
fairness or max-inflight filter, with Retry-After) is retried after that many
seconds, up to 10 times, as client-go does; a 429 Status (an eviction refused by a
PodDisruptionBudget) is the caller's to handle.

A client made from a kubeconfig can change the client certificate it presents
(:meth:`ApiClient.use_client_certificate`, for the kubelet's certificate rotation):
new requests go through a new pool with the new certificate, and the old pool is
closed after a grace period, so short requests in flight finish and long watches
are cut and re-established by their informers under the new identity.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from kybernetes.api import errors
from kybernetes.api.resources import Resource
from kybernetes.client.kubeconfig import KubeConfig, load_kubeconfig

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}


@dataclass(frozen=True)
class WatchEvent:
    """One event of a watch stream: ADDED, MODIFIED, DELETED or BOOKMARK."""

    type: str
    object: dict[str, Any]


def _params(**values: Any) -> dict[str, str]:
    """Query parameters, leaving out the ones not given."""
    out = {}
    for key, value in values.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


class Watch:
    """An open watch stream; iterate it, or use it as an async context manager."""

    def __init__(self, client: ApiClient, path: str, params: dict[str, str]) -> None:
        self._client = client
        self._path = path
        self._params = params
        self._response: aiohttp.ClientResponse | None = None
        self._buffer = b""
        self._lines: list[bytes] = []
        self._closed = False

    async def __aenter__(self) -> Watch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __aiter__(self) -> Watch:
        return self

    async def __anext__(self) -> WatchEvent:
        try:
            return await self._next()
        except BaseException:
            await self.aclose()
            raise

    async def _next(self) -> WatchEvent:
        if self._closed:
            raise StopAsyncIteration
        if self._response is None:
            self._response = await self._client._open(
                "GET", self._path, params=self._params, streaming=True)
        while True:
            line = await self._next_line()
            if line is None:
                raise StopAsyncIteration
            if not line.strip():
                continue
            event = orjson.loads(line)
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                raise errors.from_status(obj)
            return WatchEvent(kind, obj)

    async def _next_line(self) -> bytes | None:
        assert self._response is not None
        while not self._lines:
            try:
                chunk = await self._response.content.readany()
            except (TimeoutError, aiohttp.ClientError) as e:
                raise errors.ServiceUnavailable(f"watch stream broken: {e}") from e
            if not chunk:
                rest, self._buffer = self._buffer, b""
                return rest or None
            parts = (self._buffer + chunk).split(b"\n")
            self._buffer = parts.pop()
            self._lines = parts[::-1]
        return self._lines.pop()

    async def aclose(self) -> None:
        """Stop the watch and give the connection back (closed, not reused)."""
        self._closed = True
        if self._response is not None:
            self._response.close()
            self._response = None


MAX_OVERLOAD_RETRIES = 10  # client-go's default maxRetries
MAX_RETRY_AFTER = 32.0  # the most kube's priority and fairness asks for


def _overload_retry_after(response: aiohttp.ClientResponse, raw: bytes) -> float | None:
    """Seconds to wait before retrying an overloaded server's 429, else None."""
    if response.status != 429 or raw.lstrip().startswith(b"{"):
        return None
    try:
        return min(max(float(response.headers.get("Retry-After", "")), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return None


class ApiClient:
    """Talks to one API server: CRUD, subresources and watch for registry resources."""

    def __init__(self, url: str, *, ssl: ssl_module.SSLContext | bool | None = None,
                 token: str | None = None, tls_server_name: str | None = None,
                 timeout: float = 60.0, pool_size: int = 100,
                 user_agent: str = "kybernetes", queue_requests: bool = False) -> None:
        self.url = url.rstrip("/")
        # With queue_requests, at most pool_size requests (watches aside) are in flight
        # and the rest wait their turn before their timeout starts: tens of thousands
        # of callers at once (hollow nodes' pod workers) then queue instead of timing
        # out while waiting for a pooled connection and retrying.
        self._turns = asyncio.Semaphore(pool_size) if queue_requests else None
        self._ssl = ssl
        self._headers = {"Accept": "application/json", "User-Agent": user_agent}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._server_hostname = tls_server_name
        self._timeout = timeout
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None
        self._config: KubeConfig | None = None
        self._retired: set[aiohttp.ClientSession] = set()
        # open watch streams per pool, ended when their pool is retired
        self._streams: dict[aiohttp.ClientSession, weakref.WeakSet[aiohttp.ClientResponse]] = {}
        self._retiring: set[asyncio.Task[None]] = set()

    @classmethod
    def from_kubeconfig(cls, path: str | Path | None = None, *, context: str | None = None,
                        **kwargs: Any) -> ApiClient:
        """A client for the current (or named) context of a kubeconfig file."""
        return cls.from_config(load_kubeconfig(path, context=context), **kwargs)

    @classmethod
    def from_config(cls, config: KubeConfig, **kwargs: Any) -> ApiClient:
        ssl = config.ssl_context()
        client = cls(config.server, ssl=ssl if ssl is not None else None, token=config.token,
                     tls_server_name=config.tls_server_name, **kwargs)
        client._config = config
        return client

    def use_client_certificate(self, cert_pem: bytes, key_pem: bytes, *,
                               grace: float = 5.0) -> None:
        """Present this certificate and key from now on; the old connections are closed
        after `grace` seconds. KubeconfigError when they do not load; ValueError when the
        client was not made from a kubeconfig."""
        if self._config is None:
            raise ValueError("only a client made from a kubeconfig can change its certificate")
        config = replace(self._config, cert_pem=cert_pem, key_pem=key_pem)
        self._ssl = config.ssl_context()
        self._config = config
        old, self._session = self._session, None
        if old is not None and not old.closed:
            self._retired.add(old)
            task = asyncio.get_running_loop().create_task(self._retire(old, grace),
                                                          name="api-client-retire-pool")
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def _retire(self, session: aiohttp.ClientSession, grace: float) -> None:
        await asyncio.sleep(grace)
        self._retired.discard(session)
        for response in list(self._streams.pop(session, ())):
            # closing the pool alone leaves a watch's reader waiting forever: end it, and
            # its informer opens a new one through the new pool
            response.content.set_exception(
                aiohttp.ClientConnectionError("the client certificate changed"))
        await session.close()

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, ssl=self._ssl
                                             if self._ssl is not None else True,
                                             keepalive_timeout=30)
            self._session = aiohttp.ClientSession(
                connector=connector, headers=self._headers,
                json_serialize=lambda o: orjson.dumps(o).decode())
        return self._session

    async def aclose(self) -> None:
        for task in list(self._retiring):
            task.cancel()
        for old in list(self._retired):
            await old.close()
        self._retired.clear()
        self._streams.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the one place requests are sent and errors translated ---------------------

    async def _open(self, method: str, path: str, *, params: dict[str, str] | None = None,
                    body: Any = None, content_type: str = "application/json",
                    streaming: bool = False, accept: str | None = None,
                    retries: int = 0) -> aiohttp.ClientResponse:
        data = None
        headers = {"Accept": accept} if accept else {}
        if body is not None:
            data = body if isinstance(body, bytes | str) else orjson.dumps(body)
            headers["Content-Type"] = content_type
        timeout = aiohttp.ClientTimeout(
            total=None if streaming else self._timeout, sock_connect=10,
            sock_read=None if streaming else self._timeout)
        session = self._session_now()
        try:
            response = await session.request(
                method, self.url + path, params=params, data=data, headers=headers,
                timeout=timeout, server_hostname=self._server_hostname)
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            raise errors.ServiceUnavailable(
                f"cannot reach the API server at {self.url}: {str(e) or type(e).__name__}") from e
        if streaming and self._config is not None:  # only these clients change pools
            self._streams.setdefault(session, weakref.WeakSet()).add(response)
        if response.status >= 400:
            try:
                raw = await response.read()
            except (TimeoutError, aiohttp.ClientError):
                raw = b""
            finally:
                response.release()
            delay = _overload_retry_after(response, raw)
            if delay is not None and retries < MAX_OVERLOAD_RETRIES:
                await asyncio.sleep(delay)
                return await self._open(method, path, params=params, body=body,
                                        content_type=content_type, streaming=streaming,
                                        accept=accept, retries=retries + 1)
            raise self._error_for(response.status, raw)
        return response

    @staticmethod
    def _error_for(status: int, raw: bytes) -> errors.ApiError:
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            body = {}
        if isinstance(body, dict) and body.get("kind") == "Status":
            return errors.from_status(body, status)
        text = raw.decode(errors="replace").strip()[:500] or f"HTTP {status}"
        return errors.from_status({"code": status, "message": text}, status)

    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                      body: Any = None, content_type: str = "application/json",
                      accept: str | None = None, raw: bool = False) -> Any:
        """Send one request and return the decoded JSON (or text) body; with `raw`, the
        body's bytes as they came (a caller that only needs them delivered)."""
        if self._turns is not None:
            async with self._turns:
                return await self._request(method, path, params=params, body=body,
                                           content_type=content_type, accept=accept, raw=raw)
        return await self._request(method, path, params=params, body=body,
                                   content_type=content_type, accept=accept, raw=raw)

    async def _request(self, method: str, path: str, *, params: dict[str, str] | None,
                       body: Any, content_type: str, accept: str | None, raw: bool) -> Any:
        response = await self._open(method, path, params=params, body=body,
                                    content_type=content_type, accept=accept)
        try:
            data = await response.read()
        except (TimeoutError, aiohttp.ClientError) as e:
            raise errors.ServiceUnavailable(f"{method} {path}: {e}") from e
        finally:
            response.release()
        if raw:
            return data
        if not data:
            return {}
        if response.content_type == "application/json":
            return orjson.loads(data)
        return data.decode(errors="replace")

    # -- verbs ---------------------------------------------------------------------

    async def get(self, resource: Resource, name: str, *, namespace: str | None = None,
                  subresource: str | None = None) -> dict[str, Any]:
        return await self.request("GET", resource.path(namespace, name, subresource))

    async def list(self, resource: Resource, *, namespace: str | None = None,
                   label_selector: str | None = None, field_selector: str | None = None,
                   limit: int | None = None, continue_: str | None = None,
                   resource_version: str | None = None) -> dict[str, Any]:
        params = _params(labelSelector=label_selector, fieldSelector=field_selector,
                         limit=limit, resourceVersion=resource_version, **{"continue": continue_})
        return await self.request("GET", resource.path(namespace), params=params)

    async def list_all(self, resource: Resource, *, page_size: int = 500,
                       **kwargs: Any) -> dict[str, Any]:
        """A whole list, following `continue` tokens page by page."""
        result = await self.list(resource, limit=page_size, **kwargs)
        items = list(result.get("items") or [])
        while (token := (result.get("metadata") or {}).get("continue")):
            result = await self.list(resource, limit=page_size, continue_=token, **kwargs)
            items.extend(result.get("items") or [])
        result["items"] = items
        return result

    async def create(self, resource: Resource, obj: dict[str, Any], *,
                     namespace: str | None = None) -> dict[str, Any]:
        ns = namespace or (obj.get("metadata") or {}).get("namespace")
        return await self.request("POST", resource.path(ns), body=obj)

    async def update(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        return await self.update_subresource(resource, obj, None)

    async def update_status(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        return await self.update_subresource(resource, obj, "status")

    async def update_subresource(self, resource: Resource, obj: dict[str, Any],
                                 subresource: str | None) -> dict[str, Any]:
        """PUT an object (or its status, finalize, scale … subresource)."""
        meta = obj.get("metadata") or {}
        path = resource.path(meta.get("namespace"), meta["name"], subresource)
        return await self.request("PUT", path, body=obj)

    async def patch(self, resource: Resource, name: str, body: Any, *,
                    namespace: str | None = None, patch_type: str = "merge",
                    subresource: str | None = None,
                    field_manager: str | None = None) -> dict[str, Any]:
        if patch_type not in PATCH_TYPES:
            raise ValueError(f"unknown patch type {patch_type!r}")
        return await self.request(
            "PATCH", resource.path(namespace, name, subresource), body=body,
            content_type=PATCH_TYPES[patch_type], params=_params(fieldManager=field_manager))

    async def delete(self, resource: Resource, name: str, *, namespace: str | None = None,
                     grace_period_seconds: int | None = None,
                     propagation_policy: str | None = None,
                     preconditions: Mapping[str, str | None] | None = None) -> dict[str, Any]:
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        if preconditions:
            options["preconditions"] = dict(preconditions)
        return await self.request("DELETE", resource.path(namespace, name), body=options)

    async def delete_collection(self, resource: Resource, *, namespace: str | None = None,
                                label_selector: str | None = None,
                                propagation_policy: str | None = None) -> dict[str, Any]:
        """DELETE a whole collection (deletecollection), optionally by label selector."""
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy is not None:
            options["propagationPolicy"] = propagation_policy
        return await self.request("DELETE", resource.path(namespace), body=options,
                                  params=_params(labelSelector=label_selector))

    async def create_subresource(self, resource: Resource, name: str, subresource: str,
                                 body: dict[str, Any], *,
                                 namespace: str | None = None) -> dict[str, Any]:
        return await self.request("POST", resource.path(namespace, name, subresource), body=body)

    def watch(self, resource: Resource, *, namespace: str | None = None,
              resource_version: str | None = None, label_selector: str | None = None,
              field_selector: str | None = None, allow_bookmarks: bool = True,
              timeout_seconds: int | None = None) -> Watch:
        """Open a watch; iterate the result for :class:`WatchEvent` values."""
        params = _params(watch=True, resourceVersion=resource_version,
                         labelSelector=label_selector, fieldSelector=field_selector,
                         allowWatchBookmarks=allow_bookmarks or None,
                         timeoutSeconds=timeout_seconds)
        return Watch(self, resource.path(namespace), params)

