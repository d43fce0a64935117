"""IngressClasses: which controller implements the Ingresses that name the class."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from kybernetes.api import ingress
from kybernetes.api import resources as r
from kybernetes.api.field_errors import as_dict
from kybernetes.apiserver.kinds.definition import KindDefinition, TableSpec, builtin_schema
from kybernetes.apiserver.kinds.strategy import TRACKS_GENERATION
from kybernetes.apiserver.tables import AGE, NAME, since

Obj = dict[str, Any]


def _print(obj: Obj, now: _dt.datetime) -> list[Any]:
    """printIngressClass: NAME CONTROLLER PARAMETERS AGE (`Kind.group/name`)."""
    meta, spec = as_dict(obj.get("metadata")), as_dict(obj.get("spec"))
    parameters = "<none>"
    if isinstance(ref := spec.get("parameters"), dict):
        group = f".{ref['apiGroup']}" if ref.get("apiGroup") is not None else ""
        parameters = f"{ref.get('kind', '')}{group}/{ref.get('name', '')}"
    return [meta.get("name", ""), spec.get("controller", ""), parameters,
            since(meta.get("creationTimestamp"), now)]


DEFINITION = KindDefinition(
    resource=r.INGRESS_CLASSES,
    schema=builtin_schema("io.k8s.api.networking.v1.IngressClass"),
    openapi_name="io.k8s.api.networking.v1.IngressClass",
    defaults=ingress.ingress_class_defaults,
    validate=ingress.validate_ingress_class,
    strategy=TRACKS_GENERATION,
    table=TableSpec((NAME, ("Controller", "string", 0), ("Parameters", "string", 0), AGE),
                    _print),
    field_selectors={},
)
