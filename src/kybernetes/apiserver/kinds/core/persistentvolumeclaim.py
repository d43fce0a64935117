"""PersistentVolumeClaims: a namespace's request for storage, bound to one PV."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from kybernetes.api import resources as r
from kybernetes.api import storage
from kybernetes.api.field_errors import as_dict
from kybernetes.apiserver.kinds.definition import KindDefinition, TableSpec, builtin_schema
from kybernetes.apiserver.kinds.strategy import StatusStrategy
from kybernetes.apiserver.tables import AGE, NAME, since

Obj = dict[str, Any]
_S = "string"


def _print(pvc: Obj, now: _dt.datetime) -> list[Any]:
    """printPersistentVolumeClaim: capacity and modes from status once a volume is named."""
    meta, spec = as_dict(pvc.get("metadata")), as_dict(pvc.get("spec"))
    status = as_dict(pvc.get("status"))
    phase = "Terminating" if meta.get("deletionTimestamp") else status.get("phase", "")
    capacity = modes = ""
    if spec.get("volumeName"):
        modes = storage.access_modes_text(status.get("accessModes"))
        capacity = str(as_dict(status.get("capacity")).get("storage", ""))
    return [meta.get("name", ""), phase, spec.get("volumeName", ""), capacity, modes,
            storage.claim_class(pvc), spec.get("volumeAttributesClassName") or "<unset>",
            since(meta.get("creationTimestamp"), now), spec.get("volumeMode") or "<unset>"]


DEFINITION = KindDefinition(
    resource=r.PERSISTENT_VOLUME_CLAIMS,
    schema=builtin_schema("io.k8s.api.core.v1.PersistentVolumeClaim"),
    openapi_name="io.k8s.api.core.v1.PersistentVolumeClaim",
    defaults=storage.pvc_defaults,
    validate=storage.validate_pvc,
    strategy=StatusStrategy({"phase": "Pending"}),
    table=TableSpec((NAME, ("Status", _S, 0), ("Volume", _S, 0), ("Capacity", _S, 0),
                     ("Access Modes", _S, 0), ("StorageClass", _S, 0),
                     ("VolumeAttributesClass", _S, 0), AGE, ("VolumeMode", _S, 1)), _print),
    field_selectors={},
)
