"""A work queue of object keys, as client-go's workqueue, for asyncio.

Event handlers only :meth:`WorkQueue.add` a key (`namespace/name`); workers
:meth:`~WorkQueue.get` one, reconcile, and call :meth:`~WorkQueue.done`. Three
sets make it safe and cheap:

- *queue* (ordered) holds keys waiting for a worker;
- *dirty* holds keys that need processing: adding a key already dirty is a no-op,
  so a burst of events for one object is one reconcile;
- *processing* holds keys a worker holds: a key added meanwhile is only marked
  dirty and goes back to the queue at ``done()``, so two workers never hold one
  key and no event is lost.

Retries go through a per-key exponential back-off (5 ms doubling up to 1000 s,
client-go's ItemExponentialFailureRateLimiter): :meth:`add_rate_limited` after a
failure, :meth:`forget` after a success. :meth:`add_after` uses the loop's timers
and keeps only the earliest pending time per key.
"""

from __future__ import annotations

import asyncio
from collections import deque

BASE_DELAY = 0.005
MAX_DELAY = 1000.0


class RateLimiter:
    """Per-key exponential back-off: base * 2**failures, capped."""

    def __init__(self, base: float = BASE_DELAY, cap: float = MAX_DELAY) -> None:
        self.base = base
        self.cap = cap
        self._failures: dict[str, int] = {}

    def when(self, key: str) -> float:
        """The delay for this key's next retry (and count one more failure)."""
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        if n >= 64:
            return self.cap
        return min(self.base * (2 ** n), self.cap)

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def retries(self, key: str) -> int:
        return self._failures.get(key, 0)


class WorkQueue:
    """Deduplicating, rate-limited queue of keys; see the module docstring."""

    def __init__(self, name: str = "", *, rate_limiter: RateLimiter | None = None) -> None:
        self.name = name
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timers: dict[str, tuple[float, asyncio.TimerHandle]] = {}
        self._limiter = rate_limiter or RateLimiter()
        self._shutting_down = False

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: str) -> None:
        """Mark `key` as needing a reconcile (idempotent)."""
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def get(self) -> str | None:
        """The next key to process, or None once the queue is shut down."""
        while not self._queue:
            if self._shutting_down:
                return None
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # pass the wake-up on; we will not take the key
                raise
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: str) -> None:
        """The worker is finished with `key`; requeue it if it was added meanwhile."""
        self._processing.discard(key)
        if key in self._dirty and not self._shutting_down:
            self._queue.append(key)
            self._wake_one()

    def add_after(self, key: str, seconds: float) -> None:
        """Add `key` after a delay; an earlier pending time for the key wins."""
        if self._shutting_down:
            return
        if seconds <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + seconds
        pending = self._timers.get(key)
        if pending is not None:
            if pending[0] <= when:
                return
            pending[1].cancel()
        self._timers[key] = (when, loop.call_at(when, self._fire, key))

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def add_rate_limited(self, key: str) -> None:
        """Retry `key` after its back-off delay."""
        self.add_after(key, self._limiter.when(key))

    def forget(self, key: str) -> None:
        """Reset `key`'s back-off (call after a successful reconcile)."""
        self._limiter.forget(key)

    def num_requeues(self, key: str) -> int:
        return self._limiter.retries(key)

    def shutdown(self) -> None:
        """Stop accepting keys; waiting `get()` calls return None."""
        self._shutting_down = True
        for _, handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._queue.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
