"""StorageClasses: how claims of a class are provisioned; one may be the default."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from kybernetes.api import resources as r
from kybernetes.api import storage
from kybernetes.api.field_errors import as_dict
from kybernetes.apiserver.kinds.definition import KindDefinition, TableSpec, builtin_schema
from kybernetes.apiserver.kinds.strategy import DEFAULT
from kybernetes.apiserver.tables import AGE, NAME, since

Obj = dict[str, Any]
_S = "string"


def _print(sc: Obj, now: _dt.datetime) -> list[Any]:
    """printStorageClass: `(default)` after the default class's name."""
    meta = as_dict(sc.get("metadata"))
    name = str(meta.get("name", "")) + (" (default)" if storage.is_default_class(sc) else "")
    return [name, sc.get("provisioner", ""), sc.get("reclaimPolicy") or "Delete",
            sc.get("volumeBindingMode") or "Immediate",
            bool(sc.get("allowVolumeExpansion", False)), since(meta.get("creationTimestamp"),
                                                                now)]


DEFINITION = KindDefinition(
    resource=r.STORAGE_CLASSES,
    schema=builtin_schema("io.k8s.api.storage.v1.StorageClass"),
    openapi_name="io.k8s.api.storage.v1.StorageClass",
    defaults=storage.storage_class_defaults,
    validate=storage.validate_storage_class,
    strategy=DEFAULT,
    table=TableSpec((NAME, ("Provisioner", _S, 0), ("ReclaimPolicy", _S, 0),
                     ("VolumeBindingMode", _S, 0), ("AllowVolumeExpansion", _S, 0), AGE),
                    _print),
    field_selectors={},
)
