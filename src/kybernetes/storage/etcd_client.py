"""The wire to etcd v3: its gRPC-gateway JSON API over one pooled aiohttp session.

etcd (3.4 and later) serves every KV RPC as ``POST /v3/<service>/<method>`` with
a JSON body; bytes are base64 and int64 values are decimal strings; fields at
their zero value are left out. ``/v3/watch`` answers with a stream of JSON
objects, one a line. This module knows that encoding, the endpoints, TLS, and
the translation of etcd's errors into storage errors - all in one place;
:mod:`.etcd` builds the Store on top of it.

Failover: endpoints are tried in turn, starting with the one that last worked.
Every request has a deadline: a member that does not answer within a few seconds
(stopped, overloaded, cut off) counts as stalled, as does one that refused the
connection or has no leader; a stalled member is tried last for
``STALL_BACKOFF`` seconds, then again. A read moves on to the next member at
once; a write that may have reached a stalled member is not sent twice (a create
must never be applied twice): it fails with ``StorageUnavailable`` and the next
write goes elsewhere. A connection that could not be made in time (a stopped
member's kernel accepts TCP, its TLS handshake never ends) never carried the
write: it moves on at once. A request that timed out may have met a leader change
rather than a stall of its member (a proposal forwarded to a leader that died is
lost and waits out the deadline): the member is asked for a linearizable read, and
if it answers (it has a leader again) requests go back to it, not on to the next
member, which may be the stopped leader itself. Watch streams ask for a member with a leader
(``hasleader``) and are probed when silent (see :class:`.etcd.EtcdWatch`).
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import time
from typing import Any

import aiohttp
import orjson

from kybernetes import tasks
from kybernetes.storage.errors import StorageUnavailable
from kybernetes.storage.interface import KeyValue

ERR_COMPACTED = "required revision has been compacted"
ERR_FUTURE = "required revision is a future revision"
ERR_NO_LEADER = "no leader"
# A unary RPC: a member silent for sock_read seconds is stalled (etcd answers in ms,
# a large range streams its bytes); total bounds a huge list on a slow machine.
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=3, sock_connect=3, sock_read=5)
WATCH_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=3, sock_connect=3, sock_read=None)
OPEN_TIMEOUT = 5.0  # a watch stream's reply headers (etcd sends `created` at once)
PROBE_TIMEOUT = aiohttp.ClientTimeout(total=3)  # is a silent watch's member alive?
# after a timeout: does the member have a leader again (a linearizable read)?
RECHECK_TIMEOUT = aiohttp.ClientTimeout(total=2)
STALL_BACKOFF = 10.0  # a member that stalled or refused is tried last this long
_JSON = {"Content-Type": "application/json"}
# Kubernetes' etcd client watches "WithRequireLeader": a member cut off from the
# quorum cancels the stream instead of going silent (the gateway forwards
# Grpc-Metadata-* headers as gRPC metadata).
_WATCH_HEADERS = {**_JSON, "Grpc-Metadata-hasleader": "true"}


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


class _MaybeSent(Exception):
    """A request failed after it may have reached the member."""


class _NotSent(Exception):
    """No connection to the member could be made: the request never left."""


class EtcdClient:
    """POSTs JSON to the first etcd endpoint that answers (see the module docstring)."""

    def __init__(self, url: str, *, cafile: str | None = None, certfile: str | None = None,
                 keyfile: str | None = None) -> None:
        tls, self.endpoints = parse_endpoints(url)
        tls = tls or bool(cafile or certfile)
        self._scheme = "https" if tls else "http"
        self._ssl = ssl_context(cafile, certfile, keyfile) if tls else None
        self._current = 0
        self._stalled: dict[int, float] = {}  # endpoint index → tried last until then
        self._rechecks: dict[int, asyncio.Task[None]] = {}  # members asked after a timeout
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=256, ssl=self._ssl if self._ssl else False)
        self._session = aiohttp.ClientSession(connector=connector, timeout=REQUEST_TIMEOUT)

    async def aclose(self) -> None:
        await tasks.cancel_and_wait(*self._rechecks.values())
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def stalled(self, index: int) -> None:
        """Try the member at `index` last for a while (it stalled or failed)."""
        self._stalled[index] = time.monotonic() + STALL_BACKOFF
        if index == self._current and len(self.endpoints) > 1:
            self._current = (index + 1) % len(self.endpoints)

    def order(self) -> list[int]:
        """The endpoints to try: from the one that last worked, stalled ones last
        (the longest-stalled first among them)."""
        now = time.monotonic()
        count = len(self.endpoints)
        ring = [(self._current + i) % count for i in range(count)]
        for index in [i for i, until in self._stalled.items() if until <= now]:
            del self._stalled[index]
        return ([i for i in ring if i not in self._stalled]
                + sorted((i for i in ring if i in self._stalled), key=self._stalled.__getitem__))

    def _url(self, index: int, path: str) -> str:
        return f"{self._scheme}://{self.endpoints[index]}{path}"

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise StorageUnavailable("the etcd store is not open")
        return self._session

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One unary RPC; raises RevisionError or StorageUnavailable for etcd's errors.

        A read goes on to the next member after any failure (and once more to the
        first: a pooled connection the server closed meanwhile); a write only after
        one that never reached a member."""
        session = self._open_session()
        payload = orjson.dumps(body)
        idempotent = path == "/v3/kv/range"
        order = self.order()
        if idempotent:
            order.append(order[0])
        errors: list[str] = []
        for index in order:
            try:
                status, data = await self._unary(session, index, path, payload)
            except _NotSent as e:  # never reached a server: next one
                self.stalled(index)
                errors.append(str(e))
                continue
            except _MaybeSent as e:
                cause = e.__cause__
                if not isinstance(cause, aiohttp.ServerDisconnectedError):
                    self.stalled(index)  # a timeout or broken reply, not a closed idle conn
                    if isinstance(cause, TimeoutError):
                        self._recheck(index)
                if idempotent:
                    errors.append(f"{self.endpoints[index]}: {cause!r}")
                    continue
                raise StorageUnavailable(
                    f"etcd {path} at {self.endpoints[index]}: {cause!r}") from cause
            reply = self._reply(path, status, data)
            if reply is None:  # the member has no leader: another one may
                self.stalled(index)
                errors.append(f"{self.endpoints[index]}: etcdserver: no leader")
                continue
            self._current = index
            return reply
        raise StorageUnavailable("no etcd endpoint answered: " + "; ".join(errors))

    async def _unary(self, session: aiohttp.ClientSession, index: int, path: str,
                     payload: bytes, limits: aiohttp.ClientTimeout = REQUEST_TIMEOUT
                     ) -> tuple[int, bytes]:
        try:
            async with session.post(self._url(index, path), data=payload, headers=_JSON,
                                    timeout=limits) as response:
                return response.status, await response.read()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as e:
            raise _NotSent(f"{self.endpoints[index]}: {e}") from e
        except (TimeoutError, aiohttp.ClientError) as e:
            raise _MaybeSent() from e

    @staticmethod
    def _reply(path: str, status: int, data: bytes) -> dict[str, Any] | None:
        """The decoded reply; None for "no leader" (safe to send elsewhere: etcd
        refuses before proposing); raises for the other errors."""
        try:
            reply: dict[str, Any] = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise StorageUnavailable(f"etcd {path}: HTTP {status}: {data[:200]!r}") from None
        if "error" in reply or status != 200:
            message = str(reply.get("error") or reply.get("message") or reply)
            if ERR_COMPACTED in message or ERR_FUTURE in message:
                raise RevisionError(message, header_revision(reply))
            if message.endswith(ERR_NO_LEADER):
                return None
            raise StorageUnavailable(f"etcd {path}: {message}")
        return reply

    async def probe(self, index: int, *, serializable: bool = True,
                    limits: aiohttp.ClientTimeout = PROBE_TIMEOUT) -> bool:
        """Does the member at `index` answer a local (serializable) read in time, or
        with `serializable=False` a linearizable one (it has a leader)?"""
        body = orjson.dumps({"key": base64.b64encode(b"\0").decode(), "count_only": True,
                             "serializable": serializable})
        try:
            status, _ = await self._unary(self._open_session(), index, "/v3/kv/range", body,
                                          limits)
        except (_MaybeSent, _NotSent):
            return False
        return status == 200

    def _recheck(self, index: int) -> None:
        """Ask the member whose request timed out whether it has a leader again."""
        if index not in self._rechecks:
            self._rechecks[index] = tasks.spawn(self._recheck_member(index),
                                                name=f"etcd-recheck-{index}")

    async def _recheck_member(self, index: int) -> None:
        try:
            if await self.probe(index, serializable=False, limits=RECHECK_TIMEOUT):
                self._stalled.pop(index, None)
                self._current = index
        finally:
            self._rechecks.pop(index, None)

    async def open_stream(self, path: str, body: dict[str, Any]
                          ) -> tuple[aiohttp.ClientResponse, int]:
        """Start a streaming RPC (watch) on the first member that answers in time;
        returns the response (read it with :func:`read_messages`) and the member."""
        session = self._open_session()
        payload = orjson.dumps(body)
        errors: list[str] = []
        for index in self.order():
            try:
                async with asyncio.timeout(OPEN_TIMEOUT):
                    response = await session.post(self._url(index, path), data=payload,
                                                  headers=_WATCH_HEADERS, timeout=WATCH_TIMEOUT)
            except (TimeoutError, aiohttp.ClientError) as e:
                self.stalled(index)
                errors.append(f"{self.endpoints[index]}: {e!r}")
                continue
            if response.status != 200:
                try:
                    data = await response.read()
                except (TimeoutError, aiohttp.ClientError):
                    data = b""
                response.close()
                error = f"etcd {path}: HTTP {response.status}: {data[:200]!r}"
                if response.status == 503:  # this member has no leader: another may
                    self.stalled(index)
                    errors.append(f"{self.endpoints[index]}: {error}")
                    continue
                raise StorageUnavailable(error)
            return response, index
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
