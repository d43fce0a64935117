"""POSTing an AdmissionReview to a webhook over HTTPS, with Kubernetes' error wording.

As k8s.io/apiserver/pkg/util/webhook/client.go builds its clients:

- `clientConfig.url` is called as given; `clientConfig.service` as
  `https://<name>.<namespace>.svc:<port><path>` — the TLS server name and Host
  header stay that name while the connection goes to the endpoint that
  `resolve_service` picks;
- the server is trusted through `caBundle` alone, or the system roots when it
  is empty; HTTP/1.1 only;
- `?timeout=<n>s` is added to the URL and the whole call (resolution included)
  is bounded by the webhook's timeoutSeconds.

One aiohttp session serves every call, so a slow webhook holds only its own
request. Every failure is a :class:`CallFailure` whose text reads as client-go's
(`failed to call webhook: Post "https://…?timeout=10s": context deadline
exceeded`), since users search for those words.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import errno
import functools
import posixpath
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from kybernetes.apiserver.webhooks.attributes import ServiceResolver
from kybernetes.apiserver.webhooks.failures import CallFailure
from kybernetes.apiserver.webhooks.matching import Hook

_UNKNOWN_AUTHORITY = (18, 19, 20, 21)  # self-signed / unknown issuer in OpenSSL's verify codes
_STATUS_TEXT = {
    400: "the server rejected our request for an unknown reason",
    401: "the server has asked for the client to provide credentials",
    404: "the server could not find the requested resource",
    405: "the server does not allow this method on the requested resource",
    422: "the server rejected our request due to an error in our request",
    429: "the server has received too many requests and has asked us to try again later",
    503: "the server is currently unable to handle the request",
    504: "the server was unable to return a response in the time allotted, but may still be "
         "processing the request",
}


@dataclass(frozen=True)
class _Target:
    """Where one call goes: the URL Kubernetes would print, and where we really connect."""

    url: str
    connect_url: str
    server_hostname: str | None = None
    host_header: str | None = None


class WebhookClient:
    """Calls webhooks; one shared session, opened on first use, closed by `aclose()`."""

    def __init__(self, resolve_service: ServiceResolver) -> None:
        self._resolve_service = resolve_service
        self._session: aiohttp.ClientSession | None = None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, hook: Hook, review: dict[str, Any]) -> Any:
        """The decoded JSON answer of `hook` to `review`; CallFailure when there is none."""
        config = hook.spec.get("clientConfig") or {}
        ssl_context = _context_or_failure(hook, str(config.get("caBundle") or ""))
        url = _printed_url(config, hook.timeout)
        try:
            async with asyncio.timeout(hook.timeout):
                target = await self._target(hook, config, url)
                return await self._exchange(hook, target, ssl_context, review)
        except TimeoutError:
            raise _transport_failure(hook, url, "context deadline exceeded") from None
        except aiohttp.ClientError as e:
            raise _transport_failure(hook, url, _client_error_text(e)) from None

    async def _target(self, hook: Hook, config: dict[str, Any], url: str) -> _Target:
        service = config.get("service")
        if not isinstance(service, dict):
            return _Target(url, url)
        name, namespace = str(service.get("name")), str(service.get("namespace"))
        port = int(service.get("port") or 443)
        try:
            host, real_port = await self._resolve_service(namespace, name, port)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the resolver's words are the reason
            raise _transport_failure(hook, url, str(e)) from None
        server_name = f"{name}.{namespace}.svc"
        parts = urllib.parse.urlsplit(url)
        netloc = f"[{host}]:{real_port}" if ":" in host else f"{host}:{real_port}"
        return _Target(url, urllib.parse.urlunsplit(parts._replace(netloc=netloc)),
                       server_name, f"{server_name}:{port}")

    async def _exchange(self, hook: Hook, target: _Target, ssl_context: ssl.SSLContext,
                        review: dict[str, Any]) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json, */*"}
        if target.host_header:
            headers["Host"] = target.host_header
        async with self._shared_session().post(
                target.connect_url, data=orjson.dumps(review), headers=headers,
                ssl=ssl_context, server_hostname=target.server_hostname) as response:
            body = await response.read()
            if not 200 <= response.status <= 206:
                raise CallFailure(hook.name, "failed to call webhook: " + _status_text(
                    response.status, response.headers.get("Content-Type", ""), body))
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise CallFailure(hook.name, "failed to call webhook: couldn't get version/kind; "
                                         f"json parse error: {e}") from None

    def _shared_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session


def _printed_url(config: dict[str, Any], timeout: int) -> str:
    """The request URL as client-go builds it: base + path.Join("/", path) + ?timeout=Ns."""
    service = config.get("service")
    if isinstance(service, dict):
        base = (f"https://{service.get('name')}.{service.get('namespace')}.svc:"
                f"{service.get('port') or 443}")
        path = str(service.get("path") or "")
    else:
        parts = urllib.parse.urlsplit(str(config.get("url") or ""))
        base, path = f"{parts.scheme}://{parts.netloc}", parts.path
    clean = posixpath.normpath("/" + path)
    clean = "/" + clean.lstrip("/")  # Go's path.Clean keeps one leading slash, POSIX two
    return f"{base}{clean}?timeout={timeout}s"


def _context_or_failure(hook: Hook, ca_bundle: str) -> ssl.SSLContext:
    try:
        return _ssl_context(ca_bundle)
    except (ValueError, binascii.Error, ssl.SSLError):
        raise CallFailure(hook.name, "could not get REST client: unable to load root "
                                     "certificates: unable to parse bytes as PEM block") from None


@functools.lru_cache(maxsize=200)
def _ssl_context(ca_bundle: str) -> ssl.SSLContext:
    """Trust the bundle alone (base64 PEM), or the system roots when there is none."""
    if ca_bundle:
        pem = base64.b64decode(ca_bundle, validate=True).decode("ascii")
        context = ssl.create_default_context(cadata=pem)
    else:
        context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


def _transport_failure(hook: Hook, url: str, detail: str) -> CallFailure:
    return CallFailure(hook.name, f'failed to call webhook: Post "{url}": {detail}')


def _client_error_text(error: aiohttp.ClientError) -> str:
    """Go's net/http wording for what went wrong on the wire."""
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        cert_error = error.certificate_error
        code = getattr(cert_error, "verify_code", None)
        why = ("certificate signed by unknown authority" if code in _UNKNOWN_AUTHORITY
               else str(getattr(cert_error, "verify_message", cert_error)))
        return f"tls: failed to verify certificate: x509: {why}"
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return f"dial tcp: lookup {error.host}: no such host"
    if isinstance(error, aiohttp.ClientConnectorError):
        address = f"{error.host}:{error.port}"
        if error.os_error.errno == errno.ECONNREFUSED:
            return f"dial tcp {address}: connect: connection refused"
        return f"dial tcp {address}: {(error.os_error.strerror or str(error.os_error)).lower()}"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "EOF"
    return str(error)


def _status_text(status: int, content_type: str, body: bytes) -> str:
    """client-go's NewGenericServerResponse for a non-2xx answer that is not a Status."""
    if status == 403:
        return body.decode(errors="replace").strip()
    if status in _STATUS_TEXT:
        return _STATUS_TEXT[status]
    if status >= 500:
        media = content_type.split(";", 1)[0].strip().lower()
        message = body.decode(errors="replace").strip() if (
            not media or media.startswith("text/")) else "unknown"
        return f'an error on the server ("{message}") has prevented the request from succeeding'
    return f"the server responded with the status code {status} but did not return more " \
           "information"
