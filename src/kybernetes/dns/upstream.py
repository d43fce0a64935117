"""Names outside the cluster: forwarded to the host's resolvers, as CoreDNS's
``forward . /etc/resolv.conf``.

Each upstream is tried in turn (2 s each, UDP; TCP when the answer came back
truncated and the client asked over TCP). No upstream, or none answering, is
SERVFAIL to the client — never a hang: a machine without internet gets a clean
failure after the timeouts. At most MAX_INFLIGHT forwards wait at once, so a flood
of outside names cannot pile up sockets and tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import struct
from pathlib import Path

log = logging.getLogger("kybernetes.dns.upstream")

TIMEOUT = 2.0
MAX_INFLIGHT = 256  # forwarded queries waiting at once; past it: SERVFAIL at once


def nameservers_from(text: str) -> list[str]:
    """The `nameserver` addresses of a resolv.conf text, in order, deduplicated."""
    found: list[str] = []
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                ipaddress.ip_address(parts[1])
            except ValueError:
                continue
            if parts[1] not in found:
                found.append(parts[1])
    return found


def host_nameservers(path: str = "/etc/resolv.conf") -> list[str]:
    try:
        return nameservers_from(Path(path).read_text())
    except OSError:
        return []


class _OneShot(asyncio.DatagramProtocol):
    def __init__(self, waiter: asyncio.Future[bytes], query_id: bytes) -> None:
        self.waiter = waiter
        self.query_id = query_id

    def datagram_received(self, data: bytes, addr: object) -> None:
        if data[:2] == self.query_id and not self.waiter.done():
            self.waiter.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.waiter.done():
            self.waiter.set_exception(exc)


class Upstream:
    """Forwards raw queries; None when nobody answered (the caller says SERVFAIL)."""

    def __init__(self, servers: list[str], *, port: int = 53,
                 timeout: float = TIMEOUT) -> None:
        self.servers = servers
        self.port = port
        self.timeout = timeout
        self.inflight = 0

    async def forward(self, query: bytes, *, tcp: bool = False) -> bytes | None:
        if self.inflight >= MAX_INFLIGHT:
            return None
        self.inflight += 1
        try:
            return await self._forward(query, tcp=tcp)
        finally:
            self.inflight -= 1

    async def _forward(self, query: bytes, *, tcp: bool) -> bytes | None:
        for server in self.servers:
            try:
                async with asyncio.timeout(self.timeout):
                    reply = await self._udp(server, query)
                    if tcp and len(reply) > 2 and reply[2] & 0x02:  # TC: ask again over TCP
                        reply = await self._tcp(server, query)
                return reply
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as e:
                log.debug("upstream failed", extra={"server": server,
                                                    "error": str(e) or type(e).__name__})
        return None

    async def _udp(self, server: str, query: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bytes] = loop.create_future()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _OneShot(waiter, query[:2]), remote_addr=(server, self.port))
        try:
            transport.sendto(query)
            return await waiter
        finally:
            transport.close()

    async def _tcp(self, server: str, query: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(server, self.port)
        try:
            writer.write(struct.pack("!H", len(query)) + query)
            await writer.drain()
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            return await reader.readexactly(length)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
