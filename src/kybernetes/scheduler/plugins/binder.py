"""DefaultBinder: POST the pod's `binding` subresource.

The Binding carries the pod's uid, so a pod deleted and re-created under the same
name while we were deciding is not bound by mistake. Errors are not turned into
a Status here: the scheduler's binding cycle decides between retry and drop
(409 already bound, 404 gone) in one place.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.resources import PODS
from kybernetes.scheduler.framework import CycleState, Handle, Status
from kybernetes.scheduler.podinfo import PodInfo


class DefaultBinder:
    name = "DefaultBinder"

    def __init__(self, args: dict[str, Any] | None, handle: Handle) -> None:
        self.handle = handle

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        body = {"apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node_name}}
        await self.handle.client.create_subresource(PODS, pod.name, "binding", body,
                                                    namespace=pod.namespace)
        return None
