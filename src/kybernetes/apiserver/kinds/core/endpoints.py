"""Endpoints: the ready addresses behind a Service, written by the endpoints controller."""

from __future__ import annotations

from kybernetes.api import defaults, validation
from kybernetes.api import resources as r
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, builtin_schema
from kybernetes.apiserver.kinds.strategy import DEFAULT

DEFINITION = KindDefinition(
    resource=r.ENDPOINTS,
    schema=builtin_schema("io.k8s.api.core.v1.Endpoints"),
    openapi_name="io.k8s.api.core.v1.Endpoints",
    defaults=defaults.endpoints_defaults,
    validate=validation.validate_endpoints,
    strategy=DEFAULT,
    table=tables.ENDPOINTS,
    field_selectors={},
)
