"""`kyb dns`: the cluster's DNS server (UDP and TCP), fed by informers.

Two informers (Services, Endpoints — what kube's ``system:kube-dns`` role may
read) keep :class:`~kybernetes.dns.records.ClusterRecords` current; each query
is answered from it, or forwarded upstream when the name is not the cluster's.

Hostile input never crashes the server: a datagram too short for a header is
dropped, one that does not parse (or asks more or fewer than one question) gets
FORMERR with its id, an opcode other than QUERY NOTIMP. A UDP answer larger than
the client can take (512 bytes, or its EDNS0 size) is sent truncated (TC) so the
client retries over TCP. TCP connections are bounded by an idle timeout and the
2-byte length prefix (at most 64 KiB per message).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from typing import Any

from dnslib import EDNS0, OPCODE, QTYPE, RCODE, RR, DNSError, DNSHeader, DNSRecord

from kybernetes.api.resources import ENDPOINTS, SERVICES
from kybernetes.client import ApiClient, Informer
from kybernetes.dns.records import ClusterRecords
from kybernetes.dns.upstream import Upstream

log = logging.getLogger("kybernetes.dns")

UDP_MAX = 512
EDNS_MAX = 4096
TCP_IDLE = 10.0
MAX_QUERY = 4096  # no sane query is larger; bigger ones are FORMERR


class Resolver:
    """Bytes in, bytes out (or None: drop): the protocol logic, no sockets."""

    def __init__(self, records: ClusterRecords, upstream: Upstream) -> None:
        self.records = records
        self.upstream = upstream
        self.answered = 0
        self.forwarded = 0
        self.errors = 0

    async def handle(self, data: bytes, *, tcp: bool) -> bytes | None:
        if len(data) < 12:
            self.errors += 1
            return None
        try:
            if len(data) > MAX_QUERY:
                raise DNSError("query too large")
            request = DNSRecord.parse(data)
        except (DNSError, ValueError, IndexError, struct.error, UnicodeDecodeError):
            self.errors += 1
            return self._error(data, RCODE.FORMERR)
        if request.header.qr:  # a response sent to us: never answer it (no loops)
            self.errors += 1
            return None
        if request.header.opcode != OPCODE.QUERY:
            return self._error(data, RCODE.NOTIMP)
        if len(request.questions) != 1:
            return self._error(data, RCODE.FORMERR)
        q = request.q
        try:
            found = self.records.answer(q.qname, q.qtype)
        except Exception:  # a name our parser chokes on is the client's problem
            log.debug("unanswerable question", exc_info=True)
            return self._error(data, RCODE.FORMERR)
        if found.forward:
            self.forwarded += 1
            reply = await self.upstream.forward(data, tcp=tcp)
            return reply if reply is not None else self._error(data, RCODE.SERVFAIL, request)
        self.answered += 1
        response = request.reply(ra=1, aa=1)
        response.header.rcode = found.rcode
        for rr in [*found.answers, *await self._chase(found.answers, q.qtype)]:
            response.add_answer(rr)
        for rr in found.authority:
            response.add_auth(rr)
        for rr in found.additional:
            response.add_ar(rr)
        limit = EDNS_MAX if tcp else UDP_MAX
        edns = [rr for rr in request.ar if rr.rtype == QTYPE.OPT]
        if edns:
            limit = max(UDP_MAX, min(EDNS_MAX, edns[0].rclass)) if not tcp else 65535
            response.add_ar(EDNS0(udp_len=EDNS_MAX))
        packed = response.pack()
        if tcp or len(packed) <= limit:
            return bytes(packed)
        truncated = request.reply(ra=1, aa=1)
        truncated.header.tc = 1
        truncated.header.rcode = found.rcode
        return bytes(truncated.pack())

    async def _chase(self, answers: list[RR], qtype: int) -> list[RR]:
        """An ExternalName's CNAME followed, as CoreDNS does: the target's records from
        the cluster or the upstream servers (none when they cannot be had)."""
        if not answers or answers[-1].rtype != QTYPE.CNAME or qtype == QTYPE.CNAME:
            return []
        target = answers[-1].rdata.label
        found = self.records.answer(target, qtype)
        if not found.forward:
            return [rr for rr in found.answers if rr.rtype != QTYPE.CNAME]
        reply = await self.upstream.forward(DNSRecord.question(str(target),
                                                               QTYPE[qtype]).pack())
        try:
            return list(DNSRecord.parse(reply).rr) if reply else []
        except (DNSError, ValueError, IndexError, struct.error):
            return []

    def _error(self, data: bytes, rcode: int, request: DNSRecord | None = None) -> bytes:
        """An error reply: the question echoed when it parsed, else the header only."""
        if request is not None:
            reply = request.reply(ra=1)
            reply.header.rcode = rcode
            return bytes(reply.pack())
        (qid,) = struct.unpack("!H", data[:2])
        opcode = (data[2] >> 3) & 0xF
        header = DNSHeader(id=qid, qr=1, opcode=opcode, ra=1, rcode=rcode)
        return bytes(DNSRecord(header).pack())


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._answer(data, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _answer(self, data: bytes, addr: Any) -> None:
        try:
            reply = await self.resolver.handle(data, tcp=False)
        except Exception:
            log.warning("query failed", exc_info=True)
            return
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp error", extra={"error": str(exc)})


async def _serve_tcp(resolver: Resolver, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            async with asyncio.timeout(TCP_IDLE):
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                data = await reader.readexactly(length)
            reply = await resolver.handle(data, tcp=True)
            if reply is None:
                break
            writer.write(struct.pack("!H", len(reply)) + reply)
            await writer.drain()
    except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
        pass
    except Exception:
        log.warning("tcp connection failed", exc_info=True)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


class DnsServer:
    """Informers → records; UDP and TCP listeners on one address and port."""

    def __init__(self, client: ApiClient, *, domain: str, upstream: Upstream,
                 address: str = "0.0.0.0", port: int = 53) -> None:
        self.records = ClusterRecords(domain)
        self.resolver = Resolver(self.records, upstream)
        self.address = address
        self.port = port
        self.services = Informer(client, SERVICES)
        self.endpoints = Informer(client, ENDPOINTS)
        self.services.add_handler(on_add=self.records.set_service,
                                  on_update=lambda _, new: self.records.set_service(new),
                                  on_delete=self.records.delete_service)
        self.endpoints.add_handler(on_add=self.records.set_endpoints,
                                   on_update=lambda _, new: self.records.set_endpoints(new),
                                   on_delete=self.records.delete_endpoints)
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    async def start(self, *, sync_timeout: float = 60.0) -> None:
        """Sync the caches first (an early NXDOMAIN would be cached), then listen."""
        for informer in (self.services, self.endpoints):
            await informer.start()
        async with asyncio.timeout(sync_timeout):
            await self.services.wait_synced()
            await self.endpoints.wait_synced()
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(self.resolver), local_addr=(self.address, self.port))
        self._udp = transport
        self.port = transport.get_extra_info("sockname")[1]
        self._tcp = await asyncio.start_server(
            lambda r, w: _serve_tcp(self.resolver, r, w), self.address, self.port)
        log.info("dns serving", extra={"address": self.address, "port": self.port,
                                       "domain": self.records.domain,
                                       "upstreams": ",".join(self.resolver.upstream.servers)})

    async def aclose(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await self._tcp.wait_closed()
        for informer in (self.services, self.endpoints):
            await informer.aclose()
