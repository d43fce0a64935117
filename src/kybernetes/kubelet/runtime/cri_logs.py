"""Reading container logs in the CRI log format, as `kubectl logs` asks for them.

A CRI runtime writes each line of a container's stdout/stderr as
``<RFC3339Nano time> <stream> <P|F> <text>``: `F` ends a line, `P` is a partial
chunk continued by the next record. The kubelet turns that back into the
container's own bytes, with the time prepended when `timestamps` is asked, and
drops records before `sinceSeconds`/`sinceTime`. Tail and byte limits apply to
what is returned, as Kubernetes applies them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from kybernetes.kubelet.config import parse_rfc3339
from kybernetes.kubelet.logs import read_log


def parse_line(line: bytes) -> tuple[str, bytes, bool] | None:
    """(time text, content, ends a line) of one record; None if malformed."""
    parts = line.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3 or parts[1] not in (b"stdout", b"stderr"):
        return None
    content = parts[3] if len(parts) == 4 else b""
    return parts[0].decode(), content, parts[2] != b"P"


def _epoch(stamp: str) -> float:
    head, _, frac = stamp.rstrip("Z").partition(".")
    whole = parse_rfc3339(f"{head}Z") or 0.0
    return whole + (float(f"0.{frac}") if frac.isdigit() else 0.0)


def _since(since_seconds: str | None, since_time: str | None) -> float | None:
    if since_seconds:
        return time.time() - int(since_seconds)
    if since_time:
        return parse_rfc3339(since_time)
    return None


async def read_cri_log(path: Path, *, follow: bool, tail_lines: int | None,
                       limit_bytes: int | None, since_seconds: str | None,
                       since_time: str | None, timestamps: bool,
                       running: Callable[[], bool]) -> AsyncIterator[bytes]:
    """The container's output from its CRI log file, with Kubernetes' log options."""
    since = _since(since_seconds, since_time)
    sent, rest = 0, b""
    async for chunk in read_log(path, follow=follow, tail_lines=tail_lines, running=running):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        out = bytearray()
        for line in lines:
            record = parse_line(line)
            if record is None:
                continue
            stamp, content, full = record
            if since is not None and _epoch(stamp) < since:
                continue
            if timestamps:
                out += stamp.encode() + b" "
            out += content + (b"\n" if full else b"")
        if limit_bytes is not None:
            out = out[: max(0, limit_bytes - sent)]
        sent += len(out)
        if out:
            yield bytes(out)
        if limit_bytes is not None and sent >= limit_bytes:
            return
