"""What the proxy tests share: backend processes, network namespaces, tiny clients.

Everything made here is removed in ``finally`` blocks or by the context managers,
even when a test fails: backend processes are process groups that get killed,
network namespaces are deleted (which removes their veth pair too).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.support.poll import wait_for

BACKEND = Path(__file__).with_name("backend.py")
LOCK_FILE = "/tmp/kyb-proxy-tests.lock"


class Backend:
    """One backend process (a "pod"), optionally inside a network namespace."""

    def __init__(self, name: str, host: str, *, tcp: int = 0, udp: int = 0,
                 netns: str | None = None, reuse_port: bool = False) -> None:
        argv = [sys.executable, str(BACKEND), "--name", name, "--host", host,
                "--tcp", str(tcp), "--udp", str(udp)]
        if reuse_port:
            argv.append("--reuse-port")
        if netns:
            argv = ["ip", "netns", "exec", netns, *argv]
        self.name, self.host, self.tcp, self.udp = name, host, tcp, udp
        self.popen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      start_new_session=True)
        assert self.popen.stdout is not None
        line = self.popen.stdout.readline()
        if line.strip() != b"ready":
            err = self.popen.stderr.read() if self.popen.stderr else b""
            self.stop()
            raise RuntimeError(f"backend {name} did not start: {err.decode()[-500:]}")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, 9)
        self.popen.wait(5)


@contextlib.contextmanager
def backends(specs: list[dict[str, Any]]) -> Iterator[list[Backend]]:
    started: list[Backend] = []
    try:
        for spec in specs:
            started.append(Backend(**spec))
        yield started
    finally:
        for b in started:
            b.stop()


def http_get(host: str, port: int, path: str = "/", *, timeout: float = 2.0,
             source: str | None = None) -> bytes:
    """One HTTP/1.0 request on a new connection; the response body."""
    with socket.create_connection((host, port), timeout=timeout,
                                  source_address=(source, 0) if source else None) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        chunks = []
        while chunk := s.recv(1 << 20):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(f"bad response {head[:40]!r}")
    return body


def udp_ask(host: str, port: int, payload: bytes = b"ping", *, timeout: float = 1.0,
            sock: socket.socket | None = None) -> bytes:
    own = sock is None
    s = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(payload, (host, port))
        return s.recvfrom(65535)[0]
    finally:
        if own:
            s.close()


def eventually(check: Callable[[], Any], *, timeout: float = 5.0, interval: float = 0.02
               ) -> Any:
    """The shared poller, with any failure of `check` (a refused connection, a rule not
    yet there) counted as "not yet"."""
    return wait_for(check, within=timeout, interval=interval, retry_on=(Exception,))


def _ip(*args: str, netns: str | None = None) -> None:
    argv = ["ip", *(("-n", netns) if netns else ()), *args]
    subprocess.run(argv, check=True, capture_output=True)


class PodNetwork:
    """A network namespace behind a veth pair, holding several "pod" addresses.

    The host side gets 10.250.<k>.1/24, the namespace ``count`` addresses
    10.250.<k>.2… and a default route back through the host, as a node's pods have.
    """

    def __init__(self, count: int) -> None:
        self.tag = f"{os.getpid() % 10000}{random.randrange(100, 999)}"
        self.netns = f"kybt{self.tag}"
        self.host_if = f"kybh{self.tag}"
        self.subnet = self._free_subnet()
        self.host_ip = f"{self.subnet}.1"
        self.pod_ips = [f"{self.subnet}.{i + 2}" for i in range(count)]

    @staticmethod
    def _free_subnet() -> str:
        routes = subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
        for _ in range(50):
            subnet = f"10.250.{random.randrange(1, 254)}"
            if f"{subnet}.0/24" not in routes:
                return subnet
        raise RuntimeError("no free 10.250.x.0/24 subnet")

    def __enter__(self) -> PodNetwork:
        try:
            _ip("netns", "add", self.netns)
            _ip("link", "add", self.host_if, "type", "veth", "peer", "name", "eth0",
                "netns", self.netns)
            _ip("addr", "add", f"{self.host_ip}/24", "dev", self.host_if)
            _ip("link", "set", self.host_if, "up")
            for ip in self.pod_ips:
                _ip("addr", "add", f"{ip}/24", "dev", "eth0", netns=self.netns)
            _ip("link", "set", "eth0", "up", netns=self.netns)
            _ip("link", "set", "lo", "up", netns=self.netns)
            _ip("route", "add", "default", "via", self.host_ip, netns=self.netns)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)


@contextlib.contextmanager
def host_netfilter_lock() -> Iterator[None]:
    """Only one test at a time may own the host's KYB- chains (xdist workers)."""
    with open(LOCK_FILE, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def kyb_chains() -> list[str]:
    out = ""
    for table in ("nat", "filter"):
        out += subprocess.run(["iptables-save", "-t", table], capture_output=True,
                              text=True).stdout
    return sorted({line.split()[0][1:] for line in out.splitlines()
                   if line.startswith(":KYB-")}
                  | {line for line in out.splitlines() if "-j KYB-" in line})


def assert_no_rules_left() -> None:
    """Fail if a proxy left KYB- rules behind, after removing them for the next test."""
    left = kyb_chains()
    if left:
        from kybernetes.proxy import netfilter
        netfilter.cleanup()
    assert left == [], f"the proxy left iptables rules behind: {left[:5]}"
