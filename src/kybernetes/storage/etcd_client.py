"""The wire to etcd v3: its gRPC-gateway JSON API over one pooled aiohttp session.

etcd (3.4 and later) serves every KV RPC as ``POST /v3/<service>/<method>`` with
a JSON body; bytes are base64 and int64 values are decimal strings; fields at
their zero value are left out. ``/v3/watch`` answers with a stream of JSON
objects, one a line. This module knows that encoding, the endpoints, TLS, and
the translation of etcd's errors into storage errors - all in one place;
:mod:`.etcd` builds the Store on top of it.

Failover: endpoints are tried in turn, starting with the one that last worked.
Only a failure to *connect* moves on to the next one - a request that may have
reached a server is never sent twice, so a create is never applied twice.
"""

from __future__ import annotations

import base64
import ssl
from typing import Any

import aiohttp
import orjson

from kybernetes.storage.errors import StorageUnavailable
from kybernetes.storage.interface import KeyValue

ERR_COMPACTED = "required revision has been compacted"
ERR_FUTURE = "required revision is a future revision"
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=5)
WATCH_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=5, sock_read=None)


class RevisionError(Exception):
    """etcd refused a revision (compacted or future); the caller adds context."""

    def __init__(self, message: str, revision: int) -> None:
        super().__init__(message)
        self.compacted = ERR_COMPACTED in message
        self.revision = revision  # the store's revision from the reply, 0 if unknown


def b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


def to_kv(item: dict[str, Any]) -> KeyValue:
    """A gateway ``mvccpb.KeyValue`` as ours."""
    return KeyValue(
        base64.b64decode(item["key"]).decode(),
        base64.b64decode(item.get("value", "")),
        int(item.get("create_revision", 0)),
        int(item.get("mod_revision", 0)),
    )


def header_revision(reply: dict[str, Any]) -> int:
    return int(reply.get("header", {}).get("revision", 0))


def parse_endpoints(url: str) -> tuple[bool, list[str]]:
    """``etcd://h1:2379,h2:2379`` → (tls, ["h1:2379", "h2:2379"]); etcds:// is TLS."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("etcd", "etcds"):
        raise ValueError(f"not an etcd URL (etcd://host:port[,host:port…]): {url!r}")
    hosts = [h.strip() for h in rest.split("/", 1)[0].split(",") if h.strip()]
    if not hosts:
        raise ValueError(f"no etcd endpoint in {url!r}")
    for host in hosts:
        _, colon, port = host.rpartition(":")
        if not colon or not port.isdigit():
            raise ValueError(f"etcd endpoint needs host:port, got {host!r} in {url!r}")
    return scheme == "etcds", hosts


def ssl_context(cafile: str | None, certfile: str | None, keyfile: str | None
                ) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile)
    if certfile:
        context.load_cert_chain(certfile, keyfile)
    return context


class EtcdClient:
    """POSTs JSON to the first etcd endpoint that answers."""

    def __init__(self, url: str, *, cafile: str | None = None, certfile: str | None = None,
                 keyfile: str | None = None) -> None:
        tls, self.endpoints = parse_endpoints(url)
        tls = tls or bool(cafile or certfile)
        self._scheme = "https" if tls else "http"
        self._ssl = ssl_context(cafile, certfile, keyfile) if tls else None
        self._current = 0
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=256, ssl=self._ssl if self._ssl else False)
        self._session = aiohttp.ClientSession(connector=connector, timeout=REQUEST_TIMEOUT)

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One unary RPC; raises RevisionError or StorageUnavailable for etcd's errors."""
        response = await self._post(path, body, limits=REQUEST_TIMEOUT,
                                    idempotent=path == "/v3/kv/range")
        try:
            async with response:
                data = await response.read()
        except (TimeoutError, aiohttp.ClientError) as e:
            raise StorageUnavailable(f"etcd {path}: {e!r}") from e
        try:
            reply: dict[str, Any] = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise StorageUnavailable(
                f"etcd {path}: HTTP {response.status}: {data[:200]!r}") from None
        if "error" in reply or response.status != 200:
            message = str(reply.get("error") or reply.get("message") or reply)
            if ERR_COMPACTED in message or ERR_FUTURE in message:
                raise RevisionError(message, header_revision(reply))
            raise StorageUnavailable(f"etcd {path}: {message}")
        return reply

    async def open_stream(self, path: str, body: dict[str, Any]) -> aiohttp.ClientResponse:
        """Start a streaming RPC (watch); read it with :func:`read_messages`."""
        response = await self._post(path, body, limits=WATCH_TIMEOUT, idempotent=True)
        if response.status != 200:
            try:
                data = await response.read()
            except (TimeoutError, aiohttp.ClientError):
                data = b""
            response.close()
            raise StorageUnavailable(f"etcd {path}: HTTP {response.status}: {data[:200]!r}")
        return response

    async def _post(self, path: str, body: dict[str, Any], *, limits: aiohttp.ClientTimeout,
                    idempotent: bool = False) -> aiohttp.ClientResponse:
        """POST to the endpoints in turn. A read also survives one pooled connection
        that the server closed meanwhile (an etcd restart): it is sent once more."""
        if self._session is None:
            raise StorageUnavailable("the etcd store is not open")
        payload = orjson.dumps(body)
        headers = {"Content-Type": "application/json"}
        errors: list[str] = []
        attempts = len(self.endpoints) + (1 if idempotent else 0)
        for attempt in range(attempts):
            index = (self._current + attempt) % len(self.endpoints)
            url = f"{self._scheme}://{self.endpoints[index]}{path}"
            try:
                response = await self._session.post(url, data=payload, headers=headers,
                                                     timeout=limits)
            except aiohttp.ClientConnectorError as e:  # never reached a server: next one
                errors.append(f"{self.endpoints[index]}: {e}")
                continue
            except aiohttp.ServerDisconnectedError as e:
                if idempotent:
                    errors.append(f"{self.endpoints[index]}: {e!r}")
                    continue
                raise StorageUnavailable(f"etcd {path} at {self.endpoints[index]}: {e!r}") from e
            except (TimeoutError, aiohttp.ClientError) as e:
                raise StorageUnavailable(f"etcd {path} at {self.endpoints[index]}: {e!r}") from e
            self._current = index
            return response
        raise StorageUnavailable("no etcd endpoint answered: " + "; ".join(errors))


async def read_messages(response: aiohttp.ClientResponse, pending: bytearray
                        ) -> list[dict[str, Any]]:
    """The next whole JSON lines of a stream ([] at its end).

    `pending` keeps a partial line between calls; a cancelled call loses nothing,
    as the bytes stay in aiohttp's buffer until they are read.
    """
    while True:
        try:
            chunk = await response.content.readany()
        except (TimeoutError, aiohttp.ClientError) as e:
            raise StorageUnavailable(f"etcd stream broke: {e!r}") from e
        if not chunk:
            return []
        pending += chunk
        end = pending.rfind(b"\n")
        if end < 0:
            continue
        lines = bytes(pending[:end]).split(b"\n")
        del pending[:end + 1]
        return [orjson.loads(line) for line in lines if line.strip()]
