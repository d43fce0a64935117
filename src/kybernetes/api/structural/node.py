"""A CRD schema compiled once into a tree of nodes that validation, defaulting and pruning walk.

Schemas arrive as plain JSON-schema dicts. Looking keys up in those dicts for every
object would repeat the same work per request, so `compile_schema` turns each
schema dict into a `Node` once: children resolved, value checks turned into a
list of small callables, CEL rules compiled. The result is cached by the identity
of the schema dict (the dict is kept alive with it, so the id cannot be reused).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api.structural.rules import Rule, compile_rules, projection
from kybernetes.api.structural.values import Check, value_checks

MISSING: Any = object()


def child_path(path: str, name: str) -> str:
    """kube-openapi's path of a property or map key (`spec.replicas`, `spec.labels.app`)."""
    return f"{path}.{name}" if path else name


@dataclass(eq=False)
class Node:
    """One schema level: its structure, its value checks and its CEL rules."""

    schema: dict[str, Any]
    type: str = ""
    nullable: bool = False
    int_or_string: bool = False
    preserve_unknown: bool = False
    embedded: bool = False
    properties: dict[str, Node] = field(default_factory=dict)
    additional: Node | None = None
    additional_allowed: bool = False
    items: Node | None = None
    required: tuple[str, ...] = ()
    default: Any = MISSING
    list_type: str = ""
    map_keys: tuple[str, ...] = ()
    checks: list[Check] = field(default_factory=list)
    all_of: list[Node] = field(default_factory=list)
    any_of: list[Node] = field(default_factory=list)
    one_of: list[Node] = field(default_factory=list)
    not_: Node | None = None
    rules: tuple[Rule, ...] = ()
    rule_fields: frozenset[str] | None = None  # what the rules read of self (None: all)
    # The Python types of values that have the node's type for sure (None: any value);
    # others still may (an integral float for "integer").
    matching_types: frozenset[builtins.type] | None = None
    has_junctors: bool = False
    has_rules: bool = False  # here or anywhere below: whether the CEL walk must enter
    has_defaults: bool = False  # here or anywhere below: whether defaulting must enter

    @property
    def type_names(self) -> str:
        """The type list kube-openapi prints: `integer,string` for int-or-string."""
        return "integer,string" if self.int_or_string else self.type

    def child(self, key: str) -> Node | None:
        """The schema of property `key`, else of additionalProperties."""
        return self.properties.get(key) or self.additional


_cache: dict[int, tuple[dict[str, Any], Node]] = {}


def compile_schema(schema: dict[str, Any]) -> Node:
    """The compiled tree of `schema`, built once per schema dict."""
    hit = _cache.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    node = _build(schema)
    _cache[id(schema)] = (schema, node)
    return node


def _build(schema: dict[str, Any]) -> Node:
    additional = schema.get("additionalProperties")
    node = Node(
        schema=schema,
        type=schema.get("type", "") or "",
        nullable=bool(schema.get("nullable")),
        int_or_string=bool(schema.get("x-kubernetes-int-or-string")),
        preserve_unknown=bool(schema.get("x-kubernetes-preserve-unknown-fields")),
        embedded=bool(schema.get("x-kubernetes-embedded-resource")),
        properties={k: _build(v) for k, v in (schema.get("properties") or {}).items()},
        additional=_build(additional) if isinstance(additional, dict) else None,
        additional_allowed=additional is True,
        items=_build(schema["items"]) if isinstance(schema.get("items"), dict) else None,
        required=tuple(schema.get("required") or ()),
        default=schema.get("default", MISSING),
        list_type=schema.get("x-kubernetes-list-type", "") or "",
        map_keys=tuple(schema.get("x-kubernetes-list-map-keys") or ()),
        checks=value_checks(schema),
        all_of=[_build(s) for s in schema.get("allOf") or ()],
        any_of=[_build(s) for s in schema.get("anyOf") or ()],
        one_of=[_build(s) for s in schema.get("oneOf") or ()],
        not_=_build(schema["not"]) if isinstance(schema.get("not"), dict) else None,
        rules=compile_rules(schema),
        rule_fields=projection(schema),
    )
    node.matching_types = _matching_types(node)
    node.has_junctors = bool(node.all_of or node.any_of or node.one_of or node.not_ is not None)
    children = (*node.properties.values(), node.additional, node.items)
    node.has_rules = bool(node.rules) or any(c is not None and c.has_rules for c in children)
    node.has_defaults = node.default is not MISSING or any(
        c is not None and c.has_defaults for c in children)
    return node


_PYTHON_TYPES: dict[str, frozenset[type]] = {
    "string": frozenset({str}), "boolean": frozenset({bool}), "integer": frozenset({int}),
    "number": frozenset({int, float}), "object": frozenset({dict}), "array": frozenset({list})}


def _matching_types(node: Node) -> frozenset[type] | None:
    if node.int_or_string:
        return frozenset({int, str})
    if not node.type:
        return None
    return _PYTHON_TYPES.get(node.type, frozenset())
