"""Roles: namespaced sets of permissions (rules) that RoleBindings grant."""

from __future__ import annotations

from kybernetes.api import meta as names
from kybernetes.api import rbac_validation as validation
from kybernetes.api import resources as r
from kybernetes.apiserver.kinds.definition import KindDefinition, builtin_schema
from kybernetes.apiserver.kinds.rbac import tables
from kybernetes.apiserver.kinds.strategy import DEFAULT

DEFINITION = KindDefinition(
    resource=r.ROLES,
    schema=builtin_schema("io.k8s.api.rbac.v1.Role"),
    openapi_name="io.k8s.api.rbac.v1.Role",
    defaults=None,
    validate=validation.validate_role,
    strategy=DEFAULT,  # no status, no generation (Kubernetes' role strategy)
    table=tables.ROLE,
    field_selectors={},
    name_check=names.is_path_segment_name,
)
