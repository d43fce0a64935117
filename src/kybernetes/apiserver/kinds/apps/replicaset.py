"""ReplicaSets: generation tracks the spec; scalable by their label selector."""

from __future__ import annotations

from typing import Any

from kybernetes.api import defaults, pod_validation
from kybernetes.api import resources as r
from kybernetes.api.fields import field_getter
from kybernetes.api.labels import label_selector_string
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, ScaleSpec, builtin_schema
from kybernetes.apiserver.kinds.strategy import StatusStrategy


def label_selector_text(obj: dict[str, Any]) -> str:
    """spec.selector (a LabelSelector) as the string a Scale's status carries."""
    return label_selector_string((obj.get("spec") or {}).get("selector") or {})


DEFINITION = KindDefinition(
    resource=r.REPLICA_SETS,
    schema=builtin_schema("io.k8s.api.apps.v1.ReplicaSet"),
    openapi_name="io.k8s.api.apps.v1.ReplicaSet",
    defaults=defaults.replica_set_defaults,
    validate=lambda errs, obj, old: pod_validation.validate_apps(errs, obj, old, "replicaset"),
    strategy=StatusStrategy({"replicas": 0}, tracks_generation=True),
    table=tables.REPLICA_SET,
    field_selectors={"status.replicas": field_getter("status", "replicas", default="0")},
    scale=ScaleSpec(selector=label_selector_text),
)
