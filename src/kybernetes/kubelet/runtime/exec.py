"""Interactive exec into a process-runtime container (for `kubectl exec`).

The command runs under `nsenter` into the container's network, UTS, PID and mount
namespaces (those it has), with the container's environment. Without a
TTY, stdout and stderr are separate pipes; with one, a pseudo-terminal is the
child's controlling terminal, and window resizes are passed to it. Output is
a stream of (channel, bytes) pairs, channel 1 or 2, as the Kubernetes
streaming protocol numbers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import subprocess
import termios
from collections.abc import AsyncIterator


def nsenter_prefix(pid: int, *, netns: bool, mounts: bool, cwd: str,
                   uts: bool = False, pidns: bool = False) -> list[str]:
    """`nsenter -t PID -n -u -p -m --wd=/proc/PID/root/DIR --` for a container in
    namespaces (with -p nsenter forks, so the command is in the PID namespace)."""
    if os.geteuid() != 0 or not (netns or mounts or uts or pidns):
        return []
    argv = ["nsenter", "-t", str(pid)]
    if netns:
        argv.append("-n")
    if uts:
        argv.append("-u")
    if pidns:
        argv.append("-p")
    if mounts:  # the directory as the container sees it (nsenter opens it before entering)
        argv += ["-m", f"--wd=/proc/{pid}/root{cwd}"]
    return [*argv, "--"]


class ProcessExec:
    """One running exec; see :class:`kybernetes.kubelet.runtime.base.ExecSession`."""

    def __init__(self, pid: int, *, stdin_fd: int, outputs: asyncio.Queue[tuple[int, bytes]],
                 waiter: asyncio.Future[int], tty_fd: int | None) -> None:
        self.pid = pid
        self._stdin_fd = stdin_fd
        self._outputs = outputs
        self._waiter = waiter
        self._tty_fd = tty_fd

    @classmethod
    async def start(cls, argv: list[str], *, env: dict[str, str], cwd: str,
                    tty: bool) -> ProcessExec:
        loop = asyncio.get_running_loop()
        outputs: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
        open_streams = 0

        def reader(fd: int, channel: int) -> None:
            nonlocal open_streams
            open_streams += 1
            os.set_blocking(fd, False)

            def ready() -> None:
                nonlocal open_streams
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    return
                except OSError:
                    data = b""
                if data:
                    outputs.put_nowait((channel, data))
                    return
                loop.remove_reader(fd)
                os.close(fd)
                open_streams -= 1
                if open_streams == 0:
                    outputs.put_nowait((0, b""))
            loop.add_reader(fd, ready)

        if tty:
            master, slave = os.openpty()
            popen = subprocess.Popen(  # noqa: ASYNC220 - fork+exec, ms
                argv, env=env, cwd=cwd, stdin=slave, stdout=slave,
                                     stderr=slave, start_new_session=True, close_fds=True,
                                     preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
            os.close(slave)
            stdin_fd = os.dup(master)
            reader(master, 1)
        else:
            r_in, w_in = os.pipe()
            r_out, w_out = os.pipe()
            r_err, w_err = os.pipe()
            popen = subprocess.Popen(  # noqa: ASYNC220 - fork+exec, ms
                argv, env=env, cwd=cwd, stdin=r_in, stdout=w_out,
                                     stderr=w_err, start_new_session=True, close_fds=True)
            for fd in (r_in, w_out, w_err):
                os.close(fd)
            stdin_fd = w_in
            reader(r_out, 1)
            reader(r_err, 2)
        waiter = loop.run_in_executor(None, popen.wait)
        return cls(popen.pid, stdin_fd=stdin_fd, outputs=outputs, waiter=waiter,
                   tty_fd=stdin_fd if tty else None)

    async def write_stdin(self, data: bytes) -> None:
        if self._stdin_fd < 0:
            return
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._stdin_fd, view)
            except BlockingIOError:
                await asyncio.sleep(0.01)
                continue
            except OSError:
                return
            view = view[n:]

    async def close_stdin(self) -> None:
        if self._stdin_fd >= 0:
            if self._tty_fd is not None:
                await self.write_stdin(b"\x04")  # EOF on a terminal is ^D
                return
            os.close(self._stdin_fd)
            self._stdin_fd = -1

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        while True:
            channel, data = await self._outputs.get()
            if channel == 0:
                return
            yield channel, data

    async def wait(self) -> int:
        code = await self._waiter
        if self._stdin_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._stdin_fd)
            self._stdin_fd = -1
        return 128 - code if code < 0 else code

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    async def resize(self, width: int, height: int) -> None:
        if self._tty_fd is not None and self._stdin_fd >= 0:
            with contextlib.suppress(OSError):
                fcntl.ioctl(self._tty_fd, termios.TIOCSWINSZ,
                            struct.pack("HHHH", height, width, 0, 0))
