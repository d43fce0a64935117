"""Reading container log files: tail, byte limits and follow.

`kubectl logs` options map onto one generator: `tailLines` keeps the last N
lines, `limitBytes` cuts the total, `follow` keeps reading as the file grows
and ends once the container has exited and every byte is out (as Kubernetes
ends a follow when the container terminates). `sinceSeconds`/`sinceTime`
only apply where the runtime keeps timestamps (docker); a process log is
raw bytes, so there they select the whole log of a container started after
the cut, or nothing of one that ended before it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypedDict

_CHUNK = 65536
_POLL = 0.1


def _tail(data: bytes, lines: int) -> bytes:
    if lines <= 0:
        return b""
    parts = data.splitlines(keepends=True)
    return b"".join(parts[-lines:])


class LogOptions(TypedDict):
    """The options every log reader takes (the process runtime's file, Docker's API)."""

    follow: bool
    tail_lines: int | None
    limit_bytes: int | None


async def read_log(path: Path, *, follow: bool = False, tail_lines: int | None = None,
                   limit_bytes: int | None = None,
                   running: Callable[[], bool] = lambda: False) -> AsyncIterator[bytes]:
    """Yield the log's bytes, then (with `follow`) what is appended until the end."""
    sent = 0
    try:
        f = open(path, "rb")  # noqa: ASYNC230 - a local file, read in chunks
    except OSError:
        return
    with f:
        whole = f.read()
        first: bytes | None = _tail(whole, tail_lines) if tail_lines is not None else whole
        while True:
            chunk = first if first is not None else f.read(_CHUNK)
            first = None
            if chunk:
                if limit_bytes is not None:
                    chunk = chunk[: max(0, limit_bytes - sent)]
                sent += len(chunk)
                if chunk:
                    yield chunk
                if limit_bytes is not None and sent >= limit_bytes:
                    return
                continue
            if not follow:
                return
            alive = running()
            await asyncio.sleep(_POLL)
            if not alive:  # one more read after it ended, then stop
                rest = f.read()
                if rest:
                    yield rest[: max(0, limit_bytes - sent)] if limit_bytes else rest
                return
