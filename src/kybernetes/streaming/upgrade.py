"""HTTP/1.1 connection upgrades to a raw byte stream, both ends.

`accept` answers an aiohttp request with ``101 Switching Protocols`` and takes over
its connection (aiohttp only does this for WebSockets itself); `dial` sends an
upgrade request over TLS and returns the connection once the server switched.
Both give a :class:`Conn`: `read()` (b"" at the end), `write()`, `close()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any, Protocol
from urllib.parse import urlsplit

from aiohttp import web

from kybernetes.tasks import cancel_and_wait, spawn

PAUSE_AT = 64  # queued chunks before the socket stops being read


class Conn(Protocol):
    """A byte stream in both directions."""

    async def read(self) -> bytes: ...

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


class _Feed:
    """Takes aiohttp's place as the parser of an upgraded connection: bytes to a queue."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport = transport
        self.paused = False

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.queue.put_nowait(bytes(data))
        if self.queue.qsize() >= PAUSE_AT and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        return False, b""

    def feed_eof(self) -> None:
        self.queue.put_nowait(b"")


class ServerConn:
    """The client's connection to us after `accept` (see the module docstring)."""

    def __init__(self, request: web.Request, feed: _Feed) -> None:
        self._request = request
        self._feed = feed
        self._eof = False

    async def read(self) -> bytes:
        if self._eof:
            return b""
        data = await self._feed.queue.get()
        if self._feed.paused and self._feed.queue.qsize() < PAUSE_AT // 2:
            self._feed.paused = False
            with contextlib.suppress(RuntimeError, AttributeError):
                self._feed.transport.resume_reading()
        self._eof = not data
        return data

    async def write(self, data: bytes) -> None:
        transport = self._request.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("connection closed")
        transport.write(data)
        protocol: Any = self._request.protocol
        writer = getattr(protocol, "_drain_helper", None)
        if writer is not None:
            await writer()

    async def close(self) -> None:
        transport = self._request.transport
        if transport is not None:
            transport.close()


async def accept(request: web.Request, headers: dict[str, str]) -> ServerConn:
    """Answer 101 with `headers` (Upgrade, X-Stream-Protocol-Version) and take over."""
    response = web.StreamResponse(status=101, headers={"Connection": "Upgrade", **headers})
    await response.prepare(request)
    await response.drain()
    request["upgraded_response"] = response  # what the handler returns to aiohttp
    transport = request.transport
    assert transport is not None
    feed = _Feed(transport)  # type: ignore[arg-type]
    protocol: Any = request.protocol
    protocol.keep_alive(False)
    protocol.set_parser(feed)
    return ServerConn(request, feed)


class ClientConn:
    """Our connection to a server after `dial`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 rest: bytes) -> None:
        self._reader = reader
        self._writer = writer
        self._rest = rest

    async def read(self) -> bytes:
        if self._rest:
            data, self._rest = self._rest, b""
            return data
        try:
            return await self._reader.read(65536)
        except (ConnectionError, OSError):
            return b""

    async def write(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()


class UpgradeRefused(Exception):
    """The server answered something other than 101."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


async def dial(url: str, headers: list[tuple[str, str]], *, ssl_context: ssl.SSLContext | None,
               connect_seconds: float = 10) -> tuple[ClientConn, dict[str, str]]:
    """GET `url` with `headers` asking to upgrade; (connection, response headers) on 101."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    async with asyncio.timeout(connect_seconds):
        reader, writer = await asyncio.open_connection(
            host, port, ssl=ssl_context if parts.scheme == "https" else None)
        lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: Upgrade",
                 *(f"{k}: {v}" for k, v in headers), "", ""]
        writer.write("\r\n".join(lines).encode())
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            writer.close()
            raise UpgradeRefused(502, f"no answer to the upgrade: {e}") from None
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = status_line.split(" ", 2)
    status = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 502
    response = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep:
            response[name.strip().lower()] = value.strip()
    if status != 101:
        body = b""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                length = int(response.get("content-length", "0") or 0)
                body = await reader.readexactly(length) if length else await reader.read(4096)
        writer.close()
        raise UpgradeRefused(status, body.decode(errors="replace"))
    return ClientConn(reader, writer, b""), response


async def pump(a: Conn, b: Conn) -> None:
    """Copy bytes both ways until either side ends, then close both."""

    async def copy(source: Conn, sink: Conn) -> None:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            while data := await source.read():
                await sink.write(data)

    tasks = [spawn(copy(a, b), name="upgrade-pump"), spawn(copy(b, a), name="upgrade-pump")]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait(*tasks)
        await a.close()
        await b.close()
