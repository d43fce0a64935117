"""StatefulSets: pods with stable names and storage. Generation tracks the spec;
scalable by their label selector (`kubectl scale sts`, HPAs)."""

from __future__ import annotations

from kybernetes.api import resources as r
from kybernetes.api import statefulset
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.apps.replicaset import label_selector_text
from kybernetes.apiserver.kinds.definition import KindDefinition, ScaleSpec, builtin_schema
from kybernetes.apiserver.kinds.strategy import StatusStrategy

DEFINITION = KindDefinition(
    resource=r.STATEFUL_SETS,
    schema=builtin_schema("io.k8s.api.apps.v1.StatefulSet"),
    openapi_name="io.k8s.api.apps.v1.StatefulSet",
    defaults=statefulset.stateful_set_defaults,
    validate=statefulset.validate_stateful_set,
    strategy=StatusStrategy({"replicas": 0, "availableReplicas": 0}, tracks_generation=True),
    table=tables.STATEFUL_SET,
    field_selectors={},
    scale=ScaleSpec(selector=label_selector_text),
)
