"""Leases: heartbeats of nodes and leader election locks."""

from __future__ import annotations

from kybernetes.api import resources as r
from kybernetes.api import validation
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, builtin_schema
from kybernetes.apiserver.kinds.strategy import DEFAULT

DEFINITION = KindDefinition(
    resource=r.LEASES,
    schema=builtin_schema("io.k8s.api.coordination.v1.Lease"),
    openapi_name="io.k8s.api.coordination.v1.Lease",
    defaults=None,
    validate=validation.validate_lease,
    strategy=DEFAULT,
    table=tables.LEASE,
    field_selectors={},
)
