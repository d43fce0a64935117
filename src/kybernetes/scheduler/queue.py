"""The scheduling queue: activeQ, backoffQ and the unschedulable pods.

As kube-scheduler's PriorityQueue:

- **activeQ**: pods ready to be tried, highest `spec.priority` first, then FIFO.
- **backoffQ**: pods that failed and wait out their back-off (1 s, doubling per
  attempt, at most 10 s) before going back to activeQ.
- **unschedulable**: pods no node fits. They stay until a cluster event that
  could help (a node added or changed, a bound pod deleted) moves them back, or
  until they have waited `unschedulable_timeout` (60 s) — the periodic flush.
  Some events help only pods that certain plugins rejected (a pod bound
  somewhere helps only pods that InterPodAffinity or PodTopologySpread turned
  away): those move just those pods, as kube-scheduler's queueing hints do.

A pod whose attempt failed while such an event happened (the event arrived while
the pod was being scheduled) goes to backoffQ instead of unschedulable, so the
event is not lost: this is Kubernetes' "move request cycle" rule.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable

from kybernetes.scheduler.podinfo import PodInfo

ACTIVE, BACKOFF, UNSCHEDULABLE = "active", "backoff", "unschedulable"


class SchedulingQueue:
    """Pending pods, keyed `namespace/name`; all methods run on the event loop."""

    def __init__(self, *, initial_backoff: float = 1.0, max_backoff: float = 10.0,
                 unschedulable_timeout: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.unschedulable_timeout = unschedulable_timeout
        self.clock = clock
        self._seq = itertools.count()
        self._active: list[tuple[int, int, str]] = []
        self._backoff: list[tuple[float, int, str]] = []
        self._unschedulable: dict[str, float] = {}  # key -> when it was put there
        #: plugin -> the unschedulable pods it rejected (for events only it cares about)
        self._rejected_by: dict[str, set[str]] = {}
        #: plugin -> the last cycle in which an event for that plugin moved pods
        self._plugin_move_cycle: dict[str, int] = {}
        self._pods: dict[str, PodInfo] = {}
        self._where: dict[str, str] = {}
        self._backoff_until: dict[str, float] = {}
        self._wakeup = asyncio.Event()
        self._closed = False
        self.scheduling_cycle = 0
        self.move_request_cycle = -1

    # --- adding and removing ------------------------------------------------------

    def _push_active(self, pod: PodInfo) -> None:
        self._pods[pod.key] = pod
        self._where[pod.key] = ACTIVE
        heapq.heappush(self._active, (-pod.priority, next(self._seq), pod.key))
        self._wakeup.set()

    def _push_backoff(self, pod: PodInfo, until: float) -> None:
        self._pods[pod.key] = pod
        self._where[pod.key] = BACKOFF
        heapq.heappush(self._backoff, (until, next(self._seq), pod.key))

    def add(self, pod: PodInfo) -> None:
        """A new pending pod (or one seen again after a re-list)."""
        if pod.key in self._where:
            self.update(pod)
            return
        self._push_active(pod)

    def update(self, pod: PodInfo) -> None:
        """A pending pod changed; an unschedulable one gets another try."""
        where = self._where.get(pod.key)
        if where is None:
            self._push_active(pod)
        elif where == UNSCHEDULABLE:
            self._take_unschedulable(pod.key)
            self._requeue(pod)
        else:
            self._pods[pod.key] = pod  # the heap entry finds the new info by key

    def delete(self, key: str) -> None:
        """The pod is gone or no longer pending; stale heap entries are skipped later."""
        self._pods.pop(key, None)
        self._where.pop(key, None)
        self._take_unschedulable(key)
        self._backoff_until.pop(key, None)

    def __contains__(self, key: str) -> bool:
        return key in self._where

    # --- failures -----------------------------------------------------------------

    def backoff_duration(self, attempts: int) -> float:
        return min(self.initial_backoff * (2 ** max(attempts - 1, 0)), self.max_backoff)

    def _requeue(self, pod: PodInfo) -> None:
        until = self._backoff_until.get(pod.key, 0.0)
        if until > self.clock():
            self._push_backoff(pod, until)
        else:
            self._push_active(pod)

    def add_unschedulable(self, pod: PodInfo, *, cycle: int, error: bool = False,
                          plugins: frozenset[str] = frozenset()) -> None:
        """Park a pod whose attempt (started in `cycle`) failed; `plugins` rejected it."""
        self._backoff_until[pod.key] = self.clock() + self.backoff_duration(pod.attempts)
        missed = any(self._plugin_move_cycle.get(p, -1) >= cycle for p in plugins)
        if error or missed or self.move_request_cycle >= cycle:
            self._push_backoff(pod, self._backoff_until[pod.key])
        else:
            self._pods[pod.key] = pod
            self._where[pod.key] = UNSCHEDULABLE
            self._unschedulable[pod.key] = self.clock()
            for plugin in plugins:
                self._rejected_by.setdefault(plugin, set()).add(pod.key)

    def _take_unschedulable(self, key: str) -> None:
        if self._unschedulable.pop(key, None) is not None:
            for keys in self._rejected_by.values():
                keys.discard(key)

    def move_all_to_active_or_backoff(self, event: str = "") -> int:
        """A cluster event that could help: retry every unschedulable pod."""
        self.move_request_cycle = self.scheduling_cycle
        keys = list(self._unschedulable)
        self._unschedulable.clear()
        self._rejected_by.clear()
        for key in keys:
            self._requeue(self._pods[key])
        return len(keys)

    def move_rejected_by(self, plugins: tuple[str, ...], event: str = "") -> int:
        """An event only `plugins` care about: retry just the pods they rejected."""
        keys: set[str] = set()
        for plugin in plugins:
            self._plugin_move_cycle[plugin] = self.scheduling_cycle
            keys |= self._rejected_by.get(plugin, set())
        for key in keys:
            self._take_unschedulable(key)
            self._requeue(self._pods[key])
        return len(keys)

    def flush(self) -> None:
        """Back-offs that ended go to activeQ; long-unschedulable pods get a retry."""
        now = self.clock()
        while self._backoff and self._backoff[0][0] <= now:
            _, _, key = heapq.heappop(self._backoff)
            if self._where.get(key) == BACKOFF:
                self._push_active(self._pods[key])
        stale = [k for k, t in self._unschedulable.items()
                 if now - t >= self.unschedulable_timeout]
        for key in stale:
            self._take_unschedulable(key)
            self._requeue(self._pods[key])

    def next_flush_in(self) -> float | None:
        """Seconds until the earliest back-off ends (None if backoffQ is empty)."""
        return max(self._backoff[0][0] - self.clock(), 0.0) if self._backoff else None

    # --- taking pods ----------------------------------------------------------------

    def pop_nowait(self) -> PodInfo | None:
        while self._active:
            _, _, key = heapq.heappop(self._active)
            if self._where.get(key) == ACTIVE:
                del self._where[key]
                pod = self._pods.pop(key)
                pod.attempts += 1
                self.scheduling_cycle += 1
                return pod
        self._wakeup.clear()
        return None

    async def pop(self) -> PodInfo | None:
        """The next pod to schedule; None once the queue is closed."""
        while not self._closed:
            pod = self.pop_nowait()
            if pod is not None:
                return pod
            await self._wakeup.wait()
        return None

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    def lengths(self) -> dict[str, int]:
        """Pending pods by queue, for the gauge."""
        counts = {ACTIVE: 0, BACKOFF: 0, UNSCHEDULABLE: 0}
        for where in self._where.values():
            counts[where] += 1
        return counts
