"""What structured-merge-diff needs to know of a schema node, decided once per node.

A JSON-schema node (built-in definitions with `$ref`, or a CRD's openAPIV3Schema)
becomes a `Shape`:

- SCALAR: a leaf (strings, numbers, int-or-string, quantities);
- MAP: an object; granular (field by field) unless `x-kubernetes-map-type: atomic`;
  declared `properties`, and `additionalProperties` or deduced values for other keys;
- LIST: `x-kubernetes-list-type` atomic | set | map (with `x-kubernetes-list-map-keys`);
  without it, `x-kubernetes-patch-strategy: merge` makes a keyed list (with the
  patch-merge-key) or a set (without one); anything else is atomic — kube-openapi's
  schemaconv rules;
- DEDUCED: no usable schema (preserve-unknown-fields, RawExtension): objects are
  granular maps of deduced values, lists and scalars are atomic leaves.

Shapes are cached by node identity (the node is kept alive next to its shape, so an
id is never mistaken for a recycled one), so list types and keys cost a dict lookup.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import orjson

from kybernetes.api import schema as k8s_schema

Node = dict[str, Any]


class Kind(Enum):
    SCALAR = "scalar"
    MAP = "map"
    LIST = "list"
    DEDUCED = "deduced"


# Keys that Kubernetes' schemas default, so an applied item may omit them
# (the `+default` markers that the JSON-schema copy of the definitions lacks).
_BUILTIN_KEY_DEFAULTS = {
    "io.k8s.api.core.v1.ContainerPort": {"protocol": "TCP"},
    "io.k8s.api.core.v1.ServicePort": {"protocol": "TCP"},
}


class Shape:
    """The merge-relevant facts of one schema node."""

    __slots__ = (
        "_children",
        "atomic",
        "container",
        "extra",
        "fields",
        "is_set",
        "item",
        "key_defaults",
        "keys",
        "kind",
    )

    def __init__(
        self,
        kind: Kind,
        *,
        atomic: bool = False,
        fields: Node | None = None,
        extra: Node | None = None,
        item: Node | None = None,
        keys: tuple[str, ...] = (),
        key_defaults: Node | None = None,
        is_set: bool = False,
    ) -> None:
        self.kind = kind
        self.atomic = atomic
        self.fields: Node = fields or {}
        self.extra = extra
        self.item = item
        self.keys = keys
        self.key_defaults: Node = key_defaults or {}
        self.is_set = is_set
        self._children: dict[str, Shape] = {}
        # The type of value the walk descends into (None: every value is a leaf), so
        # is_leaf_value is one isinstance.
        self.container: type | None = (
            dict if kind is Kind.DEDUCED
            else None if kind is Kind.SCALAR or atomic
            else dict if kind is Kind.MAP
            else list
        )

    @property
    def is_leaf(self) -> bool:
        return self.kind is Kind.SCALAR or self.atomic

    def declares(self, name: str) -> bool:
        return name in self.fields

    def field(self, name: str) -> Shape:
        """The shape of field `name` (declared, additionalProperties, or deduced)."""
        child = self._children.get(name)
        if child is None:
            if self.kind is Kind.DEDUCED:
                child = DEDUCED
            else:
                node = self.fields.get(name, self.extra)
                child = shape_of(node)
            self._children[name] = child
        return child

    def item_shape(self) -> Shape:
        child = self._children.get("[]")
        if child is None:
            child = self._children["[]"] = shape_of(self.item)
        return child

    def element(self, item: Any) -> str:
        """The path element of a list item: `k:{...}` by its keys, `v:<json>` by value."""
        if self.is_set:
            return "v:" + orjson.dumps(item).decode()
        if not isinstance(item, dict):
            raise ValueError(
                f"associative list with keys has an element that is not a map: {item!r}"
            )
        key: Node = {}
        for name in self.keys:
            if name in item:
                key[name] = item[name]
            elif name in self.key_defaults:
                key[name] = self.key_defaults[name]
            else:
                raise ValueError(
                    "associative list with keys has an element that omits key field "
                    f"{orjson.dumps(name).decode()} (and doesn't have default value)"
                )
        return "k:" + orjson.dumps(key).decode()


DEDUCED = Shape(Kind.DEDUCED)
_ATOMIC = Shape(Kind.SCALAR, atomic=True)
_SCALAR = Shape(Kind.SCALAR)
_CACHE: dict[int, tuple[Node | None, Shape]] = {}


def shape_of(node: Node | None) -> Shape:
    """The (cached) shape of a schema node; None means no schema (deduced)."""
    if node is None:
        return DEDUCED
    cached = _CACHE.get(id(node))
    if cached is not None and cached[0] is node:
        return cached[1]
    shape = _compile(node)
    _CACHE[id(node)] = (node, shape)
    return shape


def _resolve(node: Node) -> tuple[Node | None, str | None]:
    """Follow `$ref` / a single `allOf`; return the node and its definition name."""
    name = None
    all_of = node.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
        node = all_of[0]
    if "$ref" in node:
        name = k8s_schema.ref_name(node)
        return k8s_schema.resolve(node), name
    return node, name


def _compile(raw: Node) -> Shape:
    node, _ = _resolve(raw)
    if node is None:
        return DEDUCED
    if node.get("x-kubernetes-int-or-string") or k8s_schema.is_scalar(node):
        return _SCALAR
    types = k8s_schema.types_of(node)
    if "array" in types or "items" in node:
        return _list_shape(raw, node)
    if "object" in types or "properties" in node or "additionalProperties" in node:
        return _map_shape(raw, node)
    return DEDUCED


def _map_shape(raw: Node, node: Node) -> Shape:
    atomic = "atomic" in (raw.get("x-kubernetes-map-type"), node.get("x-kubernetes-map-type"))
    if atomic:
        return _ATOMIC
    fields = node.get("properties") or {}
    extra = node.get("additionalProperties")
    if not fields and not isinstance(extra, dict):
        return DEDUCED
    return Shape(Kind.MAP, fields=fields, extra=extra if isinstance(extra, dict) else None)


def _list_shape(raw: Node, node: Node) -> Shape:
    item = node.get("items") if isinstance(node.get("items"), dict) else None
    list_type = raw.get("x-kubernetes-list-type", node.get("x-kubernetes-list-type"))
    keys: tuple[str, ...] = ()
    if list_type == "map":
        keys = tuple(
            raw.get("x-kubernetes-list-map-keys") or node.get("x-kubernetes-list-map-keys") or ()
        )
    elif list_type is None and raw.get("x-kubernetes-patch-strategy") in (
        "merge",
        "merge,retainKeys",
    ):
        merge_key = raw.get("x-kubernetes-patch-merge-key")
        list_type = "map" if merge_key else "set"
        keys = (merge_key,) if merge_key else ()
    if list_type == "set":
        return Shape(Kind.LIST, item=item, is_set=True)
    if list_type == "map" and keys:
        return Shape(
            Kind.LIST, item=item, keys=tuple(sorted(keys)), key_defaults=_key_defaults(item, keys)
        )
    return _ATOMIC


def _key_defaults(item: Node | None, keys: tuple[str, ...]) -> Node:
    if item is None:
        return {}
    resolved, name = _resolve(item)
    defaults = dict(_BUILTIN_KEY_DEFAULTS.get(name or "", {}))
    props = (resolved or {}).get("properties") or {}
    for key in keys:
        prop = props.get(key)
        if isinstance(prop, dict) and "default" in prop:
            defaults[key] = prop["default"]
    return defaults


def is_leaf_value(shape: Shape, value: Any) -> bool:
    """True where the walk stops: scalars, atomic values, and deduced non-objects."""
    container = shape.container
    return container is None or not isinstance(value, container)
