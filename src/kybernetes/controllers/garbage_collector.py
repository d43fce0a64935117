"""The garbage collector: objects whose owners are gone go too.

Owners and dependents are tied by `metadata.ownerReferences` (by uid). The
collector watches every resource that can own or be owned (shared informers,
each indexed by uid and by owner uid, which together are Kubernetes' GC
dependency graph) and handles the three propagation policies a delete can ask
for:

- **Background** (the default): the API server deletes the owner at once; its
  DELETED event queues its dependents, each of which finds its owner gone and
  is deleted (its own dependents follow the same way).
- **Foreground**: the API server keeps the owner, with deletionTimestamp and the
  `foregroundDeletion` finalizer. The collector deletes its dependents; once no
  dependent with `blockOwnerDeletion: true` is left it removes the finalizer,
  and the API server deletes the owner.
- **Orphan**: the owner carries the `orphan` finalizer. The collector removes
  the owner's reference from each dependent, then the finalizer.

An owner is *solid* (exists, same uid, not being deleted in foreground),
*waiting* (being deleted in foreground) or *dangling* (absent, or the name now
has another uid). A missing owner is confirmed with a live read before anything
is deleted, since the cache may simply be behind; confirmed-absent uids are
remembered. A dependent with any solid owner is never deleted: references to
its dangling or waiting owners are removed instead. Deletes carry a uid
precondition, so a recreated object of the same name is never hit.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

from kybernetes.api import errors
from kybernetes.api.meta import is_being_deleted, object_key
from kybernetes.api.resources import ALL, BINDINGS, EVENTS, Resource, by_kind
from kybernetes.client import ApiClient, Informer, InformerFactory
from kybernetes.client.discovery import served_resources
from kybernetes.controllers.base import Controller, Obj, meta
from kybernetes.tasks import cancel_and_wait, spawn

log = logging.getLogger("kybernetes.controllers.garbage_collector")

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
ABSENT_CACHE_SIZE = 4096
FOREGROUND_RECHECK = 2.0
DISCOVERY_PERIOD = 5.0  # how often new kinds (CRDs) are looked for
UNKNOWN_OWNER_RECHECK = 1.0  # retry a dependent whose owner's kind is not followed yet
_NOT_COLLECTED = frozenset({EVENTS.qualified, BINDINGS.qualified, "events.events.k8s.io"})


def _refs(obj: Obj) -> list[Obj]:
    return list(meta(obj).get("ownerReferences") or [])


def _finalizers(obj: Obj) -> list[str]:
    return list(meta(obj).get("finalizers") or [])


def _uid_index(obj: Obj) -> list[str]:
    uid = meta(obj).get("uid")
    return [uid] if uid else []


def _owner_index(obj: Obj) -> list[str]:
    return [r["uid"] for r in _refs(obj) if r.get("uid")]


def collectable(resource: Resource) -> bool:
    """Can own or be owned: listable, watchable, deletable (events and bindings aside)."""
    return resource.qualified not in _NOT_COLLECTED and \
        {"list", "watch", "delete"} <= set(resource.verbs)


def collected_resources() -> list[Resource]:
    """The built-in kinds the collector always follows (others come from discovery)."""
    return [r for r in ALL if collectable(r)]


class GarbageCollector(Controller):
    """Deletes dependents of deleted owners; runs foreground and orphan deletion."""

    name = "garbagecollector"
    component = "garbage-collector-controller"
    default_workers = 4

    def __init__(self, client: ApiClient, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self._absent: OrderedDict[str, None] = OrderedDict()
        self.watched: dict[str, tuple[Resource, Informer]] = {}
        self._builtin = {r.qualified for r in collected_resources()}
        for resource in collected_resources():
            self._watch(resource)

    def _watch(self, resource: Resource) -> Informer:
        informer = self.informers.get(resource)
        informer.add_index("uid", _uid_index)
        informer.add_index("ownerUID", _owner_index)
        self._follow(resource, informer)
        self.watched[resource.qualified] = (resource, informer)
        return informer

    async def run(self, workers: int | None = None) -> None:
        """The workers, and a loop that follows the kinds the server serves."""
        follower = spawn(self._follow_discovery(), name="gc-discovery")
        try:
            await super().run(workers)
        finally:
            await cancel_and_wait(follower)

    async def _follow_discovery(self) -> None:
        """Watch every collectable kind the server serves now (custom resources come and
        go with their CRDs), as kube's collector re-syncs its monitors with discovery."""
        while True:
            try:
                served = {r.qualified: r for r in await served_resources(self.client)
                          if collectable(r)}
            except errors.ApiError as e:
                log.debug("discovery failed", extra={"error": repr(e)})
            else:
                for qualified, resource in served.items():
                    if qualified not in self.watched:
                        log.info("following a new kind", extra={"resource": qualified})
                        await self._watch(resource).start()
                for qualified in [q for q in self.watched
                                  if q not in served and q not in self._builtin]:
                    resource, _ = self.watched.pop(qualified)
                    await self.informers.discard(resource)
            await asyncio.sleep(DISCOVERY_PERIOD)

    def _follow(self, resource: Resource, informer: Informer) -> None:
        """Handlers that know which resource their object is of."""
        def added(obj: Obj) -> None:
            self._changed(resource, obj)

        def updated(old: Obj, new: Obj) -> None:
            self._changed(resource, new, old)

        def deleted(obj: Obj) -> None:
            self._deleted(resource, obj)
        informer.add_handler(on_add=added, on_update=updated, on_delete=deleted)

    # -- keys and lookups -------------------------------------------------------------

    @staticmethod
    def key_for(resource: Resource, obj: Obj) -> str:
        return f"{resource.qualified}|{object_key(obj)}"

    def _lookup(self, key: str) -> tuple[Resource, Obj | None]:
        qualified, _, okey = key.partition("|")
        resource, informer = self.watched[qualified]
        return resource, informer.get(okey)

    def _by_uid(self, uid: str) -> tuple[Resource, Obj] | None:
        for resource, informer in self.watched.values():
            found = informer.by_index("uid", uid)
            if found:
                return resource, found[0]
        return None

    def _resource_of_kind(self, api_version: str, kind: str) -> Resource | None:
        for resource, _ in self.watched.values():
            if (resource.api_version, resource.kind) == (api_version, kind):
                return resource
        return by_kind(api_version, kind)

    def _observing(self, resource: Resource) -> bool:
        watched = self.watched.get(resource.qualified)
        return watched is None or watched[1].synced

    def _dependents(self, uid: str) -> list[tuple[Resource, Obj]]:
        return [(resource, obj) for resource, informer in self.watched.values()
                for obj in informer.by_index("ownerUID", uid)]

    # -- handlers: only enqueue ---------------------------------------------------------

    def _changed(self, resource: Resource, obj: Obj, old: Obj | None = None) -> None:
        if old is not None and meta(old).get("resourceVersion") == meta(obj).get(
                "resourceVersion"):
            return
        doomed = is_being_deleted(obj) and {FOREGROUND, ORPHAN} & set(_finalizers(obj))
        if doomed or (_refs(obj) and (old is None or _refs(old) != _refs(obj))):
            self.queue.add(self.key_for(resource, obj))
        self._poke_waiting_owners(obj)

    def _deleted(self, resource: Resource, obj: Obj) -> None:
        uid = meta(obj).get("uid")
        if uid:
            self._remember_absent(uid)
            for dep_resource, dependent in self._dependents(uid):
                self.queue.add(self.key_for(dep_resource, dependent))
        self._poke_waiting_owners(obj)

    def _poke_waiting_owners(self, obj: Obj) -> None:
        """A dependent changed: an owner deleting in foreground may be unblocked."""
        for ref in _refs(obj):
            found = self._by_uid(ref.get("uid", ""))
            if found and is_being_deleted(found[1]) and FOREGROUND in _finalizers(found[1]):
                self.queue.add(self.key_for(*found))

    def _remember_absent(self, uid: str) -> None:
        self._absent[uid] = None
        self._absent.move_to_end(uid)
        while len(self._absent) > ABSENT_CACHE_SIZE:
            self._absent.popitem(last=False)

    # -- sync -------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        resource, obj = self._lookup(key)
        if obj is None:
            return
        finalizers = _finalizers(obj)
        if is_being_deleted(obj) and ORPHAN in finalizers:
            await self._orphan_dependents(obj)
            await self._remove_finalizer(resource, obj, ORPHAN)
        elif is_being_deleted(obj) and FOREGROUND in finalizers:
            await self._delete_dependents_first(resource, obj)
        elif not is_being_deleted(obj) and _refs(obj):
            await self._check_owners(resource, obj)

    async def _owner_state(self, obj: Obj, ref: Obj) -> str:
        """'solid', 'waiting' (foreground deletion), 'dangling' or 'unknown' (a kind
        discovery has not shown us yet) for one reference."""
        uid = ref.get("uid", "")
        owner_resource = self._resource_of_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
        if owner_resource is None or not self._observing(owner_resource):
            # Never assume it is gone; look again once discovery knows the kind and its
            # informer has listed (an owner made and deleted before that list leaves no
            # event behind, so a live read saying "solid" now would never be revisited).
            return "unknown"
        found = self._by_uid(uid)
        owner = found[1] if found else None
        if owner is None:
            if uid in self._absent:
                return "dangling"
            namespace = meta(obj).get("namespace") if owner_resource.namespaced else None
            try:
                owner = await self.client.get(owner_resource, ref.get("name", ""),
                                              namespace=namespace)
            except errors.NotFound:
                owner = None
            if owner is None or meta(owner).get("uid") != uid:
                self._remember_absent(uid)
                return "dangling"
        if is_being_deleted(owner) and FOREGROUND in _finalizers(owner):
            return "waiting"
        return "solid"

    async def _check_owners(self, resource: Resource, obj: Obj) -> None:
        states = {r.get("uid"): await self._owner_state(obj, r) for r in _refs(obj)}
        if "unknown" in states.values() and "solid" not in states.values():
            # The owner's kind is not known or not listed yet (a CRD just made, or
            # never): its owner may be gone with no event left for us to see, so look
            # again later.
            self.queue.add_after(self.key_for(resource, obj), UNKNOWN_OWNER_RECHECK)
            return
        if "solid" in states.values():
            gone = {uid for uid, s in states.items() if s not in ("solid", "unknown")}
            if gone:
                await self._set_refs(resource, obj, [r for r in _refs(obj)
                                                     if r.get("uid") not in gone])
            return
        uid = meta(obj).get("uid", "")
        if "waiting" in states.values() and self._dependents(uid):
            policy = "Foreground"  # it blocks a foreground owner: its dependents go first
        elif ORPHAN in _finalizers(obj):
            policy = "Orphan"
        elif FOREGROUND in _finalizers(obj):
            policy = "Foreground"
        else:
            policy = "Background"
        log.info("deleting object whose owners are gone", extra={
            "object": self.key_for(resource, obj), "propagation": policy})
        try:
            await self.client.delete(resource, meta(obj)["name"],
                                     namespace=meta(obj).get("namespace"),
                                     propagation_policy=policy, preconditions={"uid": uid})
        except (errors.NotFound, errors.Conflict):
            return  # already gone, or a new object of the same name

    async def _delete_dependents_first(self, resource: Resource, owner: Obj) -> None:
        uid = meta(owner).get("uid", "")
        blocking = 0
        for dep_resource, dependent in self._dependents(uid):
            if not is_being_deleted(dependent):
                self.queue.add(self.key_for(dep_resource, dependent))
            if any(r.get("uid") == uid and r.get("blockOwnerDeletion") for r in
                   _refs(dependent)):
                blocking += 1
        if blocking:
            self.queue.add_after(self.key_for(resource, owner), FOREGROUND_RECHECK)
            return
        await self._remove_finalizer(resource, owner, FOREGROUND)

    async def _orphan_dependents(self, owner: Obj) -> None:
        uid = meta(owner).get("uid")
        for dep_resource, dependent in self._dependents(uid or ""):
            await self._set_refs(dep_resource, dependent,
                                 [r for r in _refs(dependent) if r.get("uid") != uid])

    async def _set_refs(self, resource: Resource, obj: Obj, refs: list[Obj]) -> None:
        await self._patch_meta(resource, obj, {"ownerReferences": refs or None})

    async def _remove_finalizer(self, resource: Resource, obj: Obj, finalizer: str) -> None:
        remaining = [f for f in _finalizers(obj) if f != finalizer]
        await self._patch_meta(resource, obj, {"finalizers": remaining or None})

    async def _patch_meta(self, resource: Resource, obj: Obj, changes: dict[str, Any]) -> None:
        body = {"metadata": {**changes, "resourceVersion": meta(obj).get("resourceVersion")}}
        try:
            await self.client.patch(resource, meta(obj)["name"], body,
                                    namespace=meta(obj).get("namespace"))
        except errors.NotFound:
            return
