"""LimitRange: per-namespace defaults and bounds for containers, pods and claims,
applied by the LimitRanger admission plugin."""

from __future__ import annotations

from kybernetes.api import resources as r
from kybernetes.api.limitrange import limit_range_defaults, validate_limit_range
from kybernetes.apiserver.kinds.definition import KindDefinition, builtin_schema
from kybernetes.apiserver.kinds.rbac.tables import ROLE as NAME_CREATED_AT
from kybernetes.apiserver.kinds.strategy import DEFAULT

DEFINITION = KindDefinition(
    resource=r.LIMIT_RANGES,
    schema=builtin_schema("io.k8s.api.core.v1.LimitRange"),
    openapi_name="io.k8s.api.core.v1.LimitRange",
    defaults=limit_range_defaults,
    validate=validate_limit_range,
    strategy=DEFAULT,
    table=NAME_CREATED_AT,  # printLimitRange: Name, Created At (as Role's)
    field_selectors={},
)
