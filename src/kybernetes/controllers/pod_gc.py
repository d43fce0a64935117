"""Pod garbage collection: pods that no kubelet will ever finish.

A graceful pod delete waits for the pod's kubelet to confirm. Two kinds of
pods have no kubelet to do that, and Kubernetes' pod GC controller deletes
them for good (grace period 0):

- *orphaned* pods, bound to a node that no longer exists (a lost node that an
  administrator deleted, for example): the node must have been absent for a
  quarantine (40 s, as Kubernetes, so a kubelet that is just registering is
  not raced) and a live read must confirm it, since the cache may be behind;
- *unscheduled terminating* pods: being deleted but never bound.

The check runs every `period` seconds over the pod cache and at once when a
node is deleted.
"""

from __future__ import annotations

import asyncio
import logging
import time

from kybernetes.api import errors
from kybernetes.api.meta import is_being_deleted, object_key, split_key
from kybernetes.api.resources import NODES, PODS
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers.base import Controller, meta
from kybernetes.tasks import cancel_and_wait, spawn

log = logging.getLogger("kybernetes.controllers.pod_gc")


class PodGarbageCollector(Controller):
    """Force-deletes pods on vanished nodes and terminating pods never bound."""

    name = "podgc"
    component = "pod-garbage-collector"
    default_workers = 2

    def __init__(self, client: ApiClient, informers: InformerFactory, *,
                 period: float = 20.0, quarantine: float = 40.0) -> None:
        super().__init__(client, informers)
        self.period = period
        self.quarantine = quarantine
        self._absent_since: dict[str, float] = {}
        self.pods = informers.get(PODS)
        self.nodes = informers.get(NODES)
        self.nodes.add_handler(on_delete=lambda node: self._scan())

    def _scan(self) -> None:
        for pod in self.pods.list():
            node = (pod.get("spec") or {}).get("nodeName")
            if (node and self.nodes.get(node) is None) or (
                    not node and is_being_deleted(pod)):
                self.enqueue(pod)

    async def run(self, workers: int | None = None) -> None:
        scanner = spawn(self._scan_forever(), name="podgc-scan")
        try:
            await super().run(workers)
        finally:
            await cancel_and_wait(scanner)

    async def _scan_forever(self) -> None:
        while True:
            self._scan()
            await asyncio.sleep(self.period)

    async def sync(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None:
            return
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            if self.nodes.get(node) is not None:
                self._absent_since.pop(node, None)
                return
            now = time.monotonic()
            since = self._absent_since.setdefault(node, now)
            if now - since < self.quarantine:
                self.queue.add_after(key, since + self.quarantine - now + 0.05)
                return
            if await self._node_exists(node):
                return
            reason = f"node {node} no longer exists"
        elif is_being_deleted(pod):
            reason = "terminating and never scheduled"
        else:
            return
        namespace, name = split_key(key)
        try:
            await self.client.delete(PODS, name, namespace=namespace, grace_period_seconds=0,
                                     preconditions={"uid": meta(pod).get("uid")})
        except (errors.NotFound, errors.Conflict):
            return
        log.info("garbage-collected pod", extra={"pod": object_key(pod), "why": reason})

    async def _node_exists(self, name: str) -> bool:
        try:
            await self.client.get(NODES, name)
        except errors.NotFound:
            return False
        return True

