"""The one worker loop every controller uses.

`run_workers(queue, sync, workers=N)` runs N coroutines that take a key, call
``sync(key)`` and decide the retry in one place, as the sample-controller's
``processNextWorkItem``: returning means done (the key's back-off is forgotten);
raising means retry after the key's exponential back-off. A 409 Conflict is the
normal cost of optimistic concurrency, so it is logged at debug only. The queue
guarantees two workers never hold one key. The loop ends when the queue is shut
down; cancelling `run_workers` cancels every worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from kybernetes.api import errors
from kybernetes.client.workqueue import WorkQueue

log = logging.getLogger("kybernetes.client.worker")

Sync = Callable[[str], Awaitable[object]]


async def process_one(queue: WorkQueue, sync: Sync) -> bool:
    """Process one key; False once the queue is shut down."""
    key = await queue.get()
    if key is None:
        return False
    try:
        await sync(key)
    except asyncio.CancelledError:
        raise
    except Exception as e:
        retries = queue.num_requeues(key)
        level = logging.DEBUG if isinstance(e, errors.Conflict) else logging.WARNING
        log.log(level, "sync failed, will retry", exc_info=not isinstance(e, errors.ApiError),
                extra={"queue": queue.name, "key": key, "error": str(e), "retries": retries})
        queue.add_rate_limited(key)
    else:
        queue.forget(key)
    finally:
        queue.done(key)
    return True


async def _worker(queue: WorkQueue, sync: Sync) -> None:
    while await process_one(queue, sync):
        pass


async def run_workers(queue: WorkQueue, sync: Sync, *, workers: int = 1) -> None:
    """Run `workers` loops over `queue` until it is shut down (or we are cancelled)."""
    tasks = [asyncio.create_task(_worker(queue, sync), name=f"{queue.name}-worker-{i}")
             for i in range(max(1, workers))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
