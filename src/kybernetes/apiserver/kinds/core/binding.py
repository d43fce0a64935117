"""Bindings: create-only; POST bindings (or pods/<name>/binding) assigns a pod to a node
once (the subresource handler does the work, on the Pod)."""

from __future__ import annotations

from kybernetes.api import resources as r
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, builtin_schema
from kybernetes.apiserver.kinds.strategy import DEFAULT

DEFINITION = KindDefinition(
    resource=r.BINDINGS,
    schema=builtin_schema("io.k8s.api.core.v1.Binding"),
    openapi_name="io.k8s.api.core.v1.Binding",
    defaults=None,
    validate=None,
    strategy=DEFAULT,
    table=tables.DEFAULT,
    field_selectors={},
)
