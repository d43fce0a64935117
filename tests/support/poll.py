"""The tests' pollers: wait until a check gives a truthy value, or fail with its last one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T]], *, within: float = 10.0,
                     interval: float = 0.05, what: str = "condition") -> T:
    """Poll `check` until it returns a truthy value; fail with its last value."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {within}s waiting for {what}; last: {last!r}")


def wait_for(check: Callable[[], T], *, within: float = 5.0, interval: float = 0.05,
             what: str = "condition") -> T:
    """`eventually` for synchronous checks (raw HTTP, kubectl)."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {within}s waiting for {what}; last: {last!r}")
