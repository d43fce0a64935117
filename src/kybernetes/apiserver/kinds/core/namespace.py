"""Namespaces: created Active with the `kubernetes` finalizer in their spec; a delete
makes them Terminating until the namespace controller has emptied and finalized them."""

from __future__ import annotations

from typing import Any

from kybernetes.api import defaults
from kybernetes.api import meta as names
from kybernetes.api import resources as r
from kybernetes.api.fields import field_getter
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, builtin_schema
from kybernetes.apiserver.kinds.strategy import StatusStrategy

Obj = dict[str, Any]
FINALIZER = "kubernetes"


class NamespaceStrategy(StatusStrategy):
    def __init__(self) -> None:
        super().__init__({"phase": "Active"})

    def prepare_for_create(self, obj: Obj) -> None:
        finalizers = obj.setdefault("spec", {}).setdefault("finalizers", [])
        if FINALIZER not in finalizers:
            finalizers.append(FINALIZER)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        new["spec"] = old.get("spec") or {}  # only namespaces/finalize changes spec

    def termination_finalizers(self, obj: Obj) -> list[str]:
        return list((obj.get("spec") or {}).get("finalizers") or [])

    def mark_terminating(self, obj: Obj) -> None:
        obj.setdefault("status", {})["phase"] = "Terminating"


DEFINITION = KindDefinition(
    resource=r.NAMESPACES,
    schema=builtin_schema("io.k8s.api.core.v1.Namespace"),
    openapi_name="io.k8s.api.core.v1.Namespace",
    defaults=defaults.namespace_defaults,
    validate=None,
    name_check=names.is_dns1123_label,
    strategy=NamespaceStrategy(),
    table=tables.NAMESPACE,
    field_selectors={"status.phase": field_getter("status", "phase")},
)
