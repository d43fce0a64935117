"""A process container's stdin held open by the kubelet, and attaching to it.

A container with ``stdin: true`` reads a named pipe under the runtime's state
directory. The kubelet keeps the pipe open for writing (``O_RDWR``, so opening
never blocks and the container never sees EOF while nobody is attached); a
restarted kubelet opens it again. Without ``stdinOnce`` the container's own end is
opened read-write too, so its stdin never ends (as in Kubernetes), not even while the
kubelet restarts. `kubectl attach` writes into it and reads the container's output by
following its log file from the current end. With ``stdinOnce`` the first attach that
sent stdin closes the kubelet's end when it ends: the container then reads EOF, as
with Kubernetes' runtimes (a kubelet restart before that ends its stdin early).

A ``tty: true`` container gets a pseudo-terminal instead (its controlling terminal,
so a shell prompts and echoes, and `kubectl run -it` works): the kubelet holds the
master, copies what the container prints into its log file (:class:`TtyOutput`),
writes stdin into it and passes window resizes on. A terminal cannot be handed to a
restarted kubelet: its container then gets SIGHUP, as on a dropped line.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import struct
import termios
from collections.abc import AsyncIterator, Callable
from pathlib import Path

FOLLOW_INTERVAL = 0.05


def make_stdin(path: Path, *, keep_open: bool) -> tuple[int, int]:
    """Create the pipe; (the kubelet's holder fd, the container's fd: read-write when its
    stdin is never to end, so that it holds a writer itself)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    os.mkfifo(path, 0o600)
    holder = open_holder(path)
    return holder, os.open(path, (os.O_RDWR if keep_open else os.O_RDONLY) | os.O_CLOEXEC)


def open_holder(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    os.set_blocking(fd, False)
    return fd


def make_tty() -> tuple[int, int]:
    """(the kubelet's master fd, the container's terminal fd)."""
    master, terminal = os.openpty()
    os.set_blocking(master, False)
    os.set_inheritable(master, False)
    return master, terminal


def take_terminal() -> None:
    """In the child (after setsid): make its stdin terminal the controlling one."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class TtyOutput:
    """Copies a container's terminal output into its log file as it comes."""

    def __init__(self, master: int, log_path: Path) -> None:
        self.master = master
        self._log = open(log_path, "ab", buffering=0)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(master, self._ready)

    def _ready(self) -> None:
        if not self._copy():
            self.stop()

    def _copy(self) -> bool:
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return True
        except OSError:  # EIO: no process has the terminal open any more
            return False
        if data:
            with contextlib.suppress(OSError):
                self._log.write(data)
        return bool(data)

    def stop(self) -> None:
        """Copy what is left, then stop (the master stays open: the runtime closes it)."""
        if self._log.closed:
            return
        with contextlib.suppress(ValueError, RuntimeError):
            self._loop.remove_reader(self.master)
        for _ in range(64):
            try:
                data = os.read(self.master, 65536)
            except OSError:  # nothing more buffered (EAGAIN) or the terminal is gone (EIO)
                break
            if not data:
                break
            with contextlib.suppress(OSError):
                self._log.write(data)
        self._log.close()


class ProcessAttach:
    """One attach to a running process container (see the module docstring)."""

    def __init__(self, *, holder: Callable[[], int | None], close_holder: Callable[[], None],
                 log_path: Path, exited: asyncio.Event, exit_code: Callable[[], int],
                 stdin: bool, stdin_once: bool, tty: bool = False) -> None:
        self._holder = holder
        self._close_holder = close_holder
        self._log_path = log_path
        self._exited = exited
        self._exit_code = exit_code
        self._stdin = stdin
        self._stdin_once = stdin_once
        self._tty = tty
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
        if not (self._stdin and self._stdin_once):
            return
        if self._tty:
            await self.write_stdin(b"\x04")  # EOF on a terminal is ^D
        else:
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
        fd = self._holder()
        if self._tty and fd is not None:
            with contextlib.suppress(OSError):
                fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    async def detach(self) -> None:
        self._detached.set()
