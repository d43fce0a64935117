"""Structural defaulting, as apiextensions-apiserver applies it when it decodes a custom resource.

Two steps, as Kubernetes runs them: first drop the nulls that may not stay
(a non-nullable field set to null, with no default to replace it), then fill
defaults top-down: a missing (or non-nullable null) property gets a copy of its
default, and because the walk continues into the new value, nested defaults
inside a defaulted object apply too. List items and additionalProperties values
are defaulted the same way.
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api.structural.node import MISSING, Node, compile_schema


def apply_defaults(schema: dict[str, Any], obj: Any) -> None:
    """Default `obj` in place against `schema`."""
    root = compile_schema(schema)
    prune_nulls(root, obj)
    default(root, obj)


def _drops_null(node: Node | None) -> bool:
    return node is not None and not node.nullable and node.default is MISSING


def prune_nulls(node: Node | None, value: Any) -> None:
    """PruneNonNullableNullsWithoutDefaults."""
    if node is None:
        return  # nothing below an unspecified field has a schema that could drop its null
    if isinstance(value, dict):
        for key in list(value):
            child = node.child(key)
            if value[key] is None and _drops_null(child):
                del value[key]
            else:
                prune_nulls(child, value[key])
    elif isinstance(value, list):
        for item in value:
            prune_nulls(node.items, item)


def _replaces_null(node: Node) -> bool:
    return not node.nullable and node.default is not MISSING


def default(node: Node | None, value: Any) -> None:
    """structuraldefaulting.Default on an already null-pruned value."""
    if node is None or not node.has_defaults:
        return  # no default here or below: the walk would change nothing
    if isinstance(value, dict):
        for key, prop in node.properties.items():
            if prop.default is not MISSING and (key not in value or
                                                (value[key] is None and not prop.nullable)):
                value[key] = copy.deepcopy(prop.default)
        for key, item in value.items():
            child = node.properties.get(key)
            if child is None and node.additional is not None:
                child = node.additional
                if item is None and _replaces_null(child):
                    value[key] = item = copy.deepcopy(child.default)
            default(child, item)
    elif isinstance(value, list) and node.items is not None:
        for index, item in enumerate(value):
            if item is None and _replaces_null(node.items):
                value[index] = item = copy.deepcopy(node.items.default)
            default(node.items, item)
