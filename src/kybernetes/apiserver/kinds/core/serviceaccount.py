"""ServiceAccounts: identities for pods (tokens and RBAC come with the identity issue)."""

from __future__ import annotations

from kybernetes.api import resources as r
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, builtin_schema
from kybernetes.apiserver.kinds.strategy import DEFAULT

DEFINITION = KindDefinition(
    resource=r.SERVICE_ACCOUNTS,
    schema=builtin_schema("io.k8s.api.core.v1.ServiceAccount"),
    openapi_name="io.k8s.api.core.v1.ServiceAccount",
    defaults=None,
    validate=None,
    strategy=DEFAULT,
    table=tables.SERVICE_ACCOUNT,
    field_selectors={},
)
