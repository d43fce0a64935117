"""PersistentVolumes: cluster-scoped storage, bound to one claim by the binder."""

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


def _print(pv: Obj, now: _dt.datetime) -> list[Any]:
    """printPersistentVolume."""
    meta, spec = as_dict(pv.get("metadata")), as_dict(pv.get("spec"))
    status = as_dict(pv.get("status"))
    ref = as_dict(spec.get("claimRef"))
    claim = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else ""
    phase = "Terminating" if meta.get("deletionTimestamp") else status.get("phase", "")
    return [meta.get("name", ""), str(as_dict(spec.get("capacity")).get("storage", "")),
            storage.access_modes_text(spec.get("accessModes")),
            spec.get("persistentVolumeReclaimPolicy", ""), phase, claim,
            storage.pv_class(pv), spec.get("volumeAttributesClassName") or "<unset>",
            status.get("reason", ""), since(meta.get("creationTimestamp"), now),
            spec.get("volumeMode") or "<unset>"]


class _Strategy(StatusStrategy):
    """PrepareForCreate: status is phase Pending with its transition time."""

    def prepare_for_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Pending", "lastPhaseTransitionTime": _dt.datetime.now(
            _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


DEFINITION = KindDefinition(
    resource=r.PERSISTENT_VOLUMES,
    schema=builtin_schema("io.k8s.api.core.v1.PersistentVolume"),
    openapi_name="io.k8s.api.core.v1.PersistentVolume",
    defaults=storage.pv_defaults,
    validate=storage.validate_pv,
    strategy=_Strategy({"phase": "Pending"}),
    table=TableSpec((NAME, ("Capacity", _S, 0), ("Access Modes", _S, 0),
                     ("Reclaim Policy", _S, 0), ("Status", _S, 0), ("Claim", _S, 0),
                     ("StorageClass", _S, 0), ("VolumeAttributesClass", _S, 0),
                     ("Reason", _S, 0), AGE, ("VolumeMode", _S, 1)), _print),
    field_selectors={},
)
