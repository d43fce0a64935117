"""ReplicationControllers: generation tracks the spec; scalable by their map selector."""

from __future__ import annotations

from typing import Any

from kybernetes.api import defaults, pod_validation
from kybernetes.api import resources as r
from kybernetes.api.fields import field_getter
from kybernetes.api.labels import selector_from_map
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, ScaleSpec, builtin_schema
from kybernetes.apiserver.kinds.strategy import StatusStrategy


def _selector(rc: dict[str, Any]) -> str:
    return str(selector_from_map((rc.get("spec") or {}).get("selector")))


DEFINITION = KindDefinition(
    resource=r.REPLICATION_CONTROLLERS,
    schema=builtin_schema("io.k8s.api.core.v1.ReplicationController"),
    openapi_name="io.k8s.api.core.v1.ReplicationController",
    defaults=defaults.replication_controller_defaults,
    validate=pod_validation.validate_rc,
    strategy=StatusStrategy({"replicas": 0}, tracks_generation=True),
    table=tables.REPLICATION_CONTROLLER,
    field_selectors={"status.replicas": field_getter("status", "replicas", default="0")},
    scale=ScaleSpec(selector=_selector),
)
