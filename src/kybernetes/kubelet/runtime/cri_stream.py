"""A client of a CRI runtime's streaming server (what CRI Attach/Exec return a URL of).

The kubelet proxies `kubectl attach` to containerd's streaming server, which speaks
Kubernetes' remote command protocol; this side connects over a WebSocket with the
`v4.channel.k8s.io` subprotocol: every binary message is one channel byte (0 stdin,
1 stdout, 2 stderr, 3 the final Status as JSON, 4 terminal resizes) and its data.
That protocol has no way to half-close stdin (v5 adds it, containerd 1.6 lacks it),
so `close_stdin` only stops sending.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

PROTOCOL = "v4.channel.k8s.io"
STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4


def exit_code(status: dict[str, Any]) -> int:
    """0 for a Success Status; the ExitCode cause of a NonZeroExitCode one; else 1."""
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            with contextlib.suppress(TypeError, ValueError):
                return int(cause.get("message"))
    return 1


class StreamSession:
    """One attach (or exec) through the runtime's streaming server; see
    :class:`kybernetes.kubelet.runtime.base.ExecSession`."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._http = http
        self._ws = ws
        self._stdin_open = True
        self._ended = asyncio.Event()
        self._status: dict[str, Any] = {}

    @classmethod
    async def connect(cls, url: str) -> StreamSession:
        http = aiohttp.ClientSession()
        try:
            ws = await http.ws_connect(url, protocols=(PROTOCOL,), heartbeat=30)
        except BaseException:
            await http.close()
            raise
        return cls(http, ws)

    async def write_stdin(self, data: bytes) -> None:
        if self._stdin_open and not self._ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._ws.send_bytes(bytes([STDIN]) + data)

    async def close_stdin(self) -> None:
        self._stdin_open = False

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        try:
            async for message in self._ws:
                if message.type != aiohttp.WSMsgType.BINARY or not message.data:
                    continue
                channel, data = message.data[0], message.data[1:]
                if channel in (STDOUT, STDERR) and data:
                    yield channel, data
                elif channel == ERROR and data:
                    with contextlib.suppress(ValueError):
                        self._status = orjson.loads(data)
        finally:
            self._ended.set()

    async def wait(self) -> int:
        await self._ended.wait()
        return exit_code(self._status) if self._status else 0

    async def resize(self, width: int, height: int) -> None:
        if not self._ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._ws.send_bytes(bytes([RESIZE]) + orjson.dumps(
                    {"Width": width, "Height": height}))

    async def detach(self) -> None:
        await self._ws.close()
        await self._http.close()
        self._ended.set()

    async def kill(self) -> None:
        await self.detach()
