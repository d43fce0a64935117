"""Attaching to a process container: the held stdin pipe, the terminal, the log follower
(real pipes, ptys and files; no container)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from kybernetes.kubelet.runtime import attach


def _session(tmp_path: Path, holder: dict[str, int], *, stdin_once: bool,
             tty: bool = False) -> tuple[attach.ProcessAttach, asyncio.Event]:
    exited = asyncio.Event()

    def close() -> None:
        fd = holder.pop("fd", None)
        if fd is not None:
            os.close(fd)

    session = attach.ProcessAttach(holder=lambda: holder.get("fd"), close_holder=close,
                                   log_path=tmp_path / "0.log", exited=exited,
                                   exit_code=lambda: 3, stdin=True, stdin_once=stdin_once,
                                   tty=tty)
    return session, exited


async def test_the_held_pipe_never_ends_until_stdin_once_closes_it(tmp_path: Path) -> None:
    fd, child = attach.make_stdin(tmp_path / "stdin" / "c1", keep_open=False)
    holder = {"fd": fd}
    os.set_blocking(child, False)
    try:
        first, _ = _session(tmp_path, holder, stdin_once=False)
        await first.write_stdin(b"one\n")
        await first.close_stdin()  # not stdinOnce: the container's stdin stays open
        assert os.read(child, 100) == b"one\n"
        try:
            os.read(child, 100)
            raise AssertionError("a reader of the held pipe saw data or EOF")
        except BlockingIOError:
            pass
        once, _ = _session(tmp_path, holder, stdin_once=True)
        await once.write_stdin(b"two\n")
        await once.close_stdin()
        assert "fd" not in holder
        assert os.read(child, 100) == b"two\n" and os.read(child, 100) == b""  # EOF
    finally:
        os.close(child)
        if "fd" in holder:
            os.close(holder["fd"])


async def test_without_stdin_once_stdin_outlives_the_kubelets_end(tmp_path: Path) -> None:
    fd, child = attach.make_stdin(tmp_path / "stdin" / "c2", keep_open=True)
    os.set_blocking(child, False)
    os.write(fd, b"x")
    os.close(fd)  # the kubelet goes away (a restart)
    try:
        assert os.read(child, 100) == b"x"
        try:
            os.read(child, 100)
            raise AssertionError("the container read EOF")
        except BlockingIOError:
            pass
        again = attach.open_holder(tmp_path / "stdin" / "c2")  # the restarted kubelet
        os.write(again, b"y")
        os.close(again)
        assert os.read(child, 100) == b"y"
    finally:
        os.close(child)


async def test_output_follows_the_log_from_its_end_until_the_container_exits(
        tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    log.write_bytes(b"before attach\n")
    session, exited = _session(tmp_path, {}, stdin_once=False)
    seen: list[bytes] = []

    async def collect() -> None:
        async for channel, data in session.output():
            assert channel == 1
            seen.append(data)

    task = asyncio.create_task(collect())
    await asyncio.sleep(0.1)
    with log.open("ab") as f:
        f.write(b"after\n")
    await asyncio.sleep(0.2)
    log.write_bytes(b"rotated\n")  # copy-truncated: read again from the start
    await asyncio.sleep(0.2)
    exited.set()
    await asyncio.wait_for(task, 5)
    assert b"".join(seen) == b"after\nrotated\n"
    assert await session.wait() == 3


async def test_a_terminal_echoes_and_its_output_goes_to_the_log(tmp_path: Path) -> None:
    master, terminal = attach.make_tty()
    log = tmp_path / "0.log"
    log.touch()
    output = attach.TtyOutput(master, log)
    holder = {"fd": master}
    session, _ = _session(tmp_path, holder, stdin_once=True, tty=True)
    try:
        await session.resize(100, 30)
        assert os.get_terminal_size(terminal) == os.terminal_size((100, 30))
        await session.write_stdin(b"typed\r")
        await asyncio.sleep(0.1)
        os.write(terminal, b"printed\n")
        assert os.read(terminal, 100) == b"typed\n"  # the line discipline's \r -> \n
        await session.close_stdin()  # on a terminal: ^D, the master stays open
        assert "fd" in holder
        await asyncio.sleep(0.2)
    finally:
        os.close(terminal)
        output.stop()
        os.close(master)
    text = log.read_bytes()
    assert b"typed\r\n" in text and b"printed\r\n" in text  # echo, and ONLCR
