"""The kind definitions a CustomResourceDefinition serves: one per served version.

What apiextensions-apiserver's crdHandler builds per CRD version, as a
:class:`KindDefinition` like any built-in kind's: the names it accepted, the
structural schema (pruning, defaulting and validation with CEL rules), the
status and scale subresources, printer columns (Name first; Age when the CRD
names none), selectable fields, and storage under
``/registry/<group>/<plural>/`` in the storage version (conversion ``None``:
every version is the same object with another apiVersion).
"""

from __future__ import annotations

import copy
import datetime as _dt
import functools
from collections.abc import Callable
from typing import Any

import orjson

from kybernetes.api import jsonpath
from kybernetes.api.field_errors import ErrorList
from kybernetes.api.fields import Getter
from kybernetes.api.resources import ALL_VERBS, Resource
from kybernetes.api.schema import REF_PREFIX, definition, unknown_fields
from kybernetes.api.structural import defaults as structural_defaults
from kybernetes.api.structural import prune as structural_prune
from kybernetes.api.structural import validate as structural_validate
from kybernetes.api.validation import OBJECT_META
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import Column, KindDefinition, ScaleSpec, TableSpec
from kybernetes.apiserver.kinds.strategy import Strategy

Obj = dict[str, Any]
_AGE_COLUMN = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


class CustomResourceStrategy(Strategy):
    """customResourceStrategy: generation follows everything but metadata (and status,
    when status has its own endpoint); a create drops status the main endpoint may not set."""

    tracks_generation = True

    def __init__(self, has_status: bool) -> None:
        self.resets_status_on_create = has_status
        self.initial_status = None
        self._ignored = frozenset({"metadata", "status"} if has_status else {"metadata"})

    def spec_changed(self, new: Obj, old: Obj) -> bool:
        return ({k: v for k, v in new.items() if k not in self._ignored}
                != {k: v for k, v in old.items() if k not in self._ignored})


def openapi_name(group: str, version: str, kind: str) -> str:
    """`com.example.stable.v1.CronTab`: the group reversed, as Kubernetes publishes CRDs."""
    return ".".join([*reversed(group.split(".")), version, kind])


def published_schema(schema: Obj, group: str, version: str, kind: str) -> Obj:
    """The schema as OpenAPI publishes it: apiVersion, kind and ObjectMeta added at the root,
    with the group-version-kind that `kubectl explain` looks for."""
    published = copy.deepcopy(schema)
    properties = published.setdefault("properties", {})
    properties.setdefault("apiVersion", {"type": "string", "description": (
        "APIVersion defines the versioned schema of this representation of an object.")})
    properties.setdefault("kind", {"type": "string", "description": (
        "Kind is a string value representing the REST resource this object represents.")})
    properties["metadata"] = {"$ref": REF_PREFIX + OBJECT_META}
    published.setdefault("type", "object")
    published["x-kubernetes-group-version-kind"] = [
        {"group": group, "version": version, "kind": kind}]
    return published


def _cell(column: Obj) -> Callable[[Obj, _dt.datetime], Any]:
    """One printer column's cell: the first value its JSONPath finds, as its type shows it
    (a path outside the supported subset shows nothing)."""
    kind = column.get("type")
    try:
        steps = jsonpath.compile_path(str(column.get("jsonPath") or ""))
    except jsonpath.JsonPathError:
        return lambda obj, now: None

    def cell(obj: Obj, now: _dt.datetime) -> Any:
        found = jsonpath.follow(obj, steps)
        value = found[0] if found else None
        if value is None:
            return None
        if kind == "string":
            return value if isinstance(value, str) else orjson.dumps(value).decode()
        if kind == "integer" and isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
        if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if kind == "boolean" and isinstance(value, bool):
            return value
        if kind == "date" and isinstance(value, str):
            return tables.since(value, now)
        return None
    return cell


def table_spec(columns: list[Obj]) -> TableSpec:
    """Name, then the CRD's additionalPrinterColumns (Age when it names none)."""
    columns = columns or [_AGE_COLUMN]
    cells = [_cell(c) for c in columns]
    specs: list[Column] = [tables.NAME]
    specs += [(str(c["name"]), str(c.get("type") or "string"), int(c.get("priority") or 0))
              for c in columns]

    def printer(obj: Obj, now: _dt.datetime) -> list[Any]:
        return [(obj.get("metadata") or {}).get("name", ""), *(cell(obj, now) for cell in cells)]

    return TableSpec(tuple(specs), printer,
                     descriptions={str(c["name"]): c.get("description") or
                                   f"Custom resource definition column (in JSONPath format): "
                                   f"{c.get('jsonPath')}" for c in columns},
                     formats={str(c["name"]): str(c.get("format") or "") for c in columns})


def _path_getter(path: str) -> Getter:
    def get(obj: Obj) -> str:
        value = jsonpath.first(obj, path)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    return get


def _scale(scale: Obj) -> ScaleSpec:
    selector_path = str(scale.get("labelSelectorPath") or "")

    def selector(obj: Obj) -> str:
        value = jsonpath.first(obj, selector_path) if selector_path else None
        return value if isinstance(value, str) else ""

    return ScaleSpec(selector=selector,
                     spec_replicas=tuple(str(scale["specReplicasPath"]).lstrip(".").split(".")),
                     status_replicas=tuple(str(scale["statusReplicasPath"]).lstrip(".")
                                           .split(".")),
                     default_replicas=0)


def _defaulter(schema: Obj) -> Callable[[Obj], None]:
    def apply(obj: Obj) -> None:
        structural_prune.prune(schema, obj)
        structural_defaults.apply_defaults(schema, obj)
    return apply


def _pruner(schema: Obj) -> Callable[[Obj], list[str]]:
    """What Kubernetes reports as a custom resource's unknown fields: those of its
    metadata that ObjectMeta does not know, and those its structural schema prunes
    (a known field under preserve-unknown-fields stays; an embedded resource keeps
    its apiVersion, kind and metadata)."""
    def prune_unknown(obj: Obj) -> list[str]:
        meta = obj.get("metadata")
        found = [f"metadata.{p}" for p in
                 unknown_fields(definition(OBJECT_META), meta, drop=True)] \
            if isinstance(meta, dict) else []
        return found + structural_prune.prune(schema, obj)
    return prune_unknown


def _validator(schema: Obj) -> Callable[[ErrorList, Obj, Obj | None], None]:
    def check(errs: ErrorList, obj: Obj, old: Obj | None) -> None:
        errs.causes.extend(structural_validate.validate(schema, obj, old))
    return check


def _deprecation(version: Obj, group: str, kind: str) -> str:
    if not version.get("deprecated"):
        return ""
    return str(version.get("deprecationWarning") or
               f"{group}/{version.get('name')} {kind} is deprecated")


def definitions_for(crd: Obj) -> list[KindDefinition]:
    """A KindDefinition for each served version of `crd`, under its accepted names."""
    spec = crd.get("spec") or {}
    names = (crd.get("status") or {}).get("acceptedNames") or spec.get("names") or {}
    group, plural, kind = spec["group"], names["plural"], names["kind"]
    versions = spec.get("versions") or []
    storage = next(v["name"] for v in versions if v.get("storage"))
    out = []
    for version in versions:
        if not version.get("served"):
            continue
        subresources = version.get("subresources") or {}
        schema = (version.get("schema") or {}).get("openAPIV3Schema") or {}
        has_status = "status" in subresources
        resource = Resource(
            group, version["name"], plural, kind, spec.get("scope") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()),
            subresources=(("status",) if has_status else ()) +
                         (("scale",) if "scale" in subresources else ()),
            verbs=ALL_VERBS, singular=names.get("singular") or kind.lower(),
            categories=tuple(names.get("categories") or ()))
        published = published_schema(schema, group, version["name"], kind)
        out.append(KindDefinition(
            resource=resource,
            schema=functools.partial(lambda s: s, published),
            defaults=_defaulter(schema),
            validate=_validator(schema),
            prune_unknown=_pruner(schema),
            strategy=CustomResourceStrategy(has_status),
            table=table_spec(version.get("additionalPrinterColumns") or []),
            field_selectors={str(f["jsonPath"]).lstrip("."): _path_getter(f["jsonPath"])
                             for f in version.get("selectableFields") or ()},
            scale=_scale(subresources["scale"]) if "scale" in subresources else None,
            storage_prefix=f"/registry/{group}/{plural}/",
            openapi_name=openapi_name(group, version["name"], kind),
            deprecation_warning=_deprecation(version, group, kind),
            storage_version=f"{group}/{storage}",
            strategic_merge=False,
            core_validation=False,
        ))
    return out

