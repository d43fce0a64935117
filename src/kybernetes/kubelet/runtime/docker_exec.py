"""An interactive exec in a Docker container, over the engine's hijacked connection.

Docker multiplexes stdout and stderr on one stream with 8-byte frame headers
unless there is a TTY; stdin goes the other way, raw, and a half-close ends
it. The exit code comes from inspecting the exec once the stream ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from kybernetes.kubelet.runtime.docker_api import DockerApi, DockerError, demux


class DockerExec:
    """One exec; see :class:`kybernetes.kubelet.runtime.base.ExecSession`."""

    def __init__(self, api: DockerApi, exec_id: str, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, *, tty: bool) -> None:
        self.api = api
        self.exec_id = exec_id
        self.reader = reader
        self.writer = writer
        self.tty = tty
        self._stdin_open = True
        self._ended = asyncio.Event()

    @classmethod
    async def start(cls, api: DockerApi, container: str, command: list[str], *, tty: bool,
                    stdin: bool) -> DockerExec:
        created = await api.call("POST", f"/containers/{container}/exec", body={
            "Cmd": command, "AttachStdin": stdin, "AttachStdout": True, "AttachStderr": True,
            "Tty": tty})
        reader, writer = await api.hijack(f"/exec/{created['Id']}/start",
                                          {"Detach": False, "Tty": tty})
        return cls(api, created["Id"], reader, writer, tty=tty)

    async def write_stdin(self, data: bytes) -> None:
        if self._stdin_open:
            self.writer.write(data)
            with contextlib.suppress(ConnectionError):
                await self.writer.drain()

    async def close_stdin(self) -> None:
        if self._stdin_open:
            self._stdin_open = False
            with contextlib.suppress(OSError):
                if self.writer.can_write_eof():
                    self.writer.write_eof()

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        buffer = b""
        while True:
            chunk = await self.reader.read(65536)
            if not chunk:
                self._ended.set()
                return
            if self.tty:
                yield 1, chunk
                continue
            frames, buffer = demux(buffer + chunk)
            for stream, data in frames:
                yield (2 if stream == 2 else 1), data

    async def wait(self) -> int:
        """The exit code, once the output has ended (so the command has)."""
        await self._ended.wait()
        for _ in range(100):
            info = await self.api.call("GET", f"/exec/{self.exec_id}/json")
            if not info.get("Running"):
                return int(info.get("ExitCode") or 0)
            await asyncio.sleep(0.05)
        return 1

    async def kill(self) -> None:
        self.writer.close()

    async def resize(self, width: int, height: int) -> None:
        with contextlib.suppress(DockerError):
            await self.api.call("POST", f"/exec/{self.exec_id}/resize",
                                params={"h": height, "w": width})
