"""What an idle or slow connection may hold, and for how long (Go's http.Server
timeouts, as kube-apiserver sets them).

* The TLS handshake must finish within ``tls_handshake_timeout`` (asyncio's
  ``ssl_handshake_timeout``; Go bounds it with the read-header timeout).
* A connection must send a request's headers within ``read_header_timeout`` of
  opening or of its previous response, else it is closed: aiohttp's keep-alive timer,
  armed at connection start and after each response, is both kube's
  ReadHeaderTimeout (32 s) and its keep-alive IdleTimeout (90 s there, 32 s here). It
  is not armed while a handler runs, so watches stream for as long as they last.
* A request body must arrive within the body read timeout (:mod:`.bodies`, 408).
* asyncio gives every TLS connection a 256 KiB read buffer up front, idle or not
  (2,000 idle connections: ~500 MiB). One TLS record is at most 16 KiB, so reads of
  16 KiB lose nothing but cost 1/16 of that (asyncio's loop; uvloop has its own).
* glibc keeps what many short-lived connections freed in its heap, spread among live
  blocks, so the process stays at its peak after a storm of connections; after one
  :class:`MemoryTrimmer` gives the free pages back with malloc_trim.
"""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import contextlib
import ctypes
import ctypes.util
import gc
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

log = logging.getLogger("kybernetes.apiserver")

TLS_READ_BUFFER = 16 * 1024


@dataclass(frozen=True)
class ConnectionLimits:
    tls_handshake_timeout: float = 10.0  # Go's http.Transport default, client side
    read_header_timeout: float = 32.0  # kube-apiserver's ReadHeaderTimeout


class _MalformedRequests(logging.Filter):
    """aiohttp logs every malformed request (bad method, header, line) with a traceback
    at ERROR: a client's mistake, answered 400, and a cheap way to flood the log. It
    stays a one-line DEBUG record."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, HttpProcessingError) or (error.code or 400) >= 500:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.msg, record.args, record.exc_info = f"malformed request: {error.message}", (), None
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def quiet_malformed_requests() -> None:
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _MalformedRequests) for f in logger.filters):
        logger.addFilter(_MalformedRequests())


def shrink_tls_read_buffers() -> None:
    """Every TLS connection of this process reads through a 16 KiB buffer."""
    asyncio.sslproto.SSLProtocol.max_size = TLS_READ_BUFFER


class LimitedSite(web.TCPSite):
    """A TCPSite whose TLS handshakes must finish within the limits' timeout
    (TCPSite passes no ``ssl_handshake_timeout`` to the loop)."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, *,
                 limits: ConnectionLimits, ssl_context: ssl.SSLContext | None = None,
                 backlog: int = 128, accepted: Callable[[], None] = lambda: None) -> None:
        super().__init__(runner, host, port, ssl_context=ssl_context, backlog=backlog)
        self.limits = limits
        self.accepted = accepted

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with its runner
        server = self._runner.server
        assert server is not None

        def protocol() -> asyncio.BaseProtocol:
            self.accepted()
            return server()

        # asyncio refuses a handshake timeout without TLS
        handshake = self.limits.tls_handshake_timeout if self._ssl_context else None
        self._server = await asyncio.get_running_loop().create_server(
            protocol, self._host, self._port, ssl=self._ssl_context, backlog=self._backlog,
            ssl_handshake_timeout=handshake)


def _malloc_trim() -> Callable[[], object] | None:
    """glibc's malloc_trim(0), or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    with contextlib.suppress(OSError, AttributeError):
        trim = ctypes.CDLL(name).malloc_trim
        return lambda: trim(0)
    return None


class MemoryTrimmer:
    """Every `interval` s, looks whether a storm of connections has ended, and if so
    frees what they held (a full garbage collection: a TLS connection closed during its
    handshake is a reference cycle) and returns the free heap pages to the OS.

    A storm has ended `horizon` s after `drop` or more accepts in one interval (by then
    the connection timeouts have closed the idle ones), or once `drop` fewer
    connections are open than the most seen since the last release."""

    def __init__(self, open_connections: Callable[[], int], *, horizon: float,
                 interval: float = 5.0, drop: int = 64) -> None:
        self.open_connections = open_connections
        self.horizon = horizon
        self.interval = interval
        self.drop = drop
        self.accepts = 0
        self.high = 0
        self.until: float | None = None

    def accepted(self) -> None:
        self.accepts += 1

    def tick(self, now: float, release: Callable[[], object]) -> bool:
        """One look at monotonic time `now`; whether it released."""
        if self.accepts >= self.drop:
            self.until = now + self.horizon
        self.accepts = 0
        open_now = self.open_connections()
        self.high = max(self.high, open_now)
        ended = self.until is not None and now >= self.until
        if not ended and self.high - open_now < self.drop:
            return False
        if ended:
            self.until = None
        self.high = open_now
        release()
        return True

    async def run(self) -> None:
        trim = _malloc_trim()
        if trim is None:
            return

        def release() -> None:
            gc.collect()
            trim()
            log.debug("memory released after a storm of connections")

        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.interval)
            self.tick(loop.time(), release)
