"""Periodic compaction, for either backend: keep the newest `keep` revisions.

The Kubernetes apiserver compacts etcd every five minutes; we do the same by
default, and keep the last 1000 revisions so that a watch that reconnects
after a short break can resume without a 410. A failed round is logged and
retried at the next tick; the task ends only when cancelled.
"""

from __future__ import annotations

import asyncio
import logging

from kybernetes.storage.errors import StorageError
from kybernetes.storage.interface import Store
from kybernetes.tasks import spawn

log = logging.getLogger("kybernetes.storage.compactor")


async def compact_once(store: Store, *, keep: int) -> int:
    """Compact up to `keep` revisions before the current one; returns the compacted
    revision (unchanged when there is nothing to do)."""
    done = await store.compacted_revision()
    target = await store.current_revision() - keep
    if target <= done:
        return done
    await store.compact(target)
    log.debug("compacted", extra={"revision": target})
    return target


async def run_compactor(store: Store, *, interval: float = 300.0, keep: int = 1000) -> None:
    """Compact every `interval` seconds until cancelled."""
    while True:
        await asyncio.sleep(interval)
        try:
            await compact_once(store, keep=keep)
        except StorageError as e:
            log.warning("compaction failed", extra={"error": str(e)})


def start_compactor(store: Store, *, interval: float = 300.0, keep: int = 1000
                    ) -> asyncio.Task[None]:
    """Start :func:`run_compactor` as a guarded background task (cancel it to stop)."""
    return spawn(run_compactor(store, interval=interval, keep=keep), name="storage-compactor")
