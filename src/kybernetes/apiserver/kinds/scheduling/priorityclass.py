"""PriorityClasses: named pod priorities (scheduling.k8s.io/v1), cluster-scoped."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from kybernetes.api import priority
from kybernetes.api import resources as r
from kybernetes.api.field_errors import as_dict
from kybernetes.apiserver.kinds.definition import KindDefinition, TableSpec, builtin_schema
from kybernetes.apiserver.kinds.strategy import DEFAULT
from kybernetes.apiserver.tables import AGE, NAME, since

Obj = dict[str, Any]


def _print(pc: Obj, now: _dt.datetime) -> list[Any]:
    """printPriorityClass: NAME VALUE GLOBAL-DEFAULT AGE PREEMPTIONPOLICY."""
    meta = as_dict(pc.get("metadata"))
    return [meta.get("name", ""), pc.get("value", 0), bool(pc.get("globalDefault", False)),
            since(meta.get("creationTimestamp"), now), pc.get("preemptionPolicy") or ""]


DEFINITION = KindDefinition(
    resource=r.PRIORITY_CLASSES,
    schema=builtin_schema("io.k8s.api.scheduling.v1.PriorityClass"),
    openapi_name="io.k8s.api.scheduling.v1.PriorityClass",
    defaults=priority.priority_class_defaults,
    validate=priority.validate_priority_class,
    strategy=DEFAULT,
    table=TableSpec((NAME, ("Value", "integer", 0), ("Global-Default", "boolean", 0), AGE,
                     ("PreemptionPolicy", "string", 0)), _print),
    field_selectors={},
)
