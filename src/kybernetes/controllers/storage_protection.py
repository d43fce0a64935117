"""Storage object in-use protection (kube names `pvc-protection` and `pv-protection`,
pkg/controller/volume/{pvcprotection,pvprotection}): a claim a pod still uses, and a
volume still bound to a claim, are not removed when deleted, only marked.

The StorageObjectInUseProtection admission plugin gives every new claim the
finalizer `kubernetes.io/pvc-protection` and every new volume
`kubernetes.io/pv-protection`; these controllers add it to any that lack it, and
take it off an object being deleted once nothing uses it, which lets the deletion
finish:
  * a claim is in use while a pod scheduled to a node (spec.nodeName set) names it
    in a persistentVolumeClaim volume, whatever the pod's phase, as Kubernetes
    decides. The pod cache is asked first; if it knows no user, the namespace's pods
    are listed from the API server, so a pod the cache has not seen yet still counts;
  * a volume is in use while its status.phase is Bound.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from kybernetes.api import errors
from kybernetes.api.meta import is_being_deleted
from kybernetes.api.resources import PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES, PODS, Resource
from kybernetes.api.storage import PV_PROTECTION_FINALIZER, PVC_PROTECTION_FINALIZER
from kybernetes.client import ApiClient, Informer, InformerFactory
from kybernetes.controllers.base import Controller, Obj, deep_copy, meta

log = logging.getLogger("kybernetes.controllers.storage_protection")

_CLAIMS_INDEX = "claims"


def _has(obj: Obj, finalizer: str) -> bool:
    return finalizer in (meta(obj).get("finalizers") or ())


def needs_finalizer(obj: Obj, finalizer: str) -> bool:
    """protectionutil.NeedToAddFinalizer: not being deleted and not protected yet."""
    return not is_being_deleted(obj) and not _has(obj, finalizer)


def deletion_candidate(obj: Obj, finalizer: str) -> bool:
    """protectionutil.IsDeletionCandidate: being deleted and still held by `finalizer`."""
    return is_being_deleted(obj) and _has(obj, finalizer)


def claims_of(pod: Obj) -> list[str]:
    """`namespace/claim` of every persistentVolumeClaim volume of the pod."""
    namespace = meta(pod).get("namespace", "default")
    return [f"{namespace}/{source['claimName']}"
            for v in (pod.get("spec") or {}).get("volumes") or ()
            if isinstance(source := v.get("persistentVolumeClaim"), dict)
            and source.get("claimName")]


def pod_uses_claim(pod: Obj, claim: str) -> bool:
    """A scheduled pod naming the claim (a kubelet never starts a pod on a claim being
    deleted, so an unscheduled one does not hold it)."""
    return bool((pod.get("spec") or {}).get("nodeName")) and any(
        key.split("/", 1)[1] == claim for key in claims_of(pod))


class _Protection(Controller):
    """Adds `finalizer` to objects of `resource` that lack it and removes it from those
    being deleted once `in_use` says nothing holds them."""

    resource: ClassVar[Resource]
    finalizer: ClassVar[str]

    def __init__(self, client: ApiClient, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.objects = informers.get(self.resource)
        self.objects.add_handler(on_add=self._seen, on_update=lambda _old, new: self._seen(new))

    def _seen(self, obj: Obj) -> None:
        if needs_finalizer(obj, self.finalizer) or deletion_candidate(obj, self.finalizer):
            self.enqueue(obj)

    async def in_use(self, obj: Obj) -> bool:
        raise NotImplementedError

    async def sync(self, key: str) -> None:
        obj = self.objects.get(key)
        if obj is None:
            return
        if deletion_candidate(obj, self.finalizer):
            if await self.in_use(obj):
                log.debug("kept: still in use", extra={"object": key})
                return
            await self._write(obj, [f for f in meta(obj).get("finalizers") or ()
                                    if f != self.finalizer])
        elif needs_finalizer(obj, self.finalizer):
            await self._write(obj, [*(meta(obj).get("finalizers") or ()), self.finalizer])

    async def _write(self, obj: Obj, finalizers: list[str]) -> None:
        """An update of the cached object (a stale one gets 409 and is tried again)."""
        changed = deep_copy(obj)
        changed["metadata"]["finalizers"] = finalizers
        try:
            await self.client.update(self.resource, changed)
        except errors.NotFound:
            return


class PvcProtectionController(_Protection):
    name = "pvc-protection"
    component = "pvc-protection-controller"
    resource = PERSISTENT_VOLUME_CLAIMS
    finalizer = PVC_PROTECTION_FINALIZER

    def __init__(self, client: ApiClient, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.pods: Informer = informers.get(PODS)
        self.pods.add_index(_CLAIMS_INDEX, claims_of)
        self.pods.add_handler(on_add=self._pod_changed,
                              on_update=self._pod_replaced,
                              on_delete=lambda pod: self._pod_changed(pod, gone=True))

    def _pod_changed(self, pod: Obj, *, gone: bool = False) -> None:
        """A pod that can free a claim (gone, or not holding any) has its claims looked
        at again; only claims being deleted have anything to do."""
        if not gone and (pod.get("spec") or {}).get("nodeName"):
            return
        for key in claims_of(pod):
            claim = self.objects.get(key)
            if claim is not None and deletion_candidate(claim, self.finalizer):
                self.queue.add(key)

    def _pod_replaced(self, old: Obj, new: Obj) -> None:
        if meta(old).get("uid") != meta(new).get("uid"):  # a new pod of the same name
            self._pod_changed(old, gone=True)
        self._pod_changed(new)

    async def in_use(self, claim: Obj) -> bool:
        namespace, name = meta(claim).get("namespace", "default"), meta(claim)["name"]
        key = f"{namespace}/{name}"
        if any(pod_uses_claim(p, name) for p in self.pods.by_index(_CLAIMS_INDEX, key)):
            return True
        listed = await self.client.list(PODS, namespace=namespace)
        return any(pod_uses_claim(p, name) for p in listed.get("items") or ())


class PvProtectionController(_Protection):
    name = "pv-protection"
    component = "pv-protection-controller"
    resource = PERSISTENT_VOLUMES
    finalizer = PV_PROTECTION_FINALIZER

    async def in_use(self, volume: Obj) -> bool:
        return (volume.get("status") or {}).get("phase") == "Bound"
