"""Claiming dependents by selector, as Kubernetes' ControllerRefManager.

A controller that selects its dependents by labels (a ReplicationController
or ReplicaSet its pods, a Deployment its ReplicaSets) *claims* them on every
sync:

- a dependent it controls whose labels still match is kept;
- one it controls whose labels stopped matching is *released* (its
  ownerReference removed), unless the owner is being deleted;
- a matching orphan (no controller) is *adopted* (a controller
  ownerReference added), but only after a live read proves the owner still
  exists with the same uid and is not being deleted, so a stale cache never
  makes a dying owner grab pods;
- dependents controlled by someone else are left alone.

Writes are merge patches of `metadata.ownerReferences` carrying the
resourceVersion that was read: a concurrent change fails them (409) and the
sync is retried.
"""

from __future__ import annotations

from kybernetes.api import errors
from kybernetes.api.labels import Selector
from kybernetes.api.meta import controller_ref, is_being_deleted, owner_reference
from kybernetes.api.resources import Resource
from kybernetes.client import ApiClient
from kybernetes.controllers.base import Obj, meta


class Claimer:
    """Claims dependents of one resource for one owner."""

    def __init__(self, client: ApiClient, *, owner_resource: Resource, owner: Obj,
                 selector: Selector, resource: Resource) -> None:
        self.client = client
        self.owner_resource = owner_resource
        self.owner = owner
        self.selector = selector
        self.resource = resource
        self._can_adopt: bool | None = None

    async def claim(self, candidates: list[Obj]) -> list[Obj]:
        """The candidates this owner controls after adopting and releasing."""
        uid = meta(self.owner).get("uid")
        dying = is_being_deleted(self.owner)
        mine: list[Obj] = []
        for obj in candidates:
            ref = controller_ref(obj)
            matches = self.selector.matches(meta(obj).get("labels"))
            if ref is not None:
                if ref.get("uid") != uid:
                    continue
                if matches:
                    mine.append(obj)
                elif not dying:
                    await self.set_refs(obj, [r for r in self._refs(obj) if r.get("uid") != uid])
                continue
            if matches and not dying and not is_being_deleted(obj) and await self._adoptable():
                adopted = await self.set_refs(obj, [*self._refs(obj),
                                                    owner_reference(self.owner)])
                if adopted is not None:
                    mine.append(adopted)
        return mine

    @staticmethod
    def _refs(obj: Obj) -> list[Obj]:
        return list(meta(obj).get("ownerReferences") or [])

    async def _adoptable(self) -> bool:
        if self._can_adopt is None:
            try:
                fresh = await self.client.get(self.owner_resource, meta(self.owner)["name"],
                                              namespace=meta(self.owner).get("namespace"))
            except errors.NotFound:
                self._can_adopt = False
            else:
                self._can_adopt = meta(fresh).get("uid") == meta(self.owner).get("uid") \
                    and not is_being_deleted(fresh)
        return self._can_adopt

    async def set_refs(self, obj: Obj, refs: list[Obj]) -> Obj | None:
        """Replace `obj`'s ownerReferences (None when it is gone)."""
        body = {"metadata": {"ownerReferences": refs or None,
                             "resourceVersion": meta(obj).get("resourceVersion")}}
        try:
            return await self.client.patch(self.resource, meta(obj)["name"], body,
                                           namespace=meta(obj).get("namespace"))
        except errors.NotFound:
            return None
