"""A small async client for the Docker Engine API over its unix socket.

aiohttp's UnixConnector carries ordinary requests and streams (pulls, logs,
events); an interactive exec needs the connection itself after the HTTP
response (Docker "hijacks" it), which aiohttp does not expose, so
:meth:`DockerApi.hijack` writes that one request by hand on a raw unix
stream. Errors become :class:`DockerError` with Docker's message and status.
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp

API_VERSION = "v1.41"  # Docker 20.10, what Debian 12 ships; newer engines accept it


class DockerError(Exception):
    """The engine refused a request; `status` is its HTTP code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class DockerApi:
    """Requests to one Docker Engine."""

    def __init__(self, socket_path: str = "/var/run/docker.sock") -> None:
        self.socket_path = socket_path
        self._session: aiohttp.ClientSession | None = None

    def _s(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=self.socket_path, limit=64),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=5))
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @staticmethod
    def _url(path: str, params: dict[str, Any] | None) -> str:
        query = ""
        if params:
            clean = {k: (json.dumps(v) if isinstance(v, dict) else
                         ("1" if v is True else "0" if v is False else v))
                     for k, v in params.items() if v is not None}
            query = "?" + urlencode(clean)
        return f"http://docker/{API_VERSION}{path}{query}"

    async def _check(self, response: aiohttp.ClientResponse) -> None:
        if response.status >= 400:
            text = await response.text()
            try:
                message = json.loads(text).get("message", text)
            except ValueError:
                message = text
            raise DockerError(response.status, message.strip())

    async def call(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                   body: Any = None, data: bytes | None = None,
                   time_limit: float | None = 60) -> Any:
        """One request; the decoded JSON answer (None when empty)."""
        try:
            async with self._s().request(
                    method, self._url(path, params), json=body, data=data,
                    timeout=aiohttp.ClientTimeout(total=time_limit)) as response:
                await self._check(response)
                raw = await response.read()
        except (aiohttp.ClientError, OSError) as e:
            raise DockerError(503, f"cannot reach the Docker Engine: {e}") from e
        return json.loads(raw) if raw.strip() else None

    async def stream(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                     body: Any = None, data: bytes | None = None,
                     headers: dict[str, str] | None = None) -> AsyncIterator[bytes]:
        """A streaming answer, chunk by chunk."""
        try:
            async with self._s().request(method, self._url(path, params), json=body,
                                         data=data, headers=headers) as response:
                await self._check(response)
                async for chunk in response.content.iter_any():
                    yield chunk
        except (aiohttp.ClientError, OSError) as e:
            raise DockerError(503, f"cannot reach the Docker Engine: {e}") from e

    async def json_lines(self, method: str, path: str, **kwargs: Any) -> AsyncIterator[dict]:
        """A stream of JSON objects, one per line (pulls, events)."""
        buffer = b""
        async for chunk in self.stream(method, path, **kwargs):
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    yield json.loads(line)
        if buffer.strip():
            yield json.loads(buffer)

    async def hijack(self, path: str, body: dict[str, Any]) -> tuple[asyncio.StreamReader,
                                                                     asyncio.StreamWriter]:
        """POST `path` and take over the connection (exec start with stdin)."""
        reader, writer = await asyncio.open_unix_connection(self.socket_path)
        payload = json.dumps(body).encode()
        writer.write(f"POST /{API_VERSION}{path} HTTP/1.1\r\nHost: docker\r\n"
                     "Content-Type: application/json\r\nConnection: Upgrade\r\n"
                     f"Upgrade: tcp\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
                     + payload)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status not in (101, 200):
            writer.close()
            raise DockerError(status, head.decode(errors="replace"))
        return reader, writer


def demux(buffer: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Split Docker's multiplexed stream (8-byte headers) into (stream, bytes) frames."""
    frames = []
    while len(buffer) >= 8:
        stream, size = buffer[0], struct.unpack(">I", buffer[4:8])[0]
        if len(buffer) < 8 + size:
            break
        frames.append((stream, buffer[8:8 + size]))
        buffer = buffer[8 + size:]
    return frames, buffer
