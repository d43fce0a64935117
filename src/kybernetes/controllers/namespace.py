"""The namespace controller: empty a terminating namespace, then let it go.

Deleting a namespace only marks it (deletionTimestamp, phase Terminating); its
`spec.finalizers` still holds `kubernetes`, which is ours. For such a
namespace a sync:

1. deletes every object of every namespaced resource in the registry (a
   deletecollection per resource; list-and-delete where a server lacks it);
2. checks that nothing is left. Pods with a grace period, or objects whose
   own finalizers wait on other controllers, take time: then the namespace is
   checked again shortly (the status condition NamespaceContentRemaining says
   what is left, as Kubernetes does);
3. when empty, removes `kubernetes` through the `finalize` subresource, after
   which the API server deletes the namespace itself.
"""

from __future__ import annotations

import logging

from kybernetes.api import errors
from kybernetes.api.meta import is_being_deleted, now_rfc3339
from kybernetes.api.resources import ALL, NAMESPACES, Resource
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.client.discovery import served_resources
from kybernetes.controllers.base import Controller, Obj, deep_copy, meta

log = logging.getLogger("kybernetes.controllers.namespace")

FINALIZER = "kubernetes"
RECHECK_SECONDS = 0.5


def namespaced(resources: list[Resource]) -> list[Resource]:
    """The namespaced resources that can be listed and deleted."""
    return [r for r in resources if r.namespaced and {"list", "delete"} <= set(r.verbs)]


async def namespaced_resources(client: ApiClient) -> list[Resource]:
    """Every namespaced kind the server serves now (custom resources included); the
    built-in ones when discovery fails, so a namespace still empties."""
    try:
        return namespaced(await served_resources(client))
    except errors.ApiError as e:
        log.warning("discovery failed; deleting built-in kinds only", extra={"error": repr(e)})
        return namespaced(list(ALL))


class NamespaceController(Controller):
    """Deletes a terminating namespace's contents, then finalizes it."""

    name = "namespace"
    component = "namespace-controller"
    default_workers = 2

    def __init__(self, client: ApiClient, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.namespaces = informers.get(NAMESPACES)
        self.namespaces.add_handler(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n))

    async def sync(self, key: str) -> None:
        namespace = self.namespaces.get(key)
        if namespace is None or not is_being_deleted(namespace):
            return
        if FINALIZER not in ((namespace.get("spec") or {}).get("finalizers") or ()):
            return
        # 1. Delete everything in it.
        resources = await namespaced_resources(self.client)
        for resource in resources:
            await self._delete_all(resource, key)
        # 2. Is anything left?
        remaining = await self._remaining(resources, key)
        if remaining:
            await self._set_remaining_condition(namespace, remaining)
            self.queue.add_after(key, RECHECK_SECONDS)
            return
        # 3. Empty: take our finalizer off; the API server deletes the namespace.
        await self._finalize(namespace)

    async def _delete_all(self, resource: Resource, namespace: str) -> None:
        if "deletecollection" in resource.verbs:
            try:
                await self.client.delete_collection(resource, namespace=namespace,
                                                    propagation_policy="Background")
                return
            except (errors.MethodNotAllowed, errors.NotFound):
                pass  # fall back to one delete per object
        try:
            listing = await self.client.list_all(resource, namespace=namespace)
        except errors.NotFound:
            return
        for obj in listing.get("items") or ():
            if is_being_deleted(obj):
                continue
            try:
                await self.client.delete(resource, meta(obj)["name"], namespace=namespace,
                                         propagation_policy="Background")
            except errors.NotFound:
                continue

    async def _remaining(self, resources: list[Resource], namespace: str) -> dict[str, int]:
        left: dict[str, int] = {}
        for resource in resources:
            try:
                listing = await self.client.list_all(resource, namespace=namespace)
            except errors.NotFound:
                continue  # a kind that went away meanwhile (its CRD was deleted)
            if listing.get("items"):
                left[resource.qualified] = len(listing["items"])
        return left

    async def _set_remaining_condition(self, namespace: Obj, left: dict[str, int]) -> None:
        message = "Some resources are remaining: " + ", ".join(
            f"{k} has {n} resource instances" for k, n in sorted(left.items()))
        conditions = [c for c in (namespace.get("status") or {}).get("conditions") or []
                      if c.get("type") != "NamespaceContentRemaining"]
        previous = next((c for c in (namespace.get("status") or {}).get("conditions") or []
                         if c.get("type") == "NamespaceContentRemaining"), None)
        if previous and previous.get("message") == message:
            return
        conditions.append({"type": "NamespaceContentRemaining", "status": "True",
                           "reason": "SomeResourcesRemain", "message": message,
                           "lastTransitionTime": now_rfc3339()})
        updated = deep_copy(namespace)
        updated.setdefault("status", {})["conditions"] = conditions
        try:
            await self.client.update_status(NAMESPACES, updated)
        except (errors.Conflict, errors.NotFound):
            pass  # only informative; the next check writes it again

    async def _finalize(self, namespace: Obj) -> None:
        updated = deep_copy(namespace)
        spec = updated.setdefault("spec", {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or () if f != FINALIZER]
        try:
            await self.client.update_subresource(NAMESPACES, updated, "finalize")
        except errors.NotFound:
            return
        log.info("namespace emptied and finalized", extra={"namespace": meta(namespace)["name"]})
