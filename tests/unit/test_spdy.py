"""The SPDY/3.1 framer and session (pure logic: bytes in, frames and bytes out)."""

from __future__ import annotations

import asyncio
import struct
import zlib

import pytest

from kybernetes.streaming import spdy


def test_the_dictionary_is_spdy3s() -> None:
    d = spdy.DICTIONARY
    assert len(d) == 1423  # draft 3's kV3DictionarySize
    assert d.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert b"\x00\x00\x00\x08HTTP/1.1" in d and b"\x00\x00\x00\x06200 OK" in d
    assert d.endswith(b"GMTchunked,text/html,image/png,image/jpg,image/gif,application/xml,"
                      b"application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
                      b"gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")


def _peer_syn_stream(stream_id: int, headers: dict[str, str], flags: int = 0) -> bytes:
    """A SYN_STREAM as a Go peer writes it: its own zlib stream with the dictionary."""
    raw = struct.pack(">I", len(headers))
    for k, v in headers.items():
        raw += struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
    z = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, spdy.DICTIONARY)
    block = z.compress(raw) + z.flush(zlib.Z_SYNC_FLUSH)
    body = struct.pack(">IIH", stream_id, 0, 0) + block
    return struct.pack(">HHI", 0x8003, spdy.SYN_STREAM, (flags << 24) | len(body)) + body


def test_frames_round_trip_between_two_framers() -> None:
    a, b = spdy.Framer(), spdy.Framer()
    wire = (a.syn_stream(1, {"streamType": ["data"], "port": ["80"]})
            + a.syn_stream(3, {"streamType": ["error"], "Port": ["80", "81"]})
            + a.data(1, b"hello") + a.data(1, b"", fin=True)
            + a.rst_stream(3, spdy.RST_CANCEL) + a.ping(7) + a.goaway(3))
    frames = []
    for i in range(0, len(wire), 5):  # arbitrary splits: frames are reassembled
        frames += b.feed(wire[i:i + 5])
    kinds = [(f.kind, f.stream_id, f.flags) for f in frames]
    assert kinds == [(spdy.SYN_STREAM, 1, 0), (spdy.SYN_STREAM, 3, 0), (0, 1, 0),
                     (0, 1, spdy.FLAG_FIN), (spdy.RST_STREAM, 3, 0), (spdy.PING, 7, 0),
                     (spdy.GOAWAY, 3, 0)]
    assert frames[0].headers == {"streamtype": ["data"], "port": ["80"]}
    assert frames[1].headers == {"streamtype": ["error"], "port": ["80", "81"]}
    assert frames[2].data == b"hello" and frames[4].status == spdy.RST_CANCEL


def test_header_blocks_from_a_peer_that_uses_the_dictionary() -> None:
    frames = spdy.Framer().feed(_peer_syn_stream(5, {"streamtype": "stdout"}, flags=1))
    assert frames[0].headers == {"streamtype": ["stdout"]} and frames[0].flags == spdy.FLAG_FIN


def test_bad_input_is_a_protocol_error_not_a_crash() -> None:
    with pytest.raises(spdy.ProtocolError, match="version 2"):
        spdy.Framer().feed(struct.pack(">HHI", 0x8002, 1, 0))
    with pytest.raises(spdy.ProtocolError):
        spdy.Framer().feed(struct.pack(">HHI", 0x8003, 1, 12) + b"\0" * 10 + b"xx")
    with pytest.raises(spdy.ProtocolError, match="too short"):
        spdy.Framer().feed(struct.pack(">HHI", 0x8003, spdy.RST_STREAM, 2) + b"\0\0")
    # SETTINGS and WINDOW_UPDATE are read and ignored (the Go peer does no flow control)
    assert spdy.Framer().feed(struct.pack(">HHII", 0x8003, spdy.WINDOW_UPDATE, 8, 1) +
                              b"\0\0\0\1") == []


def test_large_data_is_split_into_frames_of_at_most_16_mib() -> None:
    payload = b"x" * (spdy.MAX_DATA + 10)
    frames = spdy.Framer().feed(spdy.Framer.data(1, payload, fin=True))
    assert [len(f.data) for f in frames] == [spdy.MAX_DATA, 10]
    assert [f.flags for f in frames] == [0, spdy.FLAG_FIN]


async def test_a_session_replies_to_streams_echoes_pings_and_ends_streams() -> None:
    client = spdy.Framer()
    inbound: asyncio.Queue[bytes] = asyncio.Queue()
    outbound = bytearray()
    streams: list[spdy.Stream] = []

    async def write(data: bytes) -> None:
        outbound.extend(data)

    session = spdy.Session(inbound.get, write, streams.append)
    runner = asyncio.create_task(session.run())
    inbound.put_nowait(client.syn_stream(1, {"streamType": ["data"]}) + client.ping(1)
                       + client.data(1, b"abc"))
    inbound.put_nowait(client.data(1, b"", fin=True) + client.syn_stream(2, {}))
    await asyncio.sleep(0.05)
    assert [s.header("streamType") for s in streams] == ["data"]  # even id refused
    assert await streams[0].read() == b"abc"
    assert await streams[0].read() == b"" and await streams[0].read() == b""
    await streams[0].write(b"reply")
    await streams[0].close()
    inbound.put_nowait(b"")
    await runner
    frames = client.feed(bytes(outbound))
    assert [(f.kind, f.stream_id) for f in frames] == [
        (spdy.SYN_REPLY, 1), (spdy.PING, 1), (spdy.RST_STREAM, 2), (0, 1), (0, 1)]
    assert frames[3].data == b"reply" and frames[4].flags == spdy.FLAG_FIN
