"""The PersistentVolume binder (kube name `persistentvolume-binder`,
pkg/controller/volume/persistentvolume): binds a Pending claim to the smallest
Available volume that fits it (class, access modes, size, selector, and the node the
scheduler chose for a WaitForFirstConsumer claim), both sides written as kube does
(pv.spec.claimRef and the bound-by-controller annotation, pvc.spec.volumeName and
bind-completed, then both statuses Bound); a claim without a fitting volume whose
class names the `kyb.io/local-path` provisioner gets a volume made for it (see
local_path.py); a volume whose claim is gone is Released and, with reclaim policy
Delete, deleted (its directory too when local-path made it)."""

from __future__ import annotations

import logging
from pathlib import Path

from kybernetes.api import errors, storage
from kybernetes.api.meta import now_rfc3339
from kybernetes.api.resources import (
    NODES,
    PERSISTENT_VOLUME_CLAIMS,
    PERSISTENT_VOLUMES,
    STORAGE_CLASSES,
)
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers import local_path
from kybernetes.controllers.base import Controller, Obj, deep_copy, meta

log = logging.getLogger("kybernetes.controllers.persistent_volume")

_CLAIM, _VOLUME = "claim:", "volume:"


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _phase(obj: Obj) -> str:
    return str((obj.get("status") or {}).get("phase", ""))


def _claim_key(pvc: Obj) -> str:
    return f"{_CLAIM}{meta(pvc).get('namespace')}/{meta(pvc)['name']}"


class PersistentVolumeController(Controller):
    """Binds claims to volumes, provisions local-path volumes, reclaims released ones."""

    name = "persistentvolume-binder"
    component = "persistentvolume-controller"

    def __init__(self, client: ApiClient, informers: InformerFactory, *,
                 local_path_root: Path) -> None:
        super().__init__(client, informers)
        self.provisioner = local_path.LocalPathProvisioner(local_path_root)
        self.claims = informers.get(PERSISTENT_VOLUME_CLAIMS)
        self.volumes = informers.get(PERSISTENT_VOLUMES)
        self.classes = informers.get(STORAGE_CLASSES)
        self.nodes = informers.get(NODES)
        self.claims.add_handler(on_add=self._claim, on_update=lambda o, n: self._claim(n),
                                on_delete=self._claim_gone)
        self.volumes.add_handler(on_add=self._volume, on_update=lambda o, n: self._volume(n),
                                 on_delete=lambda pv: None)

    def _claim(self, pvc: Obj) -> None:
        self.queue.add(_claim_key(pvc))

    def _volume(self, pv: Obj) -> None:
        self.queue.add(_VOLUME + meta(pv)["name"])
        ref = _spec(pv).get("claimRef") or {}
        if ref.get("name"):
            self.queue.add(f"{_CLAIM}{ref.get('namespace')}/{ref['name']}")
        elif _phase(pv) == "Available":  # a volume free now may fit a waiting claim
            for pvc in self.claims.list():
                if not _spec(pvc).get("volumeName"):
                    self._claim(pvc)

    def _claim_gone(self, pvc: Obj) -> None:
        name = _spec(pvc).get("volumeName")
        if name:
            self.queue.add(_VOLUME + name)
        for pv in self.volumes.list():  # a volume provisioned for it but not yet bound
            if (_spec(pv).get("claimRef") or {}).get("uid") == meta(pvc).get("uid"):
                self.queue.add(_VOLUME + meta(pv)["name"])

    async def sync(self, key: str) -> None:
        if key.startswith(_CLAIM):
            await self._sync_claim(key[len(_CLAIM):])
        else:
            await self._sync_volume(key[len(_VOLUME):])

    # --- claims ------------------------------------------------------------------

    async def _sync_claim(self, key: str) -> None:
        pvc = self.claims.get(key)
        if pvc is None or meta(pvc).get("deletionTimestamp"):
            return
        name = _spec(pvc).get("volumeName")
        if not name:
            await self._bind_unbound(pvc)
            return
        pv = self.volumes.get(name)
        if pv is None:
            if _phase(pvc) == "Bound":
                await self._claim_status(pvc, "Lost", None)
                self.event(pvc, "Warning", "ClaimLost",
                           "Bound claim has lost reference to PersistentVolume. Data on the "
                           "volume is lost!")
            return
        ref = _spec(pv).get("claimRef") or {}
        if not ref:
            await self._bind(pv, pvc)
        elif ref.get("uid") == meta(pvc).get("uid") or (
                not ref.get("uid") and ref.get("name") == meta(pvc)["name"]
                and ref.get("namespace") == meta(pvc).get("namespace")):
            await self._bind(pv, pvc)
        elif _phase(pvc) != "Lost":
            self.event(pvc, "Warning", "ClaimMisbound",
                       "Two claims are bound to the same volume, this one is bound incorrectly")

    async def _bind_unbound(self, pvc: Obj) -> None:
        cls_name = storage.claim_class(pvc)
        sc = self.classes.get(cls_name) if cls_name else None
        delayed = sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer"
        selected = (meta(pvc).get("annotations") or {}).get(storage.SELECTED_NODE_ANNOTATION)
        node = self.nodes.get(selected) if selected else None
        if delayed and node is None:
            pv = storage.find_matching_volume(pvc, self._prebound_to(pvc))
            if pv is None:
                self.event(pvc, "Normal", "WaitForFirstConsumer",
                           "waiting for first consumer to be created before binding")
                return
        else:
            pv = storage.find_matching_volume(pvc, self.volumes.list(), node)
        if pv is not None:
            await self._bind(pv, pvc)
            return
        if not cls_name:
            self.event(pvc, "Normal", "FailedBinding",
                       "no persistent volumes available for this claim and no storage class "
                       "is set")
            return
        if sc is None:
            self.event(pvc, "Warning", "ProvisioningFailed",
                       f'storageclass.storage.k8s.io "{cls_name}" not found')
            return
        if sc.get("provisioner") != local_path.PROVISIONER:
            self.event(pvc, "Normal", "ExternalProvisioning",
                       "Waiting for a volume to be created either by the external provisioner "
                       f"'{sc.get('provisioner')}' or manually by the system administrator. "
                       "If volume creation is delayed, please verify that the provisioner is "
                       "running and correctly registered.")
            return
        if node is None:
            self.event(pvc, "Warning", "ProvisioningFailed",
                       f"storage class {cls_name!r}: {local_path.PROVISIONER} needs the node "
                       "of the claim's first consumer (volumeBindingMode WaitForFirstConsumer)")
            return
        await self._provision(pvc, sc, node)

    def _prebound_to(self, pvc: Obj) -> list[Obj]:
        return [pv for pv in self.volumes.list()
                if (_spec(pv).get("claimRef") or {}).get("name") == meta(pvc)["name"]]

    async def _provision(self, pvc: Obj, sc: Obj, node: Obj) -> None:
        pv = self.provisioner.volume_for(pvc, sc, node)
        self.event(pvc, "Normal", "Provisioning",
                   f'External provisioner is provisioning volume for claim '
                   f'"{meta(pvc).get("namespace")}/{meta(pvc)["name"]}"')
        try:
            await self.client.create(PERSISTENT_VOLUMES, pv)
        except errors.AlreadyExists:
            return
        except errors.ApiError as e:
            self.event(pvc, "Warning", "ProvisioningFailed", str(e))
            return
        self.event(pvc, "Normal", "ProvisioningSucceeded",
                   f"Successfully provisioned volume {pv['metadata']['name']}")

    async def _bind(self, pv: Obj, pvc: Obj) -> None:
        """bind(): the volume's claimRef, its status, the claim's volumeName, its status."""
        pvc_meta = meta(pvc)
        ref = {"kind": "PersistentVolumeClaim", "apiVersion": "v1",
               "namespace": pvc_meta.get("namespace"), "name": pvc_meta["name"],
               "uid": pvc_meta.get("uid"), "resourceVersion": pvc_meta.get("resourceVersion")}
        try:
            current = _spec(pv).get("claimRef") or {}
            if current.get("uid") != ref["uid"]:
                pv = deep_copy(pv)
                if not current:
                    pv["metadata"].setdefault("annotations", {})[
                        storage.BOUND_BY_CONTROLLER] = "yes"
                pv["spec"]["claimRef"] = ref
                pv = await self.client.update(PERSISTENT_VOLUMES, pv)
            if _phase(pv) != "Bound":
                pv = deep_copy(pv)
                pv["status"] = {**(pv.get("status") or {}), "phase": "Bound",
                                "lastPhaseTransitionTime": now_rfc3339()}
                pv = await self.client.update_status(PERSISTENT_VOLUMES, pv)
            annotations = pvc_meta.get("annotations") or {}
            if _spec(pvc).get("volumeName") != meta(pv)["name"] or \
                    annotations.get(storage.BIND_COMPLETED) != "yes":
                fresh = deep_copy(pvc)
                ann = fresh["metadata"].setdefault("annotations", {})
                if _spec(pvc).get("volumeName") != meta(pv)["name"]:
                    ann[storage.BOUND_BY_CONTROLLER] = "yes"
                ann[storage.BIND_COMPLETED] = "yes"
                fresh["spec"]["volumeName"] = meta(pv)["name"]
                pvc = await self.client.update(PERSISTENT_VOLUME_CLAIMS, fresh)
            await self._claim_status(pvc, "Bound", pv)
        except (errors.Conflict, errors.NotFound):
            self.queue.add_after(_claim_key(pvc), 0.2)

    async def _claim_status(self, pvc: Obj, phase: str, pv: Obj | None) -> None:
        status = dict(pvc.get("status") or {})
        want = {**status, "phase": phase}
        if pv is not None:
            want["accessModes"] = _spec(pv).get("accessModes")
            want["capacity"] = _spec(pv).get("capacity")
        if want == status:
            return
        fresh = deep_copy(pvc)
        fresh["status"] = want
        await self.client.update_status(PERSISTENT_VOLUME_CLAIMS, fresh)

    # --- volumes -----------------------------------------------------------------

    async def _sync_volume(self, name: str) -> None:
        pv = self.volumes.get(name)
        if pv is None:  # one being deleted is still released and reclaimed, as in kube:
            return      # pv-protection lets it go once it is no longer Bound
        ref = _spec(pv).get("claimRef") or {}
        if not ref:
            if _phase(pv) not in ("Available", "Failed"):
                await self._volume_phase(pv, "Available")
            return
        pvc = self.claims.get(f"{ref.get('namespace')}/{ref.get('name')}")
        if pvc is None and ref.get("uid"):  # the cache may lag: ask before releasing
            try:
                pvc = await self.client.get(PERSISTENT_VOLUME_CLAIMS, ref.get("name", ""),
                                            namespace=ref.get("namespace"))
            except errors.NotFound:
                pvc = None
        if pvc is not None and (not ref.get("uid") or meta(pvc).get("uid") == ref.get("uid")):
            if not ref.get("uid") and _phase(pv) not in ("Available", "Bound"):
                await self._volume_phase(pv, "Available")  # pre-bound by its admin
            return
        if not ref.get("uid"):  # pre-bound to a claim that does not exist yet
            if _phase(pv) != "Available":
                await self._volume_phase(pv, "Available")
            return
        await self._reclaim(pv)

    async def _reclaim(self, pv: Obj) -> None:
        """The claim is gone: Released, then the reclaim policy."""
        if _phase(pv) not in ("Released", "Failed"):
            pv = await self._volume_phase(pv, "Released")
        policy = _spec(pv).get("persistentVolumeReclaimPolicy", "Retain")
        if policy == "Delete":
            try:
                await self.provisioner.delete(pv)
            except OSError as e:
                self.event(pv, "Warning", "VolumeFailedDelete", str(e))
                await self._volume_phase(pv, "Failed")
                return
            try:
                await self.client.delete(PERSISTENT_VOLUMES, meta(pv)["name"],
                                         preconditions={"uid": meta(pv).get("uid")})
            except (errors.NotFound, errors.Conflict):
                return
            log.info("deleted a released volume", extra={"pv": meta(pv)["name"]})
        elif policy == "Recycle":
            self.event(pv, "Warning", "VolumeFailedRecycle",
                       "Recycle is deprecated and not supported by kybernetes")

    async def _volume_phase(self, pv: Obj, phase: str) -> Obj:
        fresh = deep_copy(pv)
        fresh["status"] = {**(pv.get("status") or {}), "phase": phase,
                           "lastPhaseTransitionTime": now_rfc3339()}
        try:
            return await self.client.update_status(PERSISTENT_VOLUMES, fresh)
        except (errors.Conflict, errors.NotFound):
            self.queue.add_after(_VOLUME + meta(pv)["name"], 0.2)
            return pv
