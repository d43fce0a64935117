"""Crash-loop back-off: how long a container waits before its next restart.

Kubernetes' kubelet keys a flowcontrol.Backoff by pod and container: the first
restart waits `base` (10 s), each quick failure doubles it up to `cap`
(5 min), and an entry that has not been touched for twice the cap starts over.
This module is that rule alone, on a caller-supplied clock, so it is tested
without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Entry:
    delay: float
    last: float


class Backoff:
    """Per-key exponential back-off between `base` and `cap` seconds."""

    def __init__(self, *, base: float = 10.0, cap: float = 300.0) -> None:
        self.base = base
        self.cap = cap
        self._entries: dict[str, _Entry] = {}

    def next(self, key: str, now: float) -> float:
        """Record a failure at `now`; the delay before the next start."""
        entry = self._entries.get(key)
        if entry is None or now - entry.last > 2 * self.cap:
            entry = _Entry(delay=self.base, last=now)
        else:
            entry = _Entry(delay=min(entry.delay * 2, self.cap), last=now)
        self._entries[key] = entry
        return entry.delay

    def peek(self, key: str) -> float:
        """The delay last handed out for `key` (0 when none)."""
        entry = self._entries.get(key)
        return entry.delay if entry else 0.0

    def in_backoff(self, key: str, finished_at: float, now: float) -> float:
        """Seconds still to wait after a container that finished at `finished_at`."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        return max(0.0, finished_at + entry.delay - now)

    def forget_prefix(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]
