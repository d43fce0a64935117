"""The built-in kinds' definitions, for unit tests of their pure parts.

Tests name a kind by its Resource (``resources.PODS``); these helpers find its
definition in a registry of the built-in kinds and run one part of it, as the
API server would (defaulting, validation, tables, field selectors, patches).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kybernetes.api import patch, schema
from kybernetes.api.fields import FieldSelector
from kybernetes.api.fields import parse_field_selector as parse_fields
from kybernetes.api.resources import Resource
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.builtin import builtin_registry
from kybernetes.apiserver.kinds.definition import KindDefinition

KINDS = builtin_registry()
Obj = dict[str, Any]


def kind(resource: Resource) -> KindDefinition:
    return KINDS.of(resource)


def apply_defaults(resource: Resource, obj: Obj) -> None:
    kind(resource).apply_defaults(obj)


def validate(resource: Resource, obj: Obj, old: Obj | None = None) -> list[tuple[str, str, str]]:
    return kind(resource).causes(obj, old)


def table_for(resource: Resource, objs: list[Obj], request: Any = None, *,
              now: dt.datetime | None = None) -> Obj:
    return tables.table_for(kind(resource).table, objs, request, now=now)


def parse_field_selector(text: str | None, resource: Resource) -> FieldSelector:
    return parse_fields(text, kind(resource).selectable_fields)


def resource_schema(resource: Resource) -> schema.Node | None:
    return kind(resource).schema()


def unknown_fields(resource: Resource, obj: Obj) -> list[str]:
    return schema.unknown_fields(resource_schema(resource), obj)


def apply_patch(obj: Obj, body: bytes, content_type: str, resource: Resource | None) -> Obj:
    return patch.apply_patch(obj, body, content_type,
                             resource_schema(resource) if resource is not None else None)
