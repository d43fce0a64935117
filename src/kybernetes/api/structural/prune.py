"""Pruning: remove the fields a structural schema does not specify, and say which.

As apiextensions-apiserver's pruning algorithm: apiVersion, kind and metadata stay
at the root and in every x-kubernetes-embedded-resource object; under
x-kubernetes-preserve-unknown-fields unknown fields stay but known ones are still
pruned inside. The removed paths (`spec.foo`, `spec.items[0].bar`) become
`unknown field "spec.foo"` warnings, or a 400 under fieldValidation=Strict.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.structural.node import Node, child_path, compile_schema

_META_FIELDS = frozenset({"apiVersion", "kind", "metadata"})


def prune(schema: dict[str, Any], obj: Any) -> list[str]:
    """Prune `obj` in place; return the paths removed, in document order."""
    removed: list[str] = []
    _prune(compile_schema(schema), obj, "", removed, resource=True)
    return removed


def _prune(node: Node | None, value: Any, path: str, removed: list[str],
           *, resource: bool = False) -> None:
    keeps_unknown = node is not None and node.preserve_unknown
    if isinstance(value, dict):
        resource = resource or (node is not None and node.embedded)
        for key in list(value):
            if resource and key in _META_FIELDS:
                continue
            child = node.child(key) if node is not None else None
            if child is None and not keeps_unknown:
                del value[key]
                removed.append(child_path(path, key))
            elif child is not None:
                _prune(child, value[key], child_path(path, key), removed)
    elif isinstance(value, list):
        items = node.items if node is not None else None
        if items is None and keeps_unknown:
            return
        for index, item in enumerate(value):
            _prune(items, item, f"{path}[{index}]", removed)
