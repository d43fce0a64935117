"""Replica controllers: exactly N pods from a template, for two kinds.

One implementation (:class:`ReplicaManager`) serves the core/v1
ReplicationController and the apps/v1 ReplicaSet; they differ only in resource,
selector type (a label map vs a LabelSelector) and event source, as in
Kubernetes where the RC manager wraps the ReplicaSet controller.

A sync is level-triggered, in straight steps:

1. read the owner from the cache (gone: forget its expectations);
2. claim pods (:mod:`adoption`): of the active pods in its namespace (not
   finished, not being deleted), keep the ones it controls that still match,
   release the ones whose labels stopped matching, adopt matching orphans;
3. if expectations are satisfied (every create/delete it asked for was seen
   by the informer, or 5 minutes passed), create or delete the difference:
   creations in slow-start batches 1, 2, 4, … (a failing batch stops the rest,
   so a quota error costs one request, not N); deletions of the least valuable
   pods first (see :mod:`pod_ordering`); at most 500 either way per sync;
4. write status (replicas, fullyLabeledReplicas, readyReplicas,
   availableReplicas, observedGeneration, ReplicaFailure) through the status
   subresource when it changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from kybernetes.api import errors
from kybernetes.api.labels import Selector, from_label_selector, selector_from_map
from kybernetes.api.meta import (
    controller_ref,
    is_being_deleted,
    is_pod_active,
    is_pod_available,
    is_pod_ready,
    now_rfc3339,
    object_key,
    owner_reference,
)
from kybernetes.api.resources import PODS, REPLICA_SETS, REPLICATION_CONTROLLERS, Resource
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers import pod_control
from kybernetes.controllers.adoption import Claimer
from kybernetes.controllers.base import Controller, Obj, deep_copy, live_controller, meta
from kybernetes.controllers.expectations import Expectations
from kybernetes.controllers.pod_ordering import pods_to_delete

log = logging.getLogger("kybernetes.controllers.replication")

BURST_REPLICAS = 500
SLOW_START_INITIAL_BATCH = 1


async def slow_start_batch(count: int, fn: Callable[[], Awaitable[Any]],
                           initial: int = SLOW_START_INITIAL_BATCH) -> tuple[int, Exception | None]:
    """Call `fn` `count` times in doubling concurrent batches; stop at a failing batch."""
    done, batch = 0, min(count, initial)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        for failure in failures:
            if isinstance(failure, asyncio.CancelledError):
                raise failure
        done += batch - len(failures)
        if failures:
            return done, failures[0] if isinstance(failures[0], Exception) else None
        batch = min(2 * batch, count - done)
    return done, None


def _labels(obj: Obj) -> dict[str, str]:
    return meta(obj).get("labels") or {}


class ReplicaManager(Controller):
    """Keeps `spec.replicas` pods for every owner of `resource`."""

    resource: ClassVar[Resource]
    default_workers = 5  # kube's --concurrent-replicaset-syncs / --concurrent-rc-syncs

    def __init__(self, client: ApiClient, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.expectations = Expectations()
        self.burst_replicas = BURST_REPLICAS
        self.owners = informers.get(self.resource)
        self.pods = informers.get(PODS)
        self.owners.add_handler(on_add=self.enqueue, on_update=self._owner_updated,
                                on_delete=self._owner_deleted)
        self.pods.add_handler(on_add=self._pod_added, on_update=self._pod_updated,
                              on_delete=self._pod_deleted)

    def selector(self, owner: Obj) -> Selector:
        """The owner's pod selector; raises BadRequest for an unusable one."""
        raise NotImplementedError

    # -- handlers: only bookkeeping and enqueueing ----------------------------------

    def _owner_updated(self, old: Obj, new: Obj) -> None:
        self.enqueue(new)

    def _owner_deleted(self, owner: Obj) -> None:
        self.expectations.delete(object_key(owner))
        self.enqueue(owner)

    def _owner_of(self, pod: Obj) -> Obj | None:
        return live_controller(pod, self.resource.kind, self.owners)

    def _matching_owners(self, pod: Obj) -> list[Obj]:
        found = []
        for owner in self.owners.list(meta(pod).get("namespace") or ""):
            try:
                if self.selector(owner).matches(_labels(pod)):
                    found.append(owner)
            except errors.ApiError:
                continue
        return found

    def _pod_added(self, pod: Obj) -> None:
        if is_being_deleted(pod):
            self._pod_deleted(pod)  # seen for the first time already going away
            return
        if controller_ref(pod) is not None:
            owner = self._owner_of(pod)
            if owner is not None:
                self.expectations.creation_observed(object_key(owner))
                self.enqueue(owner)
            return
        for owner in self._matching_owners(pod):
            self.enqueue(owner)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        labels_changed = _labels(old) != _labels(new)
        if is_being_deleted(new):
            # A graceful delete: replace the pod now, not when the kubelet is done.
            self._pod_deleted(new)
            if labels_changed:
                self._pod_deleted(old)
            return
        old_ref, new_ref = controller_ref(old), controller_ref(new)
        if old_ref != new_ref and old_ref is not None:
            previous = self._owner_of(old)
            if previous is not None:
                self.enqueue(previous)
        if new_ref is not None:
            owner = self._owner_of(new)
            if owner is not None:
                self.enqueue(owner)
                self._requeue_for_availability(owner, old, new)
            return
        if labels_changed or old_ref != new_ref:
            for owner in self._matching_owners(new):
                self.enqueue(owner)

    def _requeue_for_availability(self, owner: Obj, old: Obj, new: Obj) -> None:
        min_ready = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready > 0 and not is_pod_ready(old) and is_pod_ready(new):
            self.enqueue_after(owner, min_ready + 1)

    def _pod_deleted(self, pod: Obj) -> None:
        owner = self._owner_of(pod)
        if owner is None:
            return
        key = object_key(owner)
        self.expectations.deletion_observed(key, object_key(pod))
        self.queue.add(key)

    # -- sync -------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        # 1. The owner, from the cache.
        owner = self.owners.get(key)
        if owner is None:
            self.expectations.delete(key)
            return
        needs_sync = self.expectations.satisfied(key)
        try:
            selector = self.selector(owner)
        except errors.ApiError as e:
            self.event(owner, "Warning", "InvalidSelector", str(e))
            return
        # 2. The pods it controls.
        namespace = meta(owner).get("namespace") or ""
        active = [p for p in self.pods.list(namespace) if is_pod_active(p)]
        pods = await Claimer(self.client, owner_resource=self.resource, owner=owner,
                             selector=selector, resource=PODS).claim(active)
        # 3. Create or delete toward spec.replicas.
        error: Exception | None = None
        if needs_sync and not is_being_deleted(owner):
            error = await self._manage(owner, pods, key)
        # 4. Status.
        await self._write_status(owner, self._status(owner, pods, error))
        min_ready = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
        if error is None and min_ready > 0 and any(
                is_pod_ready(p) and not is_pod_available(p, min_ready) for p in pods):
            self.queue.add_after(key, 1.0)
        if error is not None:
            raise error

    async def _manage(self, owner: Obj, pods: list[Obj], key: str) -> Exception | None:
        replicas = int((owner.get("spec") or {}).get("replicas", 1))
        diff = len(pods) - replicas
        if diff < 0:
            wanted = min(-diff, self.burst_replicas)
            self.expectations.expect_creations(key, wanted)
            created, error = await slow_start_batch(wanted, lambda: self._create_pod(owner))
            for _ in range(wanted - created):
                self.expectations.creation_observed(key)
            return error
        if diff > 0:
            victims = pods_to_delete(pods, pods, min(diff, self.burst_replicas))
            self.expectations.expect_deletions(key, [object_key(p) for p in victims])
            results = await asyncio.gather(*(self._delete_pod(owner, p, key) for p in victims),
                                           return_exceptions=True)
            return next((r for r in results if isinstance(r, Exception)), None)
        return None

    def pod_from_template(self, owner: Obj) -> Obj:
        """A new pod from the owner's template, controlled by the owner."""
        template = (owner.get("spec") or {}).get("template") or {}
        tmeta = template.get("metadata") or {}
        pod_meta: Obj = {"generateName": f"{meta(owner)['name']}-",
                         "namespace": meta(owner).get("namespace"),
                         "labels": dict(tmeta.get("labels") or {}),
                         "ownerReferences": [owner_reference(owner)]}
        for field in ("annotations", "finalizers"):
            if tmeta.get(field):
                pod_meta[field] = deep_copy(tmeta[field])
        return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta,
                "spec": deep_copy(template.get("spec") or {})}

    async def _create_pod(self, owner: Obj) -> None:
        try:
            await pod_control.create_pod(self.client, self, owner,
                                         self.pod_from_template(owner))
        except errors.ApiError as e:
            if not pod_control.namespace_terminating(e):
                raise

    async def _delete_pod(self, owner: Obj, pod: Obj, key: str) -> None:
        await pod_control.delete_pod(self.client, self, self.expectations, owner, pod, key)

    # -- status -----------------------------------------------------------------------

    def _status(self, owner: Obj, pods: list[Obj], error: Exception | None) -> Obj:
        spec = owner.get("spec") or {}
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        status: Obj = {
            "replicas": len(pods),
            "fullyLabeledReplicas": sum(
                1 for p in pods
                if all(_labels(p).get(k) == v for k, v in template_labels.items())),
            "readyReplicas": sum(1 for p in pods if is_pod_ready(p)),
            "availableReplicas": sum(1 for p in pods if is_pod_available(p, min_ready)),
            "observedGeneration": meta(owner).get("generation"),
        }
        status = {k: v for k, v in status.items() if v or k == "replicas"}
        conditions = [c for c in (owner.get("status") or {}).get("conditions") or []
                      if c.get("type") != "ReplicaFailure"]
        failure = next((c for c in (owner.get("status") or {}).get("conditions") or []
                        if c.get("type") == "ReplicaFailure"), None)
        if error is not None:
            creating = len(pods) < int(spec.get("replicas", 1))
            failure = failure or {
                "type": "ReplicaFailure", "status": "True",
                "reason": "FailedCreate" if creating else "FailedDelete",
                "message": getattr(error, "message", str(error)),
                "lastTransitionTime": now_rfc3339()}
            conditions.append(failure)
        if conditions:
            status["conditions"] = conditions
        return status

    async def _write_status(self, owner: Obj, status: Obj) -> None:
        if _without_zeros(owner.get("status") or {}) == _without_zeros(status):
            return
        updated = deep_copy(owner)
        updated["status"] = status
        try:
            await self.client.update_status(self.resource, updated)
        except errors.Conflict:
            fresh = await self.client.get(self.resource, meta(owner)["name"],
                                          namespace=meta(owner).get("namespace"))
            fresh["status"] = status
            await self.client.update_status(self.resource, fresh)
        except errors.NotFound:
            pass


def _without_zeros(status: Obj) -> Obj:
    return {k: v for k, v in status.items() if v not in (0, None, [], {})}


def _non_empty(selector: Selector) -> Selector:
    if selector.empty:
        raise errors.BadRequest("This controller is selecting all pods. A non-empty selector "
                                "is required.")
    return selector


class ReplicationControllerManager(ReplicaManager):
    """core/v1 ReplicationController: `spec.selector` is a label map."""

    name = "replicationcontroller"
    component = "replication-controller"
    resource = REPLICATION_CONTROLLERS

    def selector(self, owner: Obj) -> Selector:
        spec = owner.get("spec") or {}
        labels = spec.get("selector") or ((spec.get("template") or {}).get("metadata")
                                          or {}).get("labels")
        return _non_empty(selector_from_map(labels))


class ReplicaSetManager(ReplicaManager):
    """apps/v1 ReplicaSet: `spec.selector` is a LabelSelector."""

    name = "replicaset"
    component = "replicaset-controller"
    resource = REPLICA_SETS

    def selector(self, owner: Obj) -> Selector:
        return _non_empty(from_label_selector((owner.get("spec") or {}).get("selector")))
