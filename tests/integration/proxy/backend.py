"""A small, fast backend ("pod") for proxy tests and the proxy benchmark.

Run as its own process (optionally inside a network namespace)::

    python backend.py --name a --host 10.0.0.2 --tcp 8080 --udp 5353

TCP speaks just enough HTTP/1.1 (keep-alive) to be measured: ``GET /`` answers
the backend's name (``GET /peer`` adds the client address it saw), ``GET
/bytes/<n>`` answers n bytes. UDP answers each
datagram with ``<name>:<datagram>``. Prints ``ready`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket

PATTERN = bytes(range(256))
CHUNK = PATTERN * 4096  # 1 MiB; /bytes/<n> is the pattern repeated, so order shows


class Http(asyncio.Protocol):
    def __init__(self, name: bytes) -> None:
        self.name = name
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            self.answer(head)

    def answer(self, head: bytes) -> None:
        assert self.transport is not None
        line = head.split(b"\r\n", 1)[0].split()
        path = line[1] if len(line) > 1 else b"/"
        close = b"connection: close" in head.lower() or head.endswith(b"HTTP/1.0")
        if path.startswith(b"/bytes/"):
            size = int(path[len(b"/bytes/"):])
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
            while size > 0:
                part = CHUNK[:min(size, len(CHUNK))]
                self.transport.write(part)
                size -= len(part)
        else:
            body = self.name
            if path == b"/peer":  # who the backend saw: the client, or a SNAT address
                body += b" " + self.transport.get_extra_info("peername")[0].encode()
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                                 % (len(body), body))
        if close:
            self.transport.close()


class Echo(asyncio.DatagramProtocol):
    def __init__(self, name: bytes) -> None:
        self.name = name
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(self.name + b":" + data, addr)


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    name = args.name.encode()
    servers = []
    if args.tcp:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if args.reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((args.host, args.tcp))
        servers.append(await loop.create_server(lambda: Http(name), sock=sock, backlog=1024))
    if args.udp:
        await loop.create_datagram_endpoint(lambda: Echo(name), local_addr=(args.host, args.udp))
    print("ready", flush=True)
    await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--tcp", type=int, default=0)
    parser.add_argument("--udp", type=int, default=0)
    parser.add_argument("--reuse-port", action="store_true")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
