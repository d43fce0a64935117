"""A real browser for the dashboard's tests: Debian's chromium driven by Playwright.

Playwright's own browser download needs the internet, so the tests launch
`/usr/bin/chromium` (scripts/setup.sh installs it). Chromium aborts every request in
flight with `net::ERR_NETWORK_CHANGED` whenever an address changes on the host, which
`kyb up` (bridges, veths) and other tests do all the time; so as root it runs in a
network namespace of its own, where nothing changes, and :func:`forward` carries a
port on that namespace's loopback to the same port on the host's (Playwright itself
talks to chromium over a pipe). A :class:`WatchedPage` records
console errors, uncaught page errors and every request to a host other than the
dashboard's, so each test can assert the page stayed clean and offline.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"


def require_chromium() -> None:
    if not shutil.which(CHROMIUM):
        pytest.skip("needs Debian's chromium (scripts/setup.sh installs it)")
    pytest.importorskip("playwright.sync_api")


@dataclass
class Browser:
    """The launched browser, and (as root) the namespace it runs in."""

    browser: Any
    netns: str | None
    _forwarders: dict[int, socket.socket] = field(default_factory=dict)

    def new_context(self, **kwargs: Any) -> Any:
        return self.browser.new_context(**kwargs)

    def reach(self, url: str) -> None:
        """Make `url`'s loopback port (on the host) reachable from the browser."""
        port = urlsplit(url).port
        if self.netns is None or port is None or port in self._forwarders:
            return
        self._forwarders[port] = forward(self.netns, port)


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with contextlib.ExitStack() as stack:
        netns = stack.enter_context(_own_netns()) if os.geteuid() == 0 else None
        executable = CHROMIUM
        if netns is not None:
            wrapper = stack.enter_context(tempfile.TemporaryDirectory()) + "/chromium"
            Path(wrapper).write_text(f'#!/bin/sh\nexec ip netns exec {netns} {CHROMIUM} "$@"\n')
            os.chmod(wrapper, 0o755)
            executable = wrapper
        p = stack.enter_context(sync_playwright())
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        wrapped = Browser(browser, netns)
        try:
            yield wrapped
        finally:
            browser.close()
            for listener in wrapped._forwarders.values():
                listener.close()


@contextlib.contextmanager
def _own_netns() -> Iterator[str]:
    name = f"kyb-browser-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"],
                       check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def forward(netns: str, port: int) -> socket.socket:
    """Listen on 127.0.0.1:`port` inside `netns`; carry each connection to the host's
    127.0.0.1:`port`. A socket keeps the namespace it was made in, so one thread steps
    into the namespace to make the listener and comes back."""
    made: list[socket.socket] = []

    def make() -> None:
        with open(f"/var/run/netns/{netns}") as target, open("/proc/self/ns/net") as home:
            _setns(target.fileno())
            try:
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", port))
                s.listen(64)
                made.append(s)
            finally:
                _setns(home.fileno())

    maker = threading.Thread(target=make)
    maker.start()
    maker.join()
    listener = made[0]
    threading.Thread(target=_accept, args=(listener, port), daemon=True).start()
    return listener


def _accept(listener: socket.socket, port: int) -> None:
    while True:
        try:
            inner, _ = listener.accept()
        except OSError:
            return
        try:
            outer = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            inner.close()
            continue
        outer.settimeout(None)
        for a, b in ((inner, outer), (outer, inner)):
            threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@dataclass
class WatchedPage:
    """A page plus what went wrong on it (console errors, requests to other hosts)."""

    page: Any
    origin: str
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert not self.console_errors, f"console errors: {self.console_errors}"
        assert not self.foreign_requests, f"requests to other hosts: {self.foreign_requests}"


def watched_page(browser: Browser, base_url: str) -> WatchedPage:
    browser.reach(base_url)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    origin = urlsplit(base_url).netloc
    watched = WatchedPage(page, origin)

    def on_console(message: Any) -> None:
        if message.type == "error":
            watched.console_errors.append(message.text)

    def on_request(request: Any) -> None:
        url = urlsplit(request.url)
        if url.scheme not in ("data", "blob", "about") and url.netloc != origin:
            watched.foreign_requests.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda e: watched.console_errors.append(f"page error: {e}"))
    page.on("request", on_request)
    return watched
