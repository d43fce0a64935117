"""Connection storms against a server process: many idle TCP or TLS connections, a
trickled upload, and the server's resident memory while they last.

The storm is plain blocking sockets (TLS through the ssl module), never asyncio: a
client-side asyncio TLS connection would itself hold a 256 KiB buffer each.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def rss_mib(pid: int) -> float:
    """The resident set size of process `pid` in MiB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _tls_client(ca: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca) if ca else None)
    if ca is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _open(port: int, handshake: ssl.SSLContext | None) -> socket.socket | None:
    """One connection that then sends nothing (after the TLS handshake, if any)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if handshake is None:
        return sock
    try:
        return handshake.wrap_socket(sock, server_hostname="127.0.0.1")
    except OSError:
        sock.close()
        return None


@contextlib.contextmanager
def idle_connections(port: int, count: int, *, tls: bool = False,
                     ca: Path | None = None) -> Iterator[list[socket.socket]]:
    """`count` connections to 127.0.0.1:`port` that never send a request, closed on exit.
    With `tls`, each completes its handshake first (so the server holds a TLS session);
    without, the TCP connection alone (to a TLS port: a handshake never begun)."""
    context = _tls_client(ca) if tls else None
    with ThreadPoolExecutor(16) as pool:
        opened = [s for s in pool.map(lambda _: _open(port, context), range(count)) if s]
    try:
        yield opened
    finally:
        for sock in opened:
            sock.close()


def closed_by_peer(sock: socket.socket, timeout: float) -> bool:
    """Whether the server closes `sock` (EOF or reset) within `timeout` seconds."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, ssl.SSLError):
        return True
    except (TimeoutError, ssl.SSLWantReadError):
        return False


def trickle(sock: socket.socket, data: bytes, *, interval: float, limit: float) -> bytes:
    """Send `data` a byte every `interval` s for at most `limit` s, then read what the
    server answered (b"" if it closed without answering)."""
    sock.settimeout(interval)
    deadline = time.monotonic() + limit
    for i in range(len(data)):
        if time.monotonic() > deadline:
            break
        try:
            sock.sendall(data[i:i + 1])
        except OSError:
            break
        with contextlib.suppress(TimeoutError, ssl.SSLWantReadError):
            answer = sock.recv(65536)
            return answer  # answered (or closed: b"") before the body was complete
    sock.settimeout(10)
    try:
        return sock.recv(65536)
    except OSError:
        return b""
