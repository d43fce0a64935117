"""CustomResourceDefinitions: new kinds at run time.

The CRD controller (apiserver/crd/) accepts a CRD's names, registers the kinds it
serves and marks it Established; deleting one first deletes its custom resources
(the `customresourcecleanup.apiextensions.k8s.io` finalizer, added by the delete,
as apiextensions-apiserver does), then the CRD.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from kybernetes.api import resources as r
from kybernetes.api.crd_validation import CLEANUP_FINALIZER, crd_defaults, validate_crd
from kybernetes.api.meta import now_rfc3339
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, TableSpec, builtin_schema
from kybernetes.apiserver.kinds.strategy import Strategy

Obj = dict[str, Any]
OPENAPI_NAME = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"


def storage_version(crd: Obj) -> str | None:
    spec = crd.get("spec")
    for version in (spec.get("versions") or () if isinstance(spec, dict) else ()):
        if isinstance(version, dict) and version.get("storage"):
            return str(version.get("name"))
    return None


def set_condition(crd: Obj, type_: str, status: str, reason: str, message: str) -> None:
    """Set one status condition; its transition time changes only with its status."""
    conditions = crd.setdefault("status", {}).setdefault("conditions", [])
    for condition in conditions:
        if condition.get("type") == type_:
            if condition.get("status") != status:
                condition["lastTransitionTime"] = now_rfc3339()
            condition.update(status=status, reason=reason, message=message)
            return
    conditions.append({"type": type_, "status": status, "lastTransitionTime": now_rfc3339(),
                       "reason": reason, "message": message})


class CrdStrategy(Strategy):
    """strategy.go of apiextensions: status reset on create with the storage version
    recorded in storedVersions; a delete adds the cleanup finalizer."""

    tracks_generation = True
    resets_status_on_create = True
    initial_status = {"acceptedNames": {"kind": "", "plural": ""}, "storedVersions": []}

    def prepare_for_create(self, obj: Obj) -> None:
        self._record_storage_version(obj)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        self._record_storage_version(new)

    @staticmethod
    def _record_storage_version(crd: Obj) -> None:
        stored = crd.setdefault("status", {}).setdefault("storedVersions", [])
        version = storage_version(crd)
        if version and version not in stored:
            stored.append(version)

    def finalizers_on_delete(self, obj: Obj) -> list[str]:
        return [CLEANUP_FINALIZER]

    def mark_terminating(self, obj: Obj) -> None:
        set_condition(obj, "Terminating", "True", "InstanceDeletionPending",
                      "CustomResourceDefinition marked for deletion; instance deletion pending")


def _created_at(obj: Obj, now: _dt.datetime) -> list[Any]:
    meta = obj.get("metadata") or {}
    return [meta.get("name", ""), meta.get("creationTimestamp") or ""]


DEFINITION = KindDefinition(
    resource=r.CUSTOM_RESOURCE_DEFINITIONS,
    schema=builtin_schema(OPENAPI_NAME),
    openapi_name=OPENAPI_NAME,
    defaults=crd_defaults,
    validate=validate_crd,
    strategy=CrdStrategy(),
    table=TableSpec((tables.NAME, ("Created At", "date", 0)), _created_at,
                    descriptions={"Created At": tables.AGE_DOC}),
    field_selectors={},
    core_validation=False,
)
