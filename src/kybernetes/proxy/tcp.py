"""The userspace TCP data path: accept, dial an endpoint, splice the two sockets.

One :class:`TcpListener` per TCP service port. Everything is a callback on the
event loop's readiness notifications (``add_reader``/``add_writer``), with no
task, future or transport per connection, because connection setup is what a
userspace proxy pays for most:

- accept: the listening socket is drained (up to 64 accepts per wake-up);
- dial: a non-blocking ``connect`` to the endpoint the port's
  :class:`LoadBalancer` picks, bounded by a short timeout; refused or timed out,
  the next endpoint is tried (as kube-proxy's userspace proxier does), and with
  none left the client's connection is closed;
- relay: each direction copies small messages with one ``recv_into`` and one
  ``send``; once a read fills its 64 KiB buffer the direction is bulk and moves
  bytes socket → pipe → socket with ``os.splice`` (zero-copy in the kernel; empty
  pipes are reused by later connections). A direction whose destination is full
  stops reading its source until it drains (back pressure); end of stream becomes
  ``shutdown(SHUT_WR)`` on the other socket (half-close); the pair closes when
  both directions ended or on any error.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import socket

from kybernetes.proxy.balancer import LoadBalancer
from kybernetes.proxy.metrics import Metrics
from kybernetes.proxy.model import Endpoint, ServicePort

log = logging.getLogger("kybernetes.proxy.tcp")

DIAL_TIMEOUTS = (0.25, 0.5, 1.0, 2.0)  # per attempt, as kube-proxy's userspace proxier
PIPE_SIZE = 1 << 20
COPY_SIZE = 1 << 16  # a read that fills this is bulk data: splice from then on
ACCEPTS_PER_WAKEUP = 64
_SPLICE_FLAGS = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK
_F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ, missing from older Pythons
_splice = os.splice


_idle_pipes: list[tuple[int, int]] = []  # empty pipes kept for the next connections
MAX_IDLE_PIPES = 256


def _take_pipe() -> tuple[int, int]:
    if _idle_pipes:
        return _idle_pipes.pop()
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    with contextlib.suppress(OSError):  # a smaller default pipe still works
        fcntl.fcntl(w, _F_SETPIPE_SZ, PIPE_SIZE)
    return r, w


def _give_pipe(r: int, w: int, *, empty: bool) -> None:
    if empty and len(_idle_pipes) < MAX_IDLE_PIPES:
        _idle_pipes.append((r, w))
    else:
        os.close(r)
        os.close(w)


class _Flow:
    """One direction of a connection: src socket → dst socket.

    Small messages (requests, responses) are copied with one ``recv_into`` and one
    ``send`` through a buffer of the flow's own; the first read that fills the
    buffer switches the flow to ``splice`` through a pipe for good (bulk data
    never enters Python). Either way, bytes the destination cannot take yet wait
    (``leftover`` or in the pipe) while the source is not read.
    """

    __slots__ = ("buf", "bytes", "conn", "dst", "dst_fd", "eof", "key", "leftover", "loop",
                 "pending", "pipe_r", "pipe_w", "src", "src_fd", "view", "writing")

    def __init__(self, conn: _Connection, src: socket.socket, dst: socket.socket, *,
                 inbound: bool) -> None:
        self.conn, self.loop, self.src, self.dst = conn, conn.loop, src, dst
        self.src_fd, self.dst_fd = src.fileno(), dst.fileno()
        metrics = conn.listener.metrics
        self.bytes = metrics.bytes_in if inbound else metrics.bytes_out
        self.key = conn.listener.key
        self.buf = bytearray(COPY_SIZE)
        self.view = memoryview(self.buf)
        self.leftover: bytes | memoryview = b""
        self.pipe_r = self.pipe_w = -1  # no pipe until the flow turns out to be bulk
        self.pending = 0  # bytes in the pipe
        self.eof = False
        self.writing = False

    def start(self) -> None:
        self.loop.add_reader(self.src_fd, self.readable)

    def readable(self) -> None:
        try:
            if self.pipe_w >= 0:
                n = _splice(self.src_fd, self.pipe_w, PIPE_SIZE, flags=_SPLICE_FLAGS)
            else:
                n = self.src.recv_into(self.buf)
        except BlockingIOError:
            return
        except OSError:
            self.conn.close()
            return
        if not n:
            self.eof = True
            self.loop.remove_reader(self.src_fd)
        elif self.pipe_w >= 0:
            self.pending += n
            self.bytes[self.key] += n
        else:
            self.bytes[self.key] += n
            self.leftover = self.view[:n]
            if n == COPY_SIZE:  # a full buffer: bulk data, splice from now on
                with contextlib.suppress(OSError):  # out of fds: keep copying
                    self.pipe_r, self.pipe_w = _take_pipe()
        self.flush()

    def flush(self) -> None:
        try:
            if self.leftover:
                sent = self.dst.send(self.leftover)
                self.leftover = bytes(self.leftover[sent:]) if sent < len(self.leftover) \
                    else b""
            while self.pending and not self.leftover:
                self.pending -= _splice(self.pipe_r, self.dst_fd, self.pending,
                                        flags=_SPLICE_FLAGS)
        except BlockingIOError:
            if isinstance(self.leftover, memoryview):
                self.leftover = bytes(self.leftover)  # the buffer is reused by the next read
            self._wait_for_room()
            return
        except OSError:
            self.conn.close()
            return
        if self.leftover:
            self._wait_for_room()
        elif self.eof:
            with contextlib.suppress(OSError):
                self.dst.shutdown(socket.SHUT_WR)
            self.conn.flow_ended()

    def _wait_for_room(self) -> None:
        if not self.writing:  # stop reading until the destination drains
            self.writing = True
            self.loop.remove_reader(self.src_fd)
            self.loop.add_writer(self.dst_fd, self.writable)

    def writable(self) -> None:
        self.loop.remove_writer(self.dst_fd)
        self.writing = False
        self.flush()
        if not (self.pending or self.leftover or self.eof or self.writing
                or self.conn.closed):
            self.loop.add_reader(self.src_fd, self.readable)

    def close(self) -> None:
        """Give the pipe back for reuse when it is certainly empty."""
        if self.pipe_r >= 0:
            _give_pipe(self.pipe_r, self.pipe_w, empty=self.pending == 0)


class _Connection:
    """A client connection, its endpoint dial, then the two flows between them."""

    def __init__(self, listener: TcpListener, client: socket.socket, peer: str) -> None:
        self.listener = listener
        self.loop = listener.loop
        self.client = client
        self.peer = peer
        self.backend: socket.socket | None = None
        self.endpoint: Endpoint | None = None
        self.failed: set[Endpoint] = set()
        self.attempt = 0
        self.timer: asyncio.TimerHandle | None = None
        self.flows: list[_Flow] = []
        self.ended = 0
        self.closed = False

    # -- dialling ----------------------------------------------------------------

    def dial(self) -> None:
        """Connect to the next endpoint; with none left, close the client."""
        self.endpoint = self.listener.balancer.next_endpoint(self.peer, exclude=self.failed)
        if self.endpoint is None or self.attempt >= 2 * len(DIAL_TIMEOUTS):
            self.listener.metrics.errors[self.listener.key] += 1
            self.close()
            return
        timeout = DIAL_TIMEOUTS[self.attempt % len(DIAL_TIMEOUTS)]
        self.attempt += 1
        backend = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        backend.setblocking(False)
        backend.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.backend = backend
        try:
            code = backend.connect_ex(self.endpoint)
        except OSError as e:  # e.g. an address that is not an IP
            self.dial_failed(str(e))
            return
        if code == 0:
            self.connected()
        elif code == errno.EINPROGRESS:
            self.loop.add_writer(backend.fileno(), self.dial_done)
            self.timer = self.loop.call_later(timeout, self.dial_failed, "timeout")
        else:
            self.dial_failed(os.strerror(code))

    def dial_done(self) -> None:
        assert self.backend is not None
        self.loop.remove_writer(self.backend.fileno())
        code = self.backend.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self.dial_failed(os.strerror(code))
        else:
            self.connected()

    def dial_failed(self, why: str) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.backend is not None:
            self.loop.remove_writer(self.backend.fileno())
            self.backend.close()
            self.backend = None
        log.debug("endpoint dial failed", extra={"service": self.listener.key,
                                                 "endpoint": self.endpoint, "error": why})
        self.listener.metrics.errors[self.listener.key] += 1
        if self.endpoint is not None:
            self.failed.add(self.endpoint)
        if not self.closed:
            self.dial()

    def connected(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        assert self.backend is not None
        self.flows = [_Flow(self, self.client, self.backend, inbound=True),
                      _Flow(self, self.backend, self.client, inbound=False)]
        for flow in self.flows:
            flow.start()

    # -- relaying ----------------------------------------------------------------

    def flow_ended(self) -> None:
        self.ended += 1
        if self.ended == 2:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
        for sock in (self.client, self.backend):
            if sock is not None and sock.fileno() >= 0:
                self.loop.remove_reader(sock.fileno())
                self.loop.remove_writer(sock.fileno())
                sock.close()
        for flow in self.flows:
            flow.close()
        self.listener.closed(self)


class TcpListener:
    """Accepts connections for one service port on (host, port)."""

    def __init__(self, sp: ServicePort, balancer: LoadBalancer, metrics: Metrics, *,
                 host: str, port: int) -> None:
        self.port = sp
        self.key = sp.key  # the metrics' label, once: a listener lives as long as its port
        self.balancer = balancer
        self.metrics = metrics
        self.host = host
        self.requested_port = port
        self.sock: socket.socket | None = None
        self.connections: set[_Connection] = set()
        self.loop = asyncio.get_running_loop()

    @property
    def bound_port(self) -> int:
        assert self.sock is not None
        return int(self.sock.getsockname()[1])

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.requested_port))
            sock.listen(1024)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self.sock = sock
        self.loop.add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        assert self.sock is not None
        for _ in range(ACCEPTS_PER_WAKEUP):
            try:
                client, address = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # e.g. EMFILE: keep serving the others
                log.warning("accept failed", extra={"service": self.key, "error": str(e)})
                return
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(self, client, address[0])
            self.connections.add(conn)
            self.metrics.connections[self.key] += 1
            self.metrics.active[self.key] += 1
            conn.dial()

    def closed(self, conn: _Connection) -> None:
        if conn in self.connections:
            self.connections.discard(conn)
            self.metrics.active[self.key] -= 1

    async def aclose(self) -> None:
        """Stop accepting; connections already relayed carry on."""
        if self.sock is not None:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None
