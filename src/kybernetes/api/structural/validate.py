"""Validate a custom resource against its structural schema, as the API server does on write.

The order of causes is Kubernetes': first the OpenAPI schema (kube-openapi: type,
value keywords, required, allOf/anyOf/oneOf/not), then embedded resources
(apiVersion and kind), then list types (set and map uniqueness), then the CEL
rules. One walk collects the first three; the CEL walk runs only when the schema
has rules, and sees `oldSelf` where the update's old object correlates (same
property, same map key, same list-map keys).
"""

from __future__ import annotations

import json
from typing import Any

from kybernetes.api.field_errors import Cause, ErrorList, InterfaceMap
from kybernetes.api.structural.node import Node, child_path, compile_schema
from kybernetes.api.structural.rules import run_rules

_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number", dict: "object",
               list: "array"}


class _Errors:
    """The three lists of the structural walk, joined in Kubernetes' order at the end."""

    def __init__(self) -> None:
        self.schema, self.embedded, self.lists = ErrorList(), ErrorList(), ErrorList()

    def causes(self) -> list[Cause]:
        return self.schema.causes + self.embedded.causes + self.lists.causes


def validate(schema: dict[str, Any], obj: Any, old: Any = None) -> list[Cause]:
    """Every cause a create (old=None) or update of `obj` gets, as the 422 Status lists them."""
    root = compile_schema(schema)
    errors = _Errors()
    _validate(root, obj, "", errors)
    causes = errors.causes()
    if root.has_rules:
        cel_errs = ErrorList()
        run_cel(root, obj, old, old is not None, "", cel_errs)
        causes += cel_errs.causes
    return causes


def _type_matches(node: Node, value: Any) -> bool:
    actual = _JSON_TYPES.get(type(value), "")
    if node.int_or_string:
        return actual in ("integer", "string") or (actual == "number" and value.is_integer())
    expected = node.type
    return (not expected or actual == expected or (expected == "number" and actual == "integer")
            or (expected == "integer" and actual == "number" and value.is_integer()))


def check_value(node: Node, value: Any, path: str, errs: ErrorList) -> None:
    """kube-openapi's checks of one level, without descending (type, keywords, junctors)."""
    if value is None:
        if not node.nullable and (node.type or node.int_or_string):
            errs.type_invalid(path, "null", f"{path} in body must be of type {node.type_names}: "
                                            '"null"')
        return
    types = node.matching_types
    if types is not None and type(value) not in types and not _type_matches(node, value):
        actual = _JSON_TYPES.get(type(value), "")
        errs.type_invalid(path, actual, f"{path} in body must be of type {node.type_names}: "
                                        f'"{actual}"')
    if node.has_junctors:
        _check_junctors(node, value, path, errs)
    for check in node.checks:
        check(value, path, errs)
    if isinstance(value, dict):
        for key in node.required:
            if key not in value:
                errs.required(child_path(path, key))


def _validate(node: Node, value: Any, path: str, errors: _Errors) -> None:
    check_value(node, value, path, errors.schema)
    if isinstance(value, dict):
        if node.embedded:
            _check_embedded(value, path, errors.embedded)
        for key, item in value.items():
            child = node.properties.get(key) or node.additional
            if child is not None:
                _validate(child, item, child_path(path, key), errors)
    elif isinstance(value, list):
        if node.list_type in ("set", "map"):
            _check_list_type(node, value, path, errors.lists)
        if node.items is not None:
            for index, item in enumerate(value):
                _validate(node.items, item, f"{path}[{index}]", errors)


def _check_junctors(node: Node, value: Any, path: str, errs: ErrorList) -> None:
    """allOf / anyOf / oneOf / not as kube-openapi's schemaPropsValidator reports them."""
    name = json.dumps(path)
    if node.any_of:
        results = [_nested(sub, value, path) for sub in node.any_of]
        if all(results):
            errs.invalid(path, "", f"{name} must validate at least one schema (anyOf)")
            errs.causes += _fewest(results)
    if node.one_of:
        results = [_nested(sub, value, path) for sub in node.one_of]
        valid = sum(1 for result in results if not result)
        if valid != 1:
            found = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
            errs.invalid(path, "", f"{name} must validate one and only one schema (oneOf). {found}")
            if valid == 0:
                errs.causes += _fewest(results)
    if node.all_of:
        results = [_nested(sub, value, path) for sub in node.all_of]
        for result in results:
            errs.causes += result
        failed = sum(1 for result in results if result)
        if failed:
            none = ". None validated" if failed == len(results) else ""
            errs.invalid(path, "", f"{name} must validate all the schemas (allOf){none}")
    if node.not_ is not None and not _nested(node.not_, value, path):
        errs.invalid(path, "", f"{name} must not validate the schema (not)")


def _fewest(results: list[list[Cause]]) -> list[Cause]:
    """The failing branch to report (kube-openapi picks the one with most passed checks)."""
    return sorted(results, key=len)[0]


def _nested(node: Node, value: Any, path: str) -> list[Cause]:
    """The causes of a junctor branch, which may itself restrict nested properties."""
    errs = ErrorList()
    check_value(node, value, path, errs)
    if isinstance(value, dict):
        for key, child in node.properties.items():
            if key in value:
                errs.causes += _nested(child, value[key], child_path(path, key))
    elif isinstance(value, list) and node.items is not None:
        for index, item in enumerate(value):
            errs.causes += _nested(node.items, item, f"{path}[{index}]")
    return errs.causes


def _check_embedded(value: dict[str, Any], path: str, errs: ErrorList) -> None:
    """objectmeta.validateEmbeddedResource: apiVersion and kind present, non-empty strings."""
    for key in ("apiVersion", "kind"):
        key_path = child_path(path, key)
        if key not in value:
            errs.required(key_path, "must not be empty")
        elif not isinstance(value[key], str):
            errs.invalid(key_path, value[key], "must be a string")
        elif not value[key]:
            errs.invalid(key_path, "", "must not be empty")
        elif key == "apiVersion" and value[key].count("/") > 1:
            errs.invalid(key_path, value[key], f"unexpected GroupVersion string: {value[key]}")


def _identity(value: Any) -> Any:
    """A hashable stand-in for a JSON value (sets of atomic objects and lists)."""
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else \
        (type(value) is bool, value)


def _check_list_type(node: Node, items: list[Any], path: str, errs: ErrorList) -> None:
    """listtype.ValidateListSetsAndMaps: a set has no repeated item, a map no repeated keys."""
    seen: set[Any] = set()
    for index, item in enumerate(items):
        if node.list_type == "map":
            if not isinstance(item, dict):
                continue
            keys = InterfaceMap({k: item[k] for k in node.map_keys if k in item})
            identity = tuple(_identity(item.get(k)) for k in node.map_keys)
        else:
            keys, identity = item, _identity(item)
        if identity in seen:
            errs.duplicate(f"{path}[{index}]", keys)
        seen.add(identity)


def run_cel(node: Node, value: Any, old: Any, has_old: bool, path: str, errs: ErrorList) -> None:
    """The CEL walk: rules of this level, then of every level below that has rules."""
    if value is None:
        return
    if node.rules:
        run_rules(node.rules, value, path=path, type_name=node.type, errs=errs, old=old,
                  has_old=has_old, fields=node.rule_fields)
    if isinstance(value, dict):
        old_map = old if has_old and isinstance(old, dict) else {}
        for key, item in value.items():
            child = node.properties.get(key)
            key_path = child_path(path, key) if child is not None else f"{path}[{key}]"
            child = child or node.additional
            if child is not None and child.has_rules:
                run_cel(child, item, old_map.get(key), key in old_map, key_path, errs)
    elif isinstance(value, list) and node.items is not None and node.items.has_rules:
        old_items = _correlatable(node, old if has_old else None)
        for index, item in enumerate(value):
            key = _map_key(node, item)
            matched = key is not None and key in old_items
            run_cel(node.items, item, old_items.get(key) if matched else None, matched,
                    f"{path}[{index}]", errs)


def _map_key(node: Node, item: Any) -> tuple[Any, ...] | None:
    if node.list_type != "map" or not isinstance(item, dict):
        return None
    return tuple(_identity(item.get(k)) for k in node.map_keys)


def _correlatable(node: Node, old: Any) -> dict[Any, Any]:
    """Old list-map items by their keys; other lists do not correlate."""
    if node.list_type != "map" or not isinstance(old, list):
        return {}
    return {_map_key(node, item): item for item in old if isinstance(item, dict)}
