"""One priority level's seats and its fair queues, one queue per flow.

Kube shuffle-shards flows onto a fixed number of queues and dispatches by virtual
finish time; here every flow has its own queue and the queues are served round
robin, which gives the same promise on a small scale: a flow that floods fills
only its own queue (then 429 at once), the others' requests still get every other
free seat. A request that waits longer than the wait limit is refused too.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Rejected(Exception):
    """No seat: the flow's queue (or the level's) is full, or the wait ran out."""


class QueueSet:
    def __init__(self, seats: int, *, queue_length: int, max_waiting: int,
                 wait: float) -> None:
        self.seats, self.queue_length, self.max_waiting = seats, queue_length, max_waiting
        self.wait = wait
        self.executing = 0
        self.waiting = 0
        self._queues: dict[str, deque[asyncio.Future[None]]] = {}
        self._turns: deque[str] = deque()  # flows with waiting requests, round robin

    async def acquire(self, flow: str) -> None:
        """A seat for one request of `flow`, at once or after its turn; Rejected."""
        if self.executing < self.seats and not self._turns:
            self.executing += 1
            return
        queue = self._queues.get(flow)
        if (queue is not None and len(queue) >= self.queue_length) \
                or self.waiting >= self.max_waiting:
            raise Rejected
        if queue is None:
            queue = self._queues[flow] = deque()
            self._turns.append(flow)
        seat: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(seat)
        self.waiting += 1
        try:
            async with asyncio.timeout(self.wait):
                await asyncio.shield(seat)
        except BaseException as e:
            if seat.done():  # given just as the wait ended: hand it on
                self.release()
            else:
                seat.cancel()
                self._forget(flow, seat)
            if isinstance(e, TimeoutError):
                raise Rejected from None
            raise

    def release(self) -> None:
        self.executing -= 1
        self._dispatch()

    def _forget(self, flow: str, seat: asyncio.Future[None]) -> None:
        queue = self._queues.get(flow)
        if queue is None or seat not in queue:
            return
        queue.remove(seat)
        self.waiting -= 1
        if not queue:
            del self._queues[flow]
            self._turns.remove(flow)

    def _dispatch(self) -> None:
        """Free seats go to the waiting flows in turn."""
        while self.executing < self.seats and self._turns:
            flow = self._turns.popleft()
            queue = self._queues[flow]
            seat = queue.popleft()
            self.waiting -= 1
            if queue:
                self._turns.append(flow)
            else:
                del self._queues[flow]
            self.executing += 1
            seat.set_result(None)
