"""Nodes: registered by their kubelet with status (a create keeps it); afterwards only
the status subresource changes status."""

from __future__ import annotations

from kybernetes.api import defaults, validation
from kybernetes.api import resources as r
from kybernetes.api.fields import field_getter
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, builtin_schema
from kybernetes.apiserver.kinds.strategy import DEFAULT

DEFINITION = KindDefinition(
    resource=r.NODES,
    schema=builtin_schema("io.k8s.api.core.v1.Node"),
    openapi_name="io.k8s.api.core.v1.Node",
    defaults=defaults.node_defaults,
    validate=validation.validate_node,
    strategy=DEFAULT,
    table=tables.NODE,
    field_selectors={"spec.unschedulable": field_getter("spec", "unschedulable",
                                                        default="false")},
)
