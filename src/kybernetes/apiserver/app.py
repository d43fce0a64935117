"""The aiohttp application: one middleware, the system endpoints, discovery, resources.

The middleware is the one place where
  * a request is authenticated and authorized (:class:`.authz.guard.RequestGuard`;
    401 or 403 Status otherwise), and in between counted against the in-flight
    limits (the priority levels of :mod:`.flowcontrol`, or :mod:`.inflight`; 429
    past them), in kube-apiserver's order,
  * an :class:`ApiError` becomes a Kubernetes ``Status`` response,
  * a storage error is translated (compacted → 410 Expired, unreachable → 503),
  * any other exception becomes a 500 ``InternalError`` Status, its traceback
    logged but never sent,
  * every request is counted in the metrics, and with ``-v`` logged as one ``HTTP``
    line (verb, URI, latency, user agent, audit ID, source, status: what
    kube-apiserver's httplog prints at -v=3),
  * and, with ``--audit-policy-file`` and ``--audit-log-path``, audited
    (:mod:`.audit`; nothing but a None check per request otherwise).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import platform
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kybernetes import __version__
from kybernetes.api.errors import (
    ApiError,
    Gone,
    InternalError,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    Timeout,
)
from kybernetes.apiserver.audit import Auditor, audit_id
from kybernetes.apiserver.authz.guard import RequestGuard
from kybernetes.apiserver.bodies import BODY_READ_TIMEOUT, DEFAULT_BODY_READ_TIMEOUT
from kybernetes.apiserver.discovery import Discovery
from kybernetes.apiserver.handlers import ResourceHandlers
from kybernetes.apiserver.inflight import (
    InflightLimit,
    RequestLimiter,
    TooManyRequests,
    too_many_requests,
)
from kybernetes.apiserver.metrics import Metrics
from kybernetes.apiserver.openapi import OpenApi
from kybernetes.apiserver.request_info import NOT_FOUND
from kybernetes.apiserver.responses import add_warnings, error_body, json_response
from kybernetes.storage.errors import (
    CompactedError,
    FutureRevisionError,
    StorageError,
    StorageUnavailable,
)

log = logging.getLogger("kybernetes.apiserver")
http_log = logging.getLogger("kybernetes.apiserver.http")

KUBE_VERSION = (1, 33)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@functools.cache
def version_info() -> dict[str, str]:
    major, minor = KUBE_VERSION
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(),
                                                          platform.machine())
    return {"major": str(major), "minor": str(minor),
            "gitVersion": f"v{major}.{minor}.0-kyb", "gitCommit": __version__,
            "gitTreeState": "clean", "buildDate": "2026-11-25T00:00:00Z",
            "goVersion": f"python{platform.python_version()}", "compiler": "cpython",
            "platform": f"{platform.system().lower()}/{machine}"}


def translate(error: StorageError) -> ApiError:
    """A storage error as the API error clients see (the one translation)."""
    if isinstance(error, CompactedError):
        return Gone(f"too old resource version: {error.revision} ({error.compacted_revision})")
    if isinstance(error, FutureRevisionError):
        return Timeout(f"Too large resource version: {error.revision}, current: "
                       f"{error.current_revision}")
    if isinstance(error, StorageUnavailable):
        return ServiceUnavailable(f"storage is unavailable: {error}")
    return InternalError(f"storage error: {error}")


def _verb(request: web.Request) -> tuple[str, str]:
    info = request.get("info")
    if info is None:
        return request.method, ""
    method = request.method
    if info.name is None and method == "GET":
        method = "WATCH" if request.query.get("watch") in ("true", "1") else "LIST"
    elif info.name is None and method == "DELETE":
        method = "DELETECOLLECTION"
    return method, info.verb_target


def _log_request(request: web.Request, latency: float, status: int) -> None:
    user = request.get("user")
    http_log.debug("HTTP", extra={
        "verb": request.method, "URI": request.path_qs, "latency": f"{latency * 1000:.3f}ms",
        "userAgent": request.headers.get("User-Agent", ""), "auditID": audit_id(request),
        "user": user.name if user is not None else "", "srcIP": request.remote or "",
        "resp": status})


def error_response(error: ApiError) -> web.Response:
    response = web.Response(body=error_body(error), status=error.code,
                            content_type="application/json")
    if error.code == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="kubernetes-master"'
    retry_after = error.details.get("retryAfterSeconds") if error.details else None
    if isinstance(retry_after, int) and retry_after > 0:  # as kube's responsewriters
        response.headers["Retry-After"] = str(retry_after)
    return response


def make_middleware(guard: RequestGuard, metrics: Metrics,
                    auditor: Auditor | None = None,
                    inflight: RequestLimiter | None = None) -> Any:
    limiter = inflight or InflightLimit(0, 0)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        if auditor is not None:
            auditor.receive(request)
        try:
            request["user"] = await guard.authenticate(request)
            async with limiter.enter(request["attributes"]):
                guard.authorize(request)
                response = await handler(request)
        except TooManyRequests as e:
            response = too_many_requests(e.retry_after)
        except ApiError as e:
            response = error_response(e)
        except StorageError as e:
            response = error_response(translate(e))
        except web.HTTPNotFound:
            response = error_response(NotFound(NOT_FOUND))
        except web.HTTPMethodNotAllowed as e:
            response = error_response(MethodNotAllowed(
                f"the server does not allow this method on the requested resource "
                f"({e.method})"))
        except web.HTTPException as e:
            response = error_response(ApiError(e.reason, code=e.status, reason=e.reason))
        except asyncio.CancelledError:
            if auditor is not None:
                auditor.cancelled(request)
            raise
        except Exception:
            log.exception("request failed", extra={"method": request.method,
                                                   "path": request.path})
            response = error_response(InternalError(
                "an error on the server has prevented the request from succeeding"))
        if response.status == 408:  # a body not received in time: the rest is not read
            response.force_close()
        verb, resource = _verb(request)
        latency = time.perf_counter() - started
        metrics.observe(verb, resource, response.status, latency)
        if http_log.isEnabledFor(logging.DEBUG):
            _log_request(request, latency, response.status)
        if auditor is not None:
            auditor.complete(request, response)
        return response

    return middleware


def build_app(handlers: ResourceHandlers, *, guard: RequestGuard, metrics: Metrics,
              ready: Callable[[], bool], discovery: Discovery,
              openapi: OpenApi, auditor: Auditor | None = None,
              inflight: RequestLimiter | None = None,
              body_read_timeout: float = DEFAULT_BODY_READ_TIMEOUT) -> web.Application:
    """The whole HTTP surface of the API server."""
    app = web.Application(middlewares=[make_middleware(guard, metrics, auditor, inflight)],
                          client_max_size=64 * 1024 * 1024, handler_args={"max_field_size": 65536})
    app[BODY_READ_TIMEOUT] = body_read_timeout

    async def health(request: web.Request) -> web.Response:
        ok = request.path != "/readyz" or ready()
        if "verbose" in request.query:
            text = "[+]ping ok\n[+]etcd ok\n" + ("[+]informer-sync ok\n" if ok else
                                                 "[-]informer-sync failed\n")
            text += "healthz check passed\n" if ok else "healthz check failed\n"
        else:
            text = "ok" if ok else "[-]informer-sync failed: not ready\nhealthz check failed"
        return web.Response(text=text, status=200 if ok else 500,
                            content_type="text/plain")

    async def version(request: web.Request) -> web.Response:
        return json_response(version_info())

    async def prometheus(request: web.Request) -> web.Response:
        return web.Response(text=metrics.render(), content_type="text/plain",
                            charset="utf-8")

    async def discover(request: web.Request) -> web.StreamResponse:
        found = discovery.document(request.path, request.headers.get("Accept"))
        if found is None:
            raise NotFound(NOT_FOUND)
        body, content_type = found
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response

    async def deprecation_warning(request: web.Request, response: web.StreamResponse) -> None:
        info = request.get("info")
        if info is not None and info.kind.deprecation_warning:
            add_warnings(response, [info.kind.deprecation_warning])

    async def audit_started(request: web.Request, response: web.StreamResponse) -> None:
        """Every response names its audit ID, as kube-apiserver's (audited or not)."""
        response.headers["Audit-Id"] = audit_id(request)
        if auditor is not None:
            auditor.started(request, response)

    app.on_response_prepare.append(deprecation_warning)
    app.on_response_prepare.append(audit_started)
    router = app.router
    for path in ("/healthz", "/livez", "/readyz"):
        router.add_get(path, health)
    router.add_get("/version", version)
    router.add_get("/version/", version)  # kube-apiserver answers both (kr8s asks the latter)
    router.add_get("/metrics", prometheus)
    router.add_get("/openapi/{tail:.*}", openapi.handle)
    for path in ("/api", "/apis", "/api/{version}", "/apis/{group}",
                 "/apis/{group}/{version}"):
        router.add_get(path, discover)
        router.add_get(path + "/", discover)
    router.add_route("*", "/api/{tail:.+}", handlers.handle)
    router.add_route("*", "/apis/{tail:.+}", handlers.handle)
    return app
