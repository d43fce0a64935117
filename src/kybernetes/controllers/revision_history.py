"""Keeping a workload's ControllerRevisions, as Kubernetes' daemon and statefulset
controllers do on every sync.

The revision holding the workload's current template is found (orphans matching
the selector adopted, as pods are) or created, and always given the highest
revision number, so `kubectl rollout undo` to an old template makes that old
revision current again; duplicates are removed (the newest kept). A hash
collision (a revision of that name holding another template) bumps the owner's
`status.collisionCount` and fails the sync, so the next hash differs. Old
revisions beyond `revisionHistoryLimit` that nothing uses are deleted, oldest first.
"""

from __future__ import annotations

from collections.abc import Callable

from kybernetes.api import errors
from kybernetes.api.labels import Selector
from kybernetes.api.meta import controller_ref
from kybernetes.api.resources import CONTROLLER_REVISIONS, Resource
from kybernetes.client import ApiClient, Informer
from kybernetes.controllers import controller_history as history
from kybernetes.controllers.adoption import Claimer
from kybernetes.controllers.base import Obj, deep_copy, meta


def _number(revision: Obj) -> int:
    return int(revision.get("revision") or 0)


class RevisionHistory:
    """The ControllerRevisions of one kind of owner (DaemonSets or StatefulSets)."""

    def __init__(self, client: ApiClient, revisions: Informer, owner_resource: Resource,
                 hash_label: str = history.HASH_LABEL) -> None:
        self.client = client
        self.revisions = revisions
        self.owner_resource = owner_resource
        self.hash_label = hash_label

    async def construct(self, owner: Obj, selector: Selector) -> tuple[Obj, list[Obj]]:
        """The owner's current revision (created or renumbered as needed) and the others."""
        owned = await Claimer(self.client, owner_resource=self.owner_resource, owner=owner,
                              selector=selector, resource=CONTROLLER_REVISIONS).claim(
            self.revisions.list(meta(owner)["namespace"]))
        current = [r for r in owned if history.matches(owner, r)]
        old = [r for r in owned if not history.matches(owner, r)]
        number = max((_number(r) for r in old), default=0) + 1
        if not current:
            return await self._snapshot(owner, number), old
        current.sort(key=_number, reverse=True)
        cur = current[0]
        for duplicate in current[1:]:  # dedupCurHistories: keep the newest
            await self.delete(duplicate)
        if _number(cur) < number:
            cur = deep_copy(cur)
            cur["revision"] = number
            cur = await self.client.update(CONTROLLER_REVISIONS, cur)
        return cur, old

    async def _snapshot(self, owner: Obj, number: int) -> Obj:
        revision = history.new_revision(owner, number, self.hash_label)
        try:
            return await self.client.create(CONTROLLER_REVISIONS, revision)
        except errors.AlreadyExists:
            pass
        existing = await self.client.get(CONTROLLER_REVISIONS, meta(revision)["name"],
                                         namespace=meta(owner)["namespace"])
        if (controller_ref(existing) or {}).get("uid") == meta(owner).get("uid") \
                and history.matches(owner, existing):
            return existing
        status = dict(owner.get("status") or {})
        status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
        updated = deep_copy(owner)
        updated["status"] = status
        await self.client.update_status(self.owner_resource, updated)
        raise errors.Conflict(f"found a hash collision for {owner.get('kind', 'owner')} "
                              f"{meta(owner)['name']!r} - bumping collisionCount to resolve it")

    async def delete(self, revision: Obj) -> None:
        try:
            await self.client.delete(CONTROLLER_REVISIONS, meta(revision)["name"],
                                     namespace=meta(revision).get("namespace"))
        except errors.NotFound:
            pass

    async def truncate(self, owner: Obj, old: list[Obj], in_use: Callable[[Obj], bool]) -> None:
        """Delete the oldest unused revisions beyond the owner's revisionHistoryLimit."""
        limit = int((owner.get("spec") or {}).get("revisionHistoryLimit", 10) or 0)
        if len(old) <= limit:
            return
        unused = sorted((r for r in old if not in_use(r)), key=_number)
        for revision in unused[:len(old) - limit]:
            await self.delete(revision)
