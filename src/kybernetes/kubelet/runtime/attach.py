"""A process container's stdin held open by the kubelet, and attaching to it.

A container with ``stdin: true`` reads a named pipe under the runtime's state
directory. The kubelet keeps the pipe open for writing (``O_RDWR``, so opening
never blocks and the container never sees EOF while nobody is attached); a
restarted kubelet opens it again. `kubectl attach` writes into it and reads the
container's output by following its log file from the current end. With
``stdinOnce`` the first attach that sent stdin closes it when it ends: the
container then reads EOF, as with Kubernetes' runtimes. A ``tty: true`` container
gets the same pipe (no terminal): what it prints arrives, prompts and echo do not.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

FOLLOW_INTERVAL = 0.05


def make_stdin(path: Path) -> tuple[int, int]:
    """Create the pipe; (the kubelet's read-write holder fd, the container's read fd)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    os.mkfifo(path, 0o600)
    holder = open_holder(path)
    return holder, os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def open_holder(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    os.set_blocking(fd, False)
    return fd


class ProcessAttach:
    """One attach to a running process container (see the module docstring)."""

    def __init__(self, *, holder: Callable[[], int | None], close_holder: Callable[[], None],
                 log_path: Path, exited: asyncio.Event, exit_code: Callable[[], int],
                 stdin: bool, stdin_once: bool) -> None:
        self._holder = holder
        self._close_holder = close_holder
        self._log_path = log_path
        self._exited = exited
        self._exit_code = exit_code
        self._stdin = stdin
        self._stdin_once = stdin_once
        self._detached = asyncio.Event()
        try:  # output from now on (as `kubectl attach` shows it)
            self._offset = log_path.stat().st_size
        except OSError:
            self._offset = 0

    async def write_stdin(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            fd = self._holder()
            if fd is None:
                return
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:  # the pipe is full: the container is not reading
                await asyncio.sleep(FOLLOW_INTERVAL)
            except OSError:
                return

    async def close_stdin(self) -> None:
        if self._stdin and self._stdin_once:
            self._close_holder()

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        while True:
            finished = self._exited.is_set() or self._detached.is_set()
            chunk = await asyncio.to_thread(self._read_more)
            if chunk:
                yield 1, chunk
                continue
            if finished:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FOLLOW_INTERVAL):
                    await self._exited.wait()

    def _read_more(self) -> bytes:
        try:
            with open(self._log_path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < self._offset:  # copy-truncated by the rotator
                    self._offset = 0
                f.seek(self._offset)
                data = f.read(65536)
        except OSError:
            return b""
        self._offset += len(data)
        return data

    async def wait(self) -> int:
        await self._exited.wait()
        return self._exit_code()

    async def resize(self, width: int, height: int) -> None:
        """No terminal to resize (see the module docstring)."""

    async def detach(self) -> None:
        self._detached.set()
