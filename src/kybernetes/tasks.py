"""The one guarded way to start a background task.

A task started with :func:`spawn` is kept referenced (so it is not garbage
collected mid-flight) and a crash is logged with its name instead of vanishing;
cancellation passes through untouched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("kybernetes.tasks")
_running: set[asyncio.Task[Any]] = set()


def _done(task: asyncio.Task[Any]) -> None:
    _running.discard(task)
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("background task crashed", extra={"task": task.get_name()},
                  exc_info=exc)


def spawn(coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
    """Start `coro` in the background; its crash is logged, never lost."""
    task = asyncio.get_running_loop().create_task(coro, name=name)
    _running.add(task)
    task.add_done_callback(_done)
    return task


async def cancel_and_wait(*tasks: asyncio.Task[Any] | None, grace: float = 5.0) -> None:
    """Cancel tasks and wait (bounded) for them to finish."""
    live = [t for t in tasks if t is not None and not t.done()]
    for t in live:
        t.cancel()
    if live:
        await asyncio.wait(live, timeout=grace)


async def wait_for_change(changed: asyncio.Event, stop: asyncio.Event, resync: float) -> None:
    """Return when `changed` or `stop` is set, or after `resync` seconds: the wait of a
    level-based loop that also re-checks everything now and then."""
    waits = [asyncio.ensure_future(changed.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waits, timeout=resync, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
