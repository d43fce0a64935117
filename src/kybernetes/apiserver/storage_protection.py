"""The StorageObjectInUseProtection admission plugin (plugin/pkg/admission/storage/
storageobjectinuseprotection), on by default: every new PersistentVolumeClaim gets the
finalizer `kubernetes.io/pvc-protection` and every new PersistentVolume
`kubernetes.io/pv-protection`, so that deleting one a pod still uses (or a claim is
still bound to) only marks it; the controller manager's pvc-protection and
pv-protection controllers take the finalizer off once it is free."""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import resources as r
from kybernetes.api.storage import PV_PROTECTION_FINALIZER, PVC_PROTECTION_FINALIZER
from kybernetes.apiserver.webhooks.attributes import CREATE, AdmissionAttributes

NAME = "StorageObjectInUseProtection"
Obj = dict[str, Any]
_FINALIZERS = {r.PERSISTENT_VOLUME_CLAIMS.plural: PVC_PROTECTION_FINALIZER,
               r.PERSISTENT_VOLUMES.plural: PV_PROTECTION_FINALIZER}


class StorageObjectInUseProtection:
    async def mutate(self, attrs: AdmissionAttributes) -> tuple[Obj | None, list[str]]:
        finalizer = _FINALIZERS.get(attrs.resource)
        obj = attrs.object
        if (finalizer is None or attrs.operation != CREATE or attrs.subresource
                or attrs.group != "" or not isinstance(obj, dict)):
            return None, []
        finalizers = (obj.get("metadata") or {}).get("finalizers") or []
        if finalizer in finalizers:
            return None, []
        obj = copy.deepcopy(obj)
        obj.setdefault("metadata", {})["finalizers"] = [*finalizers, finalizer]
        return obj, []
