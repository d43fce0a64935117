"""DaemonSets: a pod per eligible node. Generation tracks the spec; the
`deprecated.daemonset.template.generation` annotation counts template changes, as
Kubernetes' apps/v1 conversion of spec.templateGeneration shows it."""

from __future__ import annotations

from typing import Any

from kybernetes.api import defaults, pod_validation
from kybernetes.api import resources as r
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, builtin_schema
from kybernetes.apiserver.kinds.strategy import StatusStrategy

Obj = dict[str, Any]
TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


def _annotations(obj: Obj) -> dict[str, str]:
    metadata = obj.setdefault("metadata", {})
    if not isinstance(metadata.get("annotations"), dict):
        metadata["annotations"] = {}
    annotations: dict[str, str] = metadata["annotations"]
    return annotations


def _template_generation(obj: Obj) -> int:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(TEMPLATE_GENERATION)
    try:
        return max(int(str(value)), 1)
    except ValueError:
        return 1


class DaemonSetStrategy(StatusStrategy):
    """PrepareForCreate/Update: template generation 1, +1 on every template change."""

    def __init__(self) -> None:
        super().__init__({"currentNumberScheduled": 0, "numberMisscheduled": 0,
                          "desiredNumberScheduled": 0, "numberReady": 0},
                         tracks_generation=True)

    def prepare_for_create(self, obj: Obj) -> None:
        _annotations(obj)[TEMPLATE_GENERATION] = str(_template_generation(obj))

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        generation = _template_generation(old)
        if (new.get("spec") or {}).get("template") != (old.get("spec") or {}).get("template"):
            generation += 1
        _annotations(new)[TEMPLATE_GENERATION] = str(generation)


DEFINITION = KindDefinition(
    resource=r.DAEMON_SETS,
    schema=builtin_schema("io.k8s.api.apps.v1.DaemonSet"),
    openapi_name="io.k8s.api.apps.v1.DaemonSet",
    defaults=defaults.daemon_set_defaults,
    validate=lambda errs, obj, old: pod_validation.validate_apps(errs, obj, old, "daemonset"),
    strategy=DaemonSetStrategy(),
    table=tables.DAEMON_SET,
    field_selectors={},
)
