"""Controller expectations: what a controller has asked for and not yet seen.

A replica controller that creates 3 pods must not create 3 more when it syncs
again before its informer has seen the first 3: the watch may be slow. So
before writing it records "expect 3 creations" (and, for deletions, the keys of
the pods it deletes); the pod handlers lower the counts as the informer
observes them; and ``sync`` only manages replicas once expectations are
satisfied (all observed) or expired (5 minutes, in case an event was lost
for good). As Kubernetes' UIDTrackingControllerExpectations, deletions are
tracked by pod key so a pod that was already going away is not counted twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

EXPECTATIONS_TIMEOUT = 300.0


@dataclass
class _Expectation:
    adds: int = 0
    deletes: set[str] = field(default_factory=set)
    at: float = field(default_factory=time.monotonic)


class Expectations:
    """Pending creations and deletions per controller key."""

    def __init__(self, timeout: float = EXPECTATIONS_TIMEOUT) -> None:
        self.timeout = timeout
        self._by_key: dict[str, _Expectation] = {}

    def satisfied(self, key: str) -> bool:
        """True when nothing is pending, the record expired, or there is none."""
        exp = self._by_key.get(key)
        if exp is None:
            return True
        if exp.adds <= 0 and not exp.deletes:
            return True
        return time.monotonic() - exp.at > self.timeout

    def expect_creations(self, key: str, count: int) -> None:
        self._by_key[key] = _Expectation(adds=count)

    def expect_deletions(self, key: str, pod_keys: list[str]) -> None:
        self._by_key[key] = _Expectation(deletes=set(pod_keys))

    def expect(self, key: str, creations: int, deletions: list[str]) -> None:
        """Both at once (a DaemonSet sync creates on some nodes and deletes on others)."""
        self._by_key[key] = _Expectation(adds=creations, deletes=set(deletions))

    def creation_observed(self, key: str) -> None:
        exp = self._by_key.get(key)
        if exp is not None:
            exp.adds -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        exp = self._by_key.get(key)
        if exp is not None:
            exp.deletes.discard(pod_key)

    def delete(self, key: str) -> None:
        self._by_key.pop(key, None)

    def pending(self, key: str) -> tuple[int, int]:
        """(creations, deletions) still expected, for logs and tests."""
        exp = self._by_key.get(key)
        return (max(exp.adds, 0), len(exp.deletes)) if exp else (0, 0)
