"""The Retry-After of a 429, as kube's droppedRequestsTracker computes it per level:
1 s while drops are rare; doubled (to at most 32 s, at most once per current value)
when a level dropped at least 3 × retryAfter requests in the last retryAfter
seconds, lowered by one when fewer than retryAfter were dropped — TCP's
additive-decrease in reverse, so a flooding client backs off further and further."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

MAX_RETRY_AFTER = 32


class _LevelDrops:
    def __init__(self) -> None:
        self.history: deque[tuple[int, int]] = deque()  # (second, drops)
        self.current_second, self.current_count = 0, 0
        self.retry_after, self.updated_at = 1, 0

    def record(self, second: int) -> None:
        if second == self.current_second:
            self.current_count += 1
            return
        self.history.append((self.current_second, self.current_count))
        while self.history and self.current_second - self.history[0][0] > MAX_RETRY_AFTER:
            self.history.popleft()
        self.current_second, self.current_count = second, 1
        self._update(second)

    def _update(self, now: int) -> None:
        dropped = sum(count for at, count in self.history
                      if now - at <= self.retry_after and at < now)
        if now - self.updated_at >= self.retry_after and dropped >= 3 * self.retry_after:
            self.retry_after = min(self.retry_after * 2, MAX_RETRY_AFTER)
            self.updated_at = now
        elif dropped < self.retry_after and self.retry_after > 1:
            self.retry_after -= 1


class DroppedRequests:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._levels: dict[str, _LevelDrops] = {}

    def record(self, level: str) -> None:
        self._levels.setdefault(level, _LevelDrops()).record(int(self._clock()))

    def retry_after(self, level: str) -> int:
        drops = self._levels.get(level)
        return drops.retry_after if drops else 1
