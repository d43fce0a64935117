"""Creating and deleting a workload's pods, with Kubernetes' events (kube's PodControl).

The ReplicationController/ReplicaSet, DaemonSet and Job controllers all make and
remove pods the same way: a SuccessfulCreate or FailedCreate event on the owner,
a SuccessfulDelete or FailedDelete one, a delete that fails telling the
expectations that the informer will not see it, and a namespace that is being
terminated not counted as a failure worth an event.
"""

from __future__ import annotations

from typing import Any, Protocol

from kybernetes.api import errors
from kybernetes.api.meta import object_key
from kybernetes.api.resources import PODS, Resource
from kybernetes.client.events import EventSink

Obj = dict[str, Any]


class PodWriter(Protocol):
    """What pod control needs of a controller: its client's two verbs and its events."""

    async def create(self, resource: Resource, obj: Obj, *, namespace: str | None = None
                     ) -> Obj: ...

    async def delete(self, resource: Resource, name: str, *, namespace: str | None = None
                     ) -> Any: ...


class DeletionExpectations(Protocol):
    def deletion_observed(self, key: str, pod_key: str) -> None: ...


def namespace_terminating(error: errors.ApiError) -> bool:
    """The create was refused because the namespace is going away: not a failure."""
    return isinstance(error, errors.Forbidden) and "terminat" in error.message


async def create_pod(client: PodWriter, events: EventSink, owner: Obj, pod: Obj) -> Obj:
    """Create `pod` for `owner`; FailedCreate (an event) and re-raise on failure, except
    in a terminating namespace, which raises without an event."""
    try:
        created = await client.create(PODS, pod)
    except errors.ApiError as e:
        if not namespace_terminating(e):
            events.event(owner, "Warning", "FailedCreate", f"Error creating: {e.message}")
        raise
    name = (created.get("metadata") or {}).get("name")
    events.event(owner, "Normal", "SuccessfulCreate", f"Created pod: {name}")
    return created


async def delete_pod(client: PodWriter, events: EventSink, expectations: DeletionExpectations,
                     owner: Obj, pod: Obj, key: str) -> None:
    """Delete one of `owner`'s pods; a pod already gone is fine."""
    pod_meta = pod.get("metadata") or {}
    name = pod_meta["name"]
    try:
        await client.delete(PODS, name, namespace=pod_meta.get("namespace"))
    except errors.ApiError as e:
        # The informer will not see this deletion: stop expecting it.
        expectations.deletion_observed(key, object_key(pod))
        if isinstance(e, errors.NotFound):
            return
        events.event(owner, "Warning", "FailedDelete", f"Error deleting: {e.message}")
        raise
    events.event(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")
