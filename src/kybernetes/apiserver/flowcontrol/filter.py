"""kube's WithPriorityAndFairness: every request that is not long-running waits for
a seat of its priority level (each level a share of --max-requests-inflight +
--max-mutating-requests-inflight, as kube's nominalConcurrencyShares divide it);
past its flow's queue or the wait limit (kube: a quarter of --request-timeout) it is
answered 429 with the level's Retry-After. Exempt: system:masters and the probes.
Not built: borrowing seats between levels, work estimates (a LIST costs one seat
whatever its size), watch initialization seats, the X-Kubernetes-PF-* headers."""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator

from kybernetes.apiserver.authz.attributes import Attributes
from kybernetes.apiserver.flowcontrol.dropped import DroppedRequests
from kybernetes.apiserver.flowcontrol.queueset import QueueSet, Rejected
from kybernetes.apiserver.flowcontrol.schemas import LEVELS, classify
from kybernetes.apiserver.inflight import TooManyRequests, long_running

DEFAULT_WAIT = 15.0  # kube: --request-timeout (60s) / 4


class PriorityAndFairness:
    def __init__(self, server_limit: int, *, wait: float = DEFAULT_WAIT) -> None:
        self.server_limit = server_limit
        total = sum(level.shares for level in LEVELS if not level.exempt)
        self.sets = {level.name: QueueSet(
            math.ceil(server_limit * level.shares / total),
            queue_length=level.queue_length, max_waiting=level.queues * level.queue_length,
            wait=wait) for level in LEVELS if not level.exempt}
        self.dropped = DroppedRequests()

    @contextlib.asynccontextmanager
    async def enter(self, attributes: Attributes) -> AsyncIterator[None]:
        """Hold a seat of the request's level while it runs; TooManyRequests if none."""
        if not self.server_limit or long_running(attributes):
            yield
            return
        level, flow = classify(attributes)
        if level.exempt:
            yield
            return
        seats = self.sets[level.name]
        try:
            await seats.acquire(flow)
        except Rejected:
            self.dropped.record(level.name)
            raise TooManyRequests(self.dropped.retry_after(level.name)) from None
        try:
            yield
        finally:
            seats.release()
