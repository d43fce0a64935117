"""The kubelet's volumes for its pods: made before the first container, their
service-account tokens renewed in the background, removed with the pod.

A pod with a projected token gets one refresher task: it sleeps until the first
of the pod's tokens is due (TokenManager's rule: 80% of the lifetime or 24 h)
and rewrites those volumes atomically with a new token, re-reading the pod so
the downward API and ConfigMap parts are current too. A failed renewal is
retried every RETRY_SECONDS while the old token stays in place; teardown stops
the task before the files go.

A pod with configMap, secret, downwardAPI or token-less projected volumes gets a
syncer task too: every SYNC_SECONDS (kube's kubelet syncFrequency, 1m) it
rewrites those volumes from their sources, so a changed ConfigMap reaches the
running containers as in Kubernetes. A source that cannot be read leaves the
old files in place.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kybernetes.api.errors import ApiError
from kybernetes.kubelet.env import ConfigError
from kybernetes.kubelet.tokens import TokenManager
from kybernetes.kubelet.volumes import (
    Lookup,
    follows_sources,
    has_tokens,
    prepare,
    refresh,
    remove,
    sync_sources,
)
from kybernetes.tasks import cancel_and_wait, spawn

log = logging.getLogger("kybernetes.kubelet.volumes")

RETRY_SECONDS = 10.0
SYNC_SECONDS = 60.0
PodNow = Callable[[], dict[str, Any]]


class PodVolumes:
    """Sets up, refreshes and removes the volumes of this node's pods."""

    def __init__(self, root: Path, lookup: Lookup, tokens: TokenManager, *,
                 clock: Callable[[], float] = time.time,
                 retry_seconds: float = RETRY_SECONDS,
                 sync_seconds: float = SYNC_SECONDS) -> None:
        self.root = root
        self.lookup = lookup
        self.tokens = tokens
        self.clock = clock
        self.retry_seconds = retry_seconds
        self.sync_seconds = sync_seconds
        self._refreshers: dict[str, asyncio.Task[None]] = {}
        self._syncers: dict[str, asyncio.Task[None]] = {}

    async def setup(self, pod_now: PodNow) -> dict[str, Path]:
        """Make the volumes of the pod `pod_now()` returns; start its token refresher."""
        pod = pod_now()
        uid = pod["metadata"]["uid"]
        paths = await prepare(pod, self.root, self.lookup, self.tokens)
        if has_tokens(pod) and uid not in self._refreshers:
            self._refreshers[uid] = spawn(self._refresh(uid, pod_now),
                                          name=f"token-refresh-{uid}")
        if uid not in self._syncers and any(
                follows_sources(v) for v in pod["spec"].get("volumes") or []):
            self._syncers[uid] = spawn(self._sync(uid, pod_now), name=f"volume-sync-{uid}")
        return paths

    async def teardown(self, uid: str) -> None:
        """Stop the pod's refresher, drop its tokens, delete its volumes."""
        await cancel_and_wait(self._refreshers.pop(uid, None), self._syncers.pop(uid, None))
        self.tokens.forget(uid)
        await asyncio.to_thread(remove, self.root, uid)

    async def aclose(self) -> None:
        """Stop every refresher (the files stay: the pods may outlive this kubelet)."""
        await cancel_and_wait(*self._refreshers.values(), *self._syncers.values())
        self._refreshers.clear()
        self._syncers.clear()

    async def _refresh(self, uid: str, pod_now: PodNow) -> None:
        while True:
            due = self.tokens.next_refresh(uid)
            # never sooner than retry_seconds: a token due at once (a skewed clock) must
            # not make this loop hammer the API server
            delay = max(self.retry_seconds, 0.0 if due is None else due - self.clock())
            await asyncio.sleep(delay)
            try:
                await refresh(pod_now(), self.root, self.lookup, self.tokens)
            except (ConfigError, ApiError, OSError, ValueError) as e:
                log.warning("projected token volume not refreshed",
                            extra={"pod_uid": uid, "error": str(e)})
                await asyncio.sleep(self.retry_seconds)

    async def _sync(self, uid: str, pod_now: PodNow) -> None:
        while True:
            await asyncio.sleep(self.sync_seconds)
            try:
                await sync_sources(pod_now(), self.root, self.lookup)
            except (ConfigError, ApiError, OSError, ValueError) as e:
                log.warning("volume not updated from its source",
                            extra={"pod_uid": uid, "error": str(e)})
