"""ControllerRevisions: immutable snapshots of a controller's template (data) with a
revision number, which DaemonSets (and `kubectl rollout history|undo`) use."""

from __future__ import annotations

from typing import Any

from kybernetes.api import resources as r
from kybernetes.api.field_errors import ErrorList
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, builtin_schema
from kybernetes.apiserver.kinds.strategy import DEFAULT

Obj = dict[str, Any]


def validate_controller_revision(errs: ErrorList, obj: Obj, old: Obj | None) -> None:
    """ValidateControllerRevisionCreate/Update: data is required and never changes."""
    if obj.get("data") is None:
        errs.required("data", "data is mandatory")
    errs.non_negative("revision", obj.get("revision"))
    if old is not None and obj.get("data") != old.get("data"):
        errs.invalid("data", obj.get("data"), "field is immutable")


DEFINITION = KindDefinition(
    resource=r.CONTROLLER_REVISIONS,
    schema=builtin_schema("io.k8s.api.apps.v1.ControllerRevision"),
    openapi_name="io.k8s.api.apps.v1.ControllerRevision",
    defaults=None,
    validate=validate_controller_revision,
    strategy=DEFAULT,
    table=tables.CONTROLLER_REVISION,
    field_selectors={},
)
