"""DefaultPreemption, without preemption: it only words the PostFilter message.

kybernetes never evicts pods to make room. The plugin keeps Kubernetes' place
for preemption in the pipeline and adds the part of the FailedScheduling
message that kube-scheduler prints when preemption cannot help:
`preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.`
"""

from __future__ import annotations

from typing import Any

from kybernetes.scheduler.framework import CycleState, Handle, Status, unschedulable
from kybernetes.scheduler.podinfo import PodInfo


class DefaultPreemption:
    name = "DefaultPreemption"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        self.handle = handle

    def post_filter(self, state: CycleState, pod: PodInfo,
                    statuses: dict[str, Status]) -> Status | None:
        total = len(self.handle.cache) if self.handle is not None else len(statuses)
        return unschedulable(f"preemption: 0/{total} nodes are available: {total} "
                             "Preemption is not helpful for scheduling")
