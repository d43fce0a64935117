"""Exec and attach streams, over a WebSocket or SPDY, into one shape.

kubectl ≥ 1.30 and the Python client speak the WebSocket channel protocols: every
message starts with a channel byte (0 stdin, 1 stdout, 2 stderr, 3 the final Status,
4 terminal resize, and in v5 255 to close a stream). The Python client sends its stdin
as *text* messages whose first character is the channel. Older kubectls (and newer
ones when a WebSocket upgrade fails) open a SPDY/3.1 connection
(``X-Stream-Protocol-Version: v4.channel.k8s.io``) with one stream per channel, named
by its ``streamType`` header. Both become a :class:`Channels`, and :func:`serve` runs
an :class:`~kybernetes.kubelet.runtime.base.ExecSession` over it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, Protocol

import orjson
from aiohttp import WSMsgType, web

from kybernetes.streaming import spdy, upgrade
from kybernetes.tasks import cancel_and_wait, spawn

WS_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io",
                "v2.channel.k8s.io", "channel.k8s.io")
SPDY_PROTOCOLS = ("v4.channel.k8s.io",)
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
GONE = -1  # the client's connection ended
STREAM_TYPES = {"stdin": STDIN, "stdout": STDOUT, "stderr": STDERR, "error": ERROR,
                "resize": RESIZE}
STREAM_CREATION_TIMEOUT = 30.0


class Session(Protocol):
    """What :func:`serve` drives (an exec, or an attach to a running container)."""

    async def write_stdin(self, data: bytes) -> None: ...

    async def close_stdin(self) -> None: ...

    def output(self) -> AsyncIterator[tuple[int, bytes]]: ...

    async def wait(self) -> int: ...

    async def resize(self, width: int, height: int) -> None: ...


class Channels(Protocol):
    """The client's side of one exec/attach, whatever the transport."""

    def inputs(self) -> AsyncIterator[tuple[int, bytes]]:
        """(STDIN, data), (CLOSE, b"") when stdin ends, (RESIZE, json) — until the end."""

    async def send(self, channel: int, data: bytes) -> None: ...

    async def finish(self, status: dict[str, Any]) -> None:
        """Close the output streams, then write the final Status."""


def is_spdy(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower().startswith("spdy/")


def offered_protocols(request: web.Request) -> list[str]:
    return [p.strip() for value in request.headers.getall("X-Stream-Protocol-Version", [])
            for p in value.split(",") if p.strip()]


def negotiate(request: web.Request, supported: tuple[str, ...]) -> str:
    """The first protocol the client offers that we speak (kube's httpstream.Handshake)."""
    offered = offered_protocols(request)
    for protocol in offered:
        if protocol in supported:
            return protocol
    raise web.HTTPForbidden(text=(
        f"unable to upgrade: unable to negotiate protocol: client supports {offered}, "
        f"server supports {list(supported)}"))


class WebSocketChannels:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    async def inputs(self) -> AsyncIterator[tuple[int, bytes]]:
        async for msg in self.ws:
            if msg.type == WSMsgType.BINARY and msg.data:
                channel, data = msg.data[0], bytes(msg.data[1:])
            elif msg.type == WSMsgType.TEXT and msg.data:  # the Python client's stdin
                channel, data = ord(msg.data[0]), msg.data[1:].encode()
            else:
                continue
            if channel == CLOSE:
                if data[:1] == bytes([STDIN]):
                    yield CLOSE, b""
            elif channel in (STDIN, RESIZE):
                yield channel, data
        yield CLOSE, b""

    async def send(self, channel: int, data: bytes) -> None:
        await self.ws.send_bytes(bytes([channel]) + data)

    async def finish(self, status: dict[str, Any]) -> None:
        await self.ws.send_bytes(bytes([ERROR]) + orjson.dumps(status))
        await self.ws.close()


class SpdyChannels:
    """One SPDY connection whose streams are the exec's channels."""

    def __init__(self, conn: upgrade.ServerConn) -> None:
        self.conn = conn
        self.streams: dict[int, spdy.Stream] = {}
        self._arrived = asyncio.Event()
        self._inputs: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
        self.session = spdy.Session(conn.read, conn.write, self._on_stream)
        self._runner = spawn(self._run(), name="spdy-exec")

    async def _run(self) -> None:
        try:
            await self.session.run()
        finally:
            self._arrived.set()
            self._inputs.put_nowait((GONE, b""))

    def _on_stream(self, stream: spdy.Stream) -> None:
        channel = STREAM_TYPES.get(stream.header("streamType"))
        if channel is not None:
            self.streams[channel] = stream
            self._arrived.set()

    @classmethod
    async def accept(cls, request: web.Request, *, expected: set[int]) -> SpdyChannels:
        protocol = negotiate(request, SPDY_PROTOCOLS)
        conn = await upgrade.accept(request, {"Upgrade": "SPDY/3.1",
                                              "X-Stream-Protocol-Version": protocol})
        channels = cls(conn)
        try:
            async with asyncio.timeout(STREAM_CREATION_TIMEOUT):
                while not expected <= channels.streams.keys() and not channels.session.closed:
                    channels._arrived.clear()
                    await channels._arrived.wait()
        except TimeoutError:
            await channels.close()
            raise
        return channels

    async def inputs(self) -> AsyncIterator[tuple[int, bytes]]:
        queue = self._inputs

        async def read(channel: int) -> None:
            stream = self.streams[channel]
            if channel == STDIN:
                while data := await stream.read():
                    await queue.put((STDIN, data))
                await queue.put((CLOSE, b""))
                return
            decoder, buffer = json.JSONDecoder(), ""
            while data := await stream.read():  # resize: JSON objects back to back
                buffer += data.decode(errors="replace")
                with contextlib.suppress(ValueError):
                    while buffer.strip():
                        size, end = decoder.raw_decode(buffer.lstrip())
                        buffer = buffer.lstrip()[end:]
                        await queue.put((RESIZE, orjson.dumps(size)))

        readers = [spawn(read(c), name="spdy-exec-input")
                   for c in (STDIN, RESIZE) if c in self.streams]
        if STDIN not in self.streams:
            yield CLOSE, b""
        try:
            while (item := await queue.get())[0] != GONE:
                yield item
        finally:
            await cancel_and_wait(*readers)

    async def send(self, channel: int, data: bytes) -> None:
        stream = self.streams.get(channel) or self.streams.get(STDOUT)
        if stream is not None:
            await stream.write(data)

    async def finish(self, status: dict[str, Any]) -> None:
        for channel in (STDOUT, STDERR):
            if channel in self.streams:
                await self.streams[channel].close()
        if ERROR in self.streams:
            await self.streams[ERROR].write(orjson.dumps(status))
            await self.streams[ERROR].close()
        await self.close()

    async def close(self) -> None:
        await self.session.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await asyncio.shield(self._runner)
        await cancel_and_wait(self._runner)
        await self.conn.close()


async def open_channels(request: web.Request, *, stdin: bool, stdout: bool, stderr: bool,
                        tty: bool) -> Channels:
    """The client's channels (SPDY streams or WebSocket channels); else a 400."""
    if is_spdy(request):
        expected = {ERROR} | {c for c, on in ((STDIN, stdin), (STDOUT, stdout),
                                              (STDERR, stderr and not tty), (RESIZE, tty))
                              if on}
        return await SpdyChannels.accept(request, expected=expected)
    ws = web.WebSocketResponse(protocols=WS_PROTOCOLS, max_msg_size=0)
    if not ws.can_prepare(request).ok:
        raise web.HTTPBadRequest(text="this request needs a WebSocket upgrade (protocols "
                                      f"{', '.join(WS_PROTOCOLS)}) or SPDY/3.1")
    await ws.prepare(request)
    request["upgraded_response"] = ws
    return WebSocketChannels(ws)


async def serve(channels: Channels, session: Session, *, stdin: bool,
                status: Any) -> None:
    """Feed stdin and resizes in, output out, until the session ends (then its Status,
    `status(exit_code)`) or the client goes away."""
    if not stdin:
        await session.close_stdin()

    async def pump_output() -> None:
        async for channel, data in session.output():
            await channels.send(channel, data)

    async def feed_input() -> None:
        async for channel, data in channels.inputs():
            if channel == STDIN and stdin:
                await session.write_stdin(data)
            elif channel == RESIZE:
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    size = orjson.loads(data)
                    await session.resize(int(size.get("Width", 80)),
                                         int(size.get("Height", 24)))
            elif channel == CLOSE:
                await session.close_stdin()
        await session.close_stdin()

    pump = spawn(pump_output(), name="exec-output")
    feed = spawn(feed_input(), name="exec-input")
    ended = spawn(session.wait(), name="exec-wait")
    try:
        await asyncio.wait([ended, feed], return_when=asyncio.FIRST_COMPLETED)
        if not ended.done():
            return
        code = ended.result()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await pump
        with contextlib.suppress(ConnectionError, RuntimeError):
            await channels.finish(status(code))
    finally:
        await cancel_and_wait(feed, pump, ended)
