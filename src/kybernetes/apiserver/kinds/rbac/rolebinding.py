"""RoleBindings: grant a Role's or ClusterRole's rules to subjects within one namespace."""

from __future__ import annotations

from kybernetes.api import meta as names
from kybernetes.api import rbac_validation as validation
from kybernetes.api import resources as r
from kybernetes.apiserver.kinds.definition import KindDefinition, builtin_schema
from kybernetes.apiserver.kinds.rbac import tables
from kybernetes.apiserver.kinds.strategy import DEFAULT

DEFINITION = KindDefinition(
    resource=r.ROLE_BINDINGS,
    schema=builtin_schema("io.k8s.api.rbac.v1.RoleBinding"),
    openapi_name="io.k8s.api.rbac.v1.RoleBinding",
    defaults=validation.binding_defaults,
    validate=validation.validate_role_binding,
    strategy=DEFAULT,
    table=tables.ROLE_BINDING,
    field_selectors={},
    name_check=names.is_path_segment_name,
)
