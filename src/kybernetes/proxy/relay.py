"""The userspace data path: one listener per service port, relaying to endpoints.

TCP: a listener accepts, asks the port's :class:`LoadBalancer` for an endpoint,
dials it (bounded by a short timeout; a refused or timed-out dial moves on to the
next endpoint, as kube-proxy's userspace proxier does), then splices the two
sockets together. The relay is built on asyncio protocols, not streams: each
side writes what it receives straight into the other transport, and back
pressure is the transports' own (a full write buffer pauses reading on the other
side), so a byte is copied once in Python and never awaited on. Half-close is
passed on (EOF → ``write_eof``); the pair closes when both directions ended.

UDP: one socket per service port; each client address gets a session (a connected
socket to its endpoint, read with ``add_reader``) that relays replies back and
expires after ``udp_timeout`` seconds idle. An endpoint that answers with ICMP
port-unreachable ends its sessions, and the client's next datagram picks another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from typing import Any

from kybernetes.proxy.balancer import LoadBalancer
from kybernetes.proxy.metrics import Metrics
from kybernetes.proxy.model import Endpoint, ServicePort
from kybernetes.tasks import cancel_and_wait, spawn

log = logging.getLogger("kybernetes.proxy.relay")

DIAL_TIMEOUTS = (0.25, 0.5, 1.0, 2.0)  # per attempt, as kube-proxy's userspace proxier
WRITE_HIGH_WATER = 1 << 20


class _Half(asyncio.Protocol):
    """One socket of a relayed pair; writes what it reads into its peer."""

    def __init__(self, pair: _Pair, inbound: bool) -> None:
        self.pair = pair
        self.inbound = inbound  # the client's side
        self.transport: asyncio.Transport | None = None
        self.peer: _Half | None = None
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        if self.inbound:
            transport.pause_reading()  # until the endpoint is dialled
            self.pair.accepted(self)

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.write(data)
            self.pair.count(self.inbound, len(data))

    def eof_received(self) -> bool:
        self.eof = True
        peer = self.peer
        if peer is None or peer.transport is None or peer.eof:
            self.pair.close()
            return False
        if peer.transport.can_write_eof():
            peer.transport.write_eof()
        return True  # keep the other direction open

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.pair.close()


class _Pair:
    """A client connection and its endpoint connection."""

    def __init__(self, listener: TcpListener) -> None:
        self.listener = listener
        self.client = _Half(self, inbound=True)
        self.backend: _Half | None = None
        self.closed = False
        self.task: asyncio.Task[Any] | None = None

    def accepted(self, client: _Half) -> None:
        self.listener.opened(self)
        self.task = spawn(self.listener.dial(self), name=f"dial {self.listener.port.key}")

    def count(self, inbound: bool, n: int) -> None:
        metrics, key = self.listener.metrics, self.listener.port.key
        if inbound:
            metrics.bytes_in[key] += n
        else:
            metrics.bytes_out[key] += n

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for half in (self.client, self.backend):
            if half is not None and half.transport is not None:
                half.transport.close()  # sends what is buffered, then closes
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self.listener.closed(self)


class TcpListener:
    """Accepts connections for one service port on (host, port)."""

    def __init__(self, sp: ServicePort, balancer: LoadBalancer, metrics: Metrics, *,
                 host: str, port: int) -> None:
        self.port = sp
        self.balancer = balancer
        self.metrics = metrics
        self.host = host
        self.requested_port = port
        self.server: asyncio.Server | None = None
        self.pairs: set[_Pair] = set()

    @property
    def bound_port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: _Pair(self).client, self.host, self.requested_port,
            reuse_address=True, backlog=1024)

    def opened(self, pair: _Pair) -> None:
        self.pairs.add(pair)
        self.metrics.connections[self.port.key] += 1
        self.metrics.active[self.port.key] += 1

    def closed(self, pair: _Pair) -> None:
        if pair in self.pairs:
            self.pairs.discard(pair)
            self.metrics.active[self.port.key] -= 1

    async def dial(self, pair: _Pair) -> None:
        """Connect `pair` to an endpoint, trying the next one on failure."""
        client = pair.client.transport
        assert client is not None
        peer = client.get_extra_info("peername") or ("", 0)
        loop = asyncio.get_running_loop()
        failed: set[Endpoint] = set()
        for timeout in DIAL_TIMEOUTS * 2:
            endpoint = self.balancer.next_endpoint(peer[0], exclude=failed)
            if endpoint is None:
                break
            backend = _Half(pair, inbound=False)
            backend.peer, pair.client.peer = pair.client, backend
            try:
                async with asyncio.timeout(timeout):
                    await loop.create_connection(lambda b=backend: b, *endpoint)
            except (OSError, TimeoutError) as e:
                log.debug("endpoint dial failed", extra={"service": self.port.key,
                                                         "endpoint": endpoint, "error": str(e)})
                self.metrics.errors[self.port.key] += 1
                failed.add(endpoint)
                continue
            pair.backend = backend
            if pair.closed:
                assert backend.transport is not None
                backend.transport.close()
            else:
                client.resume_reading()
            return
        self.metrics.errors[self.port.key] += 1
        pair.close()  # no endpoint: the client sees the connection closed

    async def aclose(self) -> None:
        """Stop accepting; connections already relayed carry on."""
        if self.server is not None:
            self.server.close()


class _UdpSession:
    def __init__(self, sock: socket.socket, endpoint: Endpoint) -> None:
        self.sock = sock
        self.endpoint = endpoint
        self.last_used = time.monotonic()


class UdpListener(asyncio.DatagramProtocol):
    """Relays datagrams for one service port, a session per client address."""

    def __init__(self, sp: ServicePort, balancer: LoadBalancer, metrics: Metrics, *,
                 host: str, port: int, idle_timeout: float) -> None:
        self.port = sp
        self.balancer = balancer
        self.metrics = metrics
        self.host = host
        self.requested_port = port
        self.idle_timeout = idle_timeout
        self.transport: asyncio.DatagramTransport | None = None
        self.sessions: dict[tuple[str, int], _UdpSession] = {}
        self._sweeper: asyncio.Task[Any] | None = None

    @property
    def bound_port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=(self.host,
                                                                      self.requested_port))
        self._sweeper = spawn(self._sweep(), name=f"udp sessions {self.port.key}")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        session = self.sessions.get(addr)
        if session is None:
            session = self._open(addr)
            if session is None:
                self.metrics.errors[self.port.key] += 1
                return
        session.last_used = time.monotonic()
        try:
            session.sock.send(data)
            self.metrics.bytes_in[self.port.key] += len(data)
        except BlockingIOError:
            pass  # a full socket buffer drops the datagram, as the network may
        except OSError:
            self._end(addr)

    def _open(self, addr: tuple[str, int]) -> _UdpSession | None:
        endpoint = self.balancer.next_endpoint(addr[0])
        if endpoint is None:
            return None
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:
            sock.connect(endpoint)
        except OSError:
            sock.close()
            return None
        session = _UdpSession(sock, endpoint)
        self.sessions[addr] = session
        self.metrics.connections[self.port.key] += 1
        asyncio.get_running_loop().add_reader(sock.fileno(), self._reply, addr, session)
        return session

    def _reply(self, addr: tuple[str, int], session: _UdpSession) -> None:
        for _ in range(64):
            try:
                data = session.sock.recv(65535)
            except BlockingIOError:
                return
            except OSError:  # ICMP unreachable: this endpoint is gone
                self.metrics.errors[self.port.key] += 1
                self._end(addr)
                return
            session.last_used = time.monotonic()
            if self.transport is not None:
                self.transport.sendto(data, addr)
                self.metrics.bytes_out[self.port.key] += len(data)

    def _end(self, addr: tuple[str, int]) -> None:
        session = self.sessions.pop(addr, None)
        if session is None:
            return
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(session.sock.fileno())
        session.sock.close()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(max(self.idle_timeout / 2, 0.05))
            now = time.monotonic()
            for addr in [a for a, s in self.sessions.items()
                         if now - s.last_used > self.idle_timeout]:
                self._end(addr)

    def drop_endpoints_not_in(self, endpoints: list[Endpoint]) -> None:
        """End sessions whose endpoint is no longer ready."""
        live = set(endpoints)
        for addr in [a for a, s in self.sessions.items() if s.endpoint not in live]:
            self._end(addr)

    async def aclose(self) -> None:
        await cancel_and_wait(self._sweeper)
        for addr in list(self.sessions):
            self._end(addr)
        if self.transport is not None:
            self.transport.close()
