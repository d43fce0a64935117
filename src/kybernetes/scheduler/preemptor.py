"""What a preemption does through the API, once DefaultPreemption has chosen.

As kube-scheduler's `prepareCandidate`: each victim gets the DisruptionTarget
condition (reason PreemptionByScheduler) so its controller and its users can tell
why it went, a `Preempted` event, and a delete with its own grace period; the
preemptor gets `status.nominatedNodeName`, and the cache holds the node's room
for it so a lower-priority pod does not take what the victims free.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from kybernetes.api import errors
from kybernetes.api.meta import now_rfc3339
from kybernetes.api.resources import PODS
from kybernetes.client.events import EventSink
from kybernetes.client.verbs import Deleter, Patcher
from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.podinfo import PodInfo

log = logging.getLogger("kybernetes.scheduler.preemptor")


class PreemptionClient(Patcher, Deleter, Protocol):
    """Status patches and deletes of pods."""


Spawner = Callable[[Coroutine[Any, Any, None], str], None]


class ApiPreemptor:
    def __init__(self, client: PreemptionClient, cache: Cache,
                 recorder: Callable[[str], EventSink], spawn: Spawner) -> None:
        self.client = client
        self.cache = cache
        self.recorder = recorder  # by schedulerName
        self.spawn = spawn

    def nominate(self, pod: PodInfo, node: str) -> None:
        self.cache.nominate(pod, node)

    def preempt(self, pod: PodInfo, node: str, victims: list[PodInfo]) -> None:
        self.cache.nominate(pod, node)
        log.info("preempting", extra={"pod": pod.key, "node": node,
                                      "victims": [v.key for v in victims]})
        for victim in victims:
            self.spawn(self._evict(pod, node, victim), f"preempt-{victim.key}")
        self.spawn(self._set_nominated_node(pod, node), f"nominate-{pod.key}")

    async def _evict(self, pod: PodInfo, node: str, victim: PodInfo) -> None:
        condition = {"type": "DisruptionTarget", "status": "True",
                     "reason": "PreemptionByScheduler",
                     "message": f"{pod.scheduler_name}: preempting to accommodate a higher "
                                "priority pod",
                     "lastTransitionTime": now_rfc3339()}
        try:
            await self.client.patch(PODS, victim.name, {"status": {"conditions": [condition]}},
                                    namespace=victim.namespace, patch_type="strategic",
                                    subresource="status")
            self.recorder(pod.scheduler_name).event(
                victim.pod, "Normal", "Preempted", f"Preempted by pod {pod.uid} on node {node}")
            await self.client.delete(PODS, victim.name, namespace=victim.namespace,
                                     preconditions={"uid": victim.uid} if victim.uid else None)
        except errors.NotFound:
            pass  # gone already: the room is free
        except errors.ApiError as e:
            log.warning("cannot evict preemption victim",
                        extra={"pod": victim.key, "error": e.message})

    async def _set_nominated_node(self, pod: PodInfo, node: str) -> None:
        try:
            await self.client.patch(PODS, pod.name, {"status": {"nominatedNodeName": node}},
                                    namespace=pod.namespace, subresource="status")
        except errors.ApiError as e:
            log.debug("cannot set nominatedNodeName", extra={"pod": pod.key, "error": e.message})
