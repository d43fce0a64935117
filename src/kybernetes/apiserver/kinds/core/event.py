"""Events (core/v1): what happened to an object, selectable by the object they are about."""

from __future__ import annotations

from kybernetes.api import resources as r
from kybernetes.api import validation
from kybernetes.api.fields import field_getter
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, builtin_schema
from kybernetes.apiserver.kinds.strategy import DEFAULT

DEFINITION = KindDefinition(
    resource=r.EVENTS,
    schema=builtin_schema("io.k8s.api.core.v1.Event"),
    openapi_name="io.k8s.api.core.v1.Event",
    defaults=None,
    validate=validation.validate_event,
    strategy=DEFAULT,
    table=tables.EVENT,
    field_selectors={
        **{f"involvedObject.{f}": field_getter("involvedObject", f) for f in (
            "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
        "reason": field_getter("reason"),
        "reportingComponent": field_getter("reportingComponent"),
        "source": field_getter("source", "component"),
        "type": field_getter("type"),
    },
)
