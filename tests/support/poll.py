"""The tests' pollers: wait until a check gives a truthy value, or fail with its last one.

A check may also raise one of `retry_on` (an object not there yet, an assertion a
watch cache has not caught up with): that counts as "not yet" and is reported if
the time runs out."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar, overload

T = TypeVar("T")

Retryable = tuple[type[BaseException], ...]


# A check's falsy answers (None, or the False of `cond and value`) mean "not yet": the
# pollers return only its first truthy one, so their result type leaves them out.
@overload
async def eventually(check: Callable[[], Awaitable[T | Literal[False] | None]], *,
                     within: float = 10.0, interval: float = 0.05, what: str = "condition",
                     retry_on: Retryable = ()) -> T: ...


@overload
async def eventually(check: Callable[[], T | Literal[False] | None], *, within: float = 10.0,
                     interval: float = 0.05, what: str = "condition",
                     retry_on: Retryable = ()) -> T: ...


async def eventually(check: Callable[[], Any], *, within: float = 10.0,
                     interval: float = 0.05, what: str = "condition",
                     retry_on: Retryable = ()) -> Any:
    """Poll `check` (plain or async) until it returns a truthy value; fail with its last."""
    deadline = time.monotonic() + within
    last: Any = None
    while True:
        try:
            last = check()
            if inspect.isawaitable(last):
                last = await last
        except retry_on as e:
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(interval)
    raise _timed_out(within, what, last)


def wait_for(check: Callable[[], T | Literal[False] | None], *, within: float = 5.0,
             interval: float = 0.05, what: str = "condition",
             retry_on: Retryable = ()) -> T:
    """`eventually` for synchronous checks (raw HTTP, kubectl)."""
    deadline = time.monotonic() + within
    last: Any = None
    while True:
        try:
            last = check()
        except retry_on as e:
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise _timed_out(within, what, last)


def _timed_out(within: float, what: str, last: Any) -> AssertionError:
    error = AssertionError(f"timed out after {within}s waiting for {what}; last: {last!r}")
    if isinstance(last, BaseException):
        error.__cause__ = last
    return error
