"""SPDY/3.1 framing and a small session, as Kubernetes' streaming protocols use them.

kubectl's port-forward (every version; tunneled over a WebSocket from 1.31 on) and its
exec/attach before 1.30 open one SPDY/3.1 connection and create streams on it
(SYN_STREAM with headers such as ``streamType: data``); the server answers each with a
SYN_REPLY, then both sides send DATA frames, a FIN flag half-closes a stream and
RST_STREAM aborts it. Header blocks are zlib streams (one per direction per connection,
sync-flushed per block) primed with SPDY's dictionary. The Go side (moby/spdystream)
does no flow control: WINDOW_UPDATE and SETTINGS are read and ignored here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger("kybernetes.streaming.spdy")

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = (
    1, 2, 3, 4, 6, 7, 8, 9)
FLAG_FIN, FLAG_UNIDIRECTIONAL = 0x01, 0x02
RST_PROTOCOL_ERROR, RST_INVALID_STREAM, RST_CANCEL = 1, 2, 5
MAX_DATA = (1 << 24) - 1
MAX_FRAME = 16 << 20  # refuse absurd control frames before inflating them
MAX_HEADER_BLOCK = 1 << 20

_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding "
    "accept-language accept-ranges age allow authorization cache-control connection "
    "content-base content-encoding content-language content-length content-location "
    "content-md5 content-range content-type date etag expect expires from host if-match "
    "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
    "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
    "server te trailer transfer-encoding upgrade user-agent vary via warning "
    "www-authenticate method get status 200_OK version HTTP/1.1 url public set-cookie "
    "keep-alive origin").split()
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417"
    "502504505203 Non-Authoritative Information204 No Content301 Moved Permanently"
    "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error"
    "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct "
    "Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,"
    "image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,"
    "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
# SPDY/3's header compression dictionary (draft 3, section 2.6.10.1): length-prefixed
# words, then a run of text. A peer's inflate checks its Adler-32, so it must be exact.
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode()
                      for w in (w.replace("_", " ") for w in _WORDS)) + _TAIL.encode()

Headers = dict[str, list[str]]


class ProtocolError(Exception):
    """The peer sent something that is not SPDY/3."""


@dataclass
class Frame:
    """One frame: `kind` is a control type, or 0 for DATA (then `stream_id` and `data`)."""

    kind: int
    flags: int = 0
    stream_id: int = 0
    headers: Headers = field(default_factory=dict)
    data: bytes = b""
    status: int = 0  # RST_STREAM and GOAWAY status; PING id is in stream_id


class HeaderCodec:
    """The connection's two zlib contexts (ours to compress, the peer's to inflate)."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 8,
                                         zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)

    def encode(self, headers: Headers) -> bytes:
        raw = [struct.pack(">I", len(headers))]
        for name, values in headers.items():
            key, value = name.lower().encode(), "\0".join(values).encode()
            raw += [struct.pack(">I", len(key)), key, struct.pack(">I", len(value)), value]
        return self._deflate.compress(b"".join(raw)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def decode(self, block: bytes) -> Headers:
        try:
            raw = self._inflate.decompress(block, MAX_HEADER_BLOCK)
        except zlib.error as e:
            raise ProtocolError(f"header block: {e}") from None
        if self._inflate.unconsumed_tail:
            raise ProtocolError("header block too large")
        try:
            (count,), pos = struct.unpack_from(">I", raw), 4
            headers: Headers = {}
            for _ in range(count):
                (n,) = struct.unpack_from(">I", raw, pos)
                name = raw[pos + 4:pos + 4 + n].decode()
                pos += 4 + n
                (n,) = struct.unpack_from(">I", raw, pos)
                value = raw[pos + 4:pos + 4 + n].decode()
                pos += 4 + n
                if pos > len(raw):
                    raise ProtocolError("header block truncated")
                headers.setdefault(name.lower(), []).extend(value.split("\0"))
        except (struct.error, UnicodeDecodeError) as e:
            raise ProtocolError(f"header block: {e}") from None
        return headers


def _control(kind: int, flags: int, body: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(body)) + body


class Framer:
    """Bytes in, frames out (`feed`); frames in, bytes out (the `encode_*` methods)."""

    def __init__(self) -> None:
        self.codec = HeaderCodec()
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            first, flags_length = struct.unpack_from(">II", self._buffer)
            flags, length = flags_length >> 24, flags_length & 0xFFFFFF
            if len(self._buffer) < 8 + length:
                break
            body = bytes(self._buffer[8:8 + length])
            del self._buffer[:8 + length]
            if not first & 0x80000000:
                frames.append(Frame(0, flags, first & 0x7FFFFFFF, data=body))
                continue
            version, kind = (first >> 16) & 0x7FFF, first & 0xFFFF
            if version != VERSION:
                raise ProtocolError(f"SPDY version {version} is not supported")
            frame = self._parse_control(kind, flags, body)
            if frame is not None:
                frames.append(frame)
        return frames

    def _parse_control(self, kind: int, flags: int, body: bytes) -> Frame | None:
        try:
            if kind == SYN_STREAM:
                (sid,) = struct.unpack_from(">I", body)
                return Frame(kind, flags, sid & 0x7FFFFFFF, self.codec.decode(body[10:]))
            if kind in (SYN_REPLY, HEADERS):
                (sid,) = struct.unpack_from(">I", body)
                return Frame(kind, flags, sid & 0x7FFFFFFF, self.codec.decode(body[4:]))
            if kind in (RST_STREAM, GOAWAY):
                sid, status = struct.unpack_from(">II", body)
                return Frame(kind, flags, sid & 0x7FFFFFFF, status=status)
            if kind == PING:
                (ping_id,) = struct.unpack_from(">I", body)
                return Frame(kind, flags, ping_id)
        except struct.error:
            raise ProtocolError(f"control frame {kind} is too short") from None
        return None  # SETTINGS, WINDOW_UPDATE and unknown types: nothing to do

    def syn_stream(self, stream_id: int, headers: Headers, *, flags: int = 0) -> bytes:
        body = struct.pack(">IIH", stream_id, 0, 0) + self.codec.encode(headers)
        return _control(SYN_STREAM, flags, body)

    def syn_reply(self, stream_id: int, headers: Headers | None = None, *,
                  flags: int = 0) -> bytes:
        return _control(SYN_REPLY, flags,
                        struct.pack(">I", stream_id) + self.codec.encode(headers or {}))

    @staticmethod
    def data(stream_id: int, data: bytes, *, fin: bool = False) -> bytes:
        out = []
        view = memoryview(data)
        while True:
            chunk, view = view[:MAX_DATA], view[MAX_DATA:]
            last = not view
            out.append(struct.pack(">II", stream_id & 0x7FFFFFFF,
                                   ((FLAG_FIN if fin and last else 0) << 24) | len(chunk)))
            out.append(bytes(chunk))
            if last:
                return b"".join(out)

    @staticmethod
    def rst_stream(stream_id: int, status: int) -> bytes:
        return _control(RST_STREAM, 0, struct.pack(">II", stream_id, status))

    @staticmethod
    def ping(ping_id: int) -> bytes:
        return _control(PING, 0, struct.pack(">I", ping_id))

    @staticmethod
    def goaway(last_stream_id: int, status: int = 0) -> bytes:
        return _control(GOAWAY, 0, struct.pack(">II", last_stream_id, status))


class Stream:
    """One SPDY stream of a :class:`Session`: read until b"" (the peer's FIN), write, close."""

    def __init__(self, session: Session, stream_id: int, headers: Headers) -> None:
        self.session = session
        self.id = stream_id
        self.headers = headers
        self._incoming: asyncio.Queue[bytes] = asyncio.Queue()
        self.remote_closed = False
        self.local_closed = False

    def header(self, name: str) -> str:
        return (self.headers.get(name.lower()) or [""])[0]

    def _deliver(self, data: bytes) -> None:
        if data and not self.remote_closed:
            self._incoming.put_nowait(data)

    def _finish(self) -> None:
        if not self.remote_closed:
            self.remote_closed = True
            self._incoming.put_nowait(b"")

    async def read(self) -> bytes:
        """The next bytes the peer sent, b"" once it closed its side."""
        if self.remote_closed and self._incoming.empty():
            return b""
        data = await self._incoming.get()
        if not data:
            self._incoming.put_nowait(b"")  # later reads see EOF too
        return data

    async def write(self, data: bytes) -> None:
        if data and not self.local_closed:
            await self.session.send(Framer.data(self.id, data))

    async def close(self) -> None:
        """Half-close: a DATA frame with FIN and no payload, as spdystream sends."""
        if not self.local_closed:
            self.local_closed = True
            await self.session.send(Framer.data(self.id, b"", fin=True))

    async def reset(self) -> None:
        self.local_closed = True
        self._finish()
        await self.session.send(Framer.rst_stream(self.id, RST_CANCEL))


class Session:
    """The server side of a SPDY connection over any byte transport.

    Every SYN_STREAM the peer opens is answered with a SYN_REPLY at once (client-go
    waits for it) and handed to `on_stream`. `run()` returns when the peer goes away
    or the transport ends; every stream then reads EOF.
    """

    def __init__(self, read: Callable[[], Awaitable[bytes]],
                 write: Callable[[bytes], Awaitable[None]],
                 on_stream: Callable[[Stream], None]) -> None:
        self._read = read
        self._write = write
        self._on_stream = on_stream
        self.framer = Framer()
        self.streams: dict[int, Stream] = {}
        self._lock = asyncio.Lock()
        self.closed = False

    async def send(self, frame: bytes) -> None:
        if self.closed:
            return
        async with self._lock:
            try:
                await self._write(frame)
            except (ConnectionError, RuntimeError, OSError):
                self.closed = True

    async def _send_reply(self, stream_id: int) -> None:
        # encode under the lock: the zlib context must see header blocks in wire order
        async with self._lock:
            frame = self.framer.syn_reply(stream_id)
            with contextlib.suppress(ConnectionError, RuntimeError, OSError):
                await self._write(frame)

    async def run(self) -> None:
        try:
            while not self.closed:
                data = await self._read()
                if not data:
                    break
                for frame in self.framer.feed(data):
                    if not await self._handle(frame):
                        return
        except ProtocolError as e:
            log.info("SPDY protocol error", extra={"error": str(e)})
            await self.send(Framer.goaway(0, 1))
        finally:
            self.closed = True
            for stream in self.streams.values():
                stream._finish()

    async def _handle(self, frame: Frame) -> bool:
        if frame.kind == 0:
            stream = self.streams.get(frame.stream_id)
            if stream is None:
                return True
            stream._deliver(frame.data)
            if frame.flags & FLAG_FIN:
                stream._finish()
        elif frame.kind == SYN_STREAM:
            if frame.stream_id in self.streams or frame.stream_id % 2 == 0:
                await self.send(Framer.rst_stream(frame.stream_id, RST_PROTOCOL_ERROR))
                return True
            stream = Stream(self, frame.stream_id, frame.headers)
            self.streams[frame.stream_id] = stream
            if frame.flags & FLAG_FIN:
                stream._finish()
            await self._send_reply(frame.stream_id)
            self._on_stream(stream)
        elif frame.kind == RST_STREAM:
            stream = self.streams.get(frame.stream_id)
            if stream is not None:
                stream.local_closed = True
                stream._finish()
        elif frame.kind == PING:
            if frame.stream_id % 2 == 1:  # the client's ping: echo it
                await self.send(Framer.ping(frame.stream_id))
        elif frame.kind == GOAWAY:
            return False
        return True

    async def close(self) -> None:
        await self.send(Framer.goaway(max(self.streams, default=0)))
        self.closed = True
