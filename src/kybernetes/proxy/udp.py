"""The userspace UDP data path: one socket per service port, a session per client.

Each client address gets a session: a connected socket to the endpoint the
port's :class:`LoadBalancer` picked, read with ``add_reader``, whose replies are
sent back from the service port's socket. A session expires after
``udp_timeout`` seconds without traffic (kube-proxy's userspace ``--udp-timeout``);
an endpoint that answers with ICMP port-unreachable ends its session, and the
client's next datagram picks another endpoint. A sync that removes an endpoint
ends its sessions at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import Any

from kybernetes.proxy.balancer import LoadBalancer
from kybernetes.proxy.metrics import Metrics
from kybernetes.proxy.model import Endpoint, ServicePort
from kybernetes.tasks import cancel_and_wait, spawn


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
        self.key = sp.key  # the metrics' label, once, not per datagram
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
        self._sweeper = spawn(self._sweep(), name=f"udp sessions {self.key}")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        session = self.sessions.get(addr)
        if session is None:
            session = self._open(addr)
            if session is None:
                self.metrics.errors[self.key] += 1
                return
        session.last_used = time.monotonic()
        try:
            session.sock.send(data)
            self.metrics.bytes_in[self.key] += len(data)
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
        self.metrics.connections[self.key] += 1
        asyncio.get_running_loop().add_reader(sock.fileno(), self._reply, addr, session)
        return session

    def _reply(self, addr: tuple[str, int], session: _UdpSession) -> None:
        for _ in range(64):
            try:
                data = session.sock.recv(65535)
            except BlockingIOError:
                return
            except OSError:  # ICMP unreachable: this endpoint is gone
                self.metrics.errors[self.key] += 1
                self._end(addr)
                return
            session.last_used = time.monotonic()
            if self.transport is not None:
                self.transport.sendto(data, addr)
                self.metrics.bytes_out[self.key] += len(data)

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
