"""The Kubernetes 1.33 object schemas, from the `kubernetes-validate` package.

The package ships every definition of the 1.33 OpenAPI document as JSON Schema
(`_definitions.json`, key `$defs`, nullable types written `["string", "null"]`,
with the `x-kubernetes-*` extensions intact). We read that one file lazily, once,
on first use (about 20 ms with orjson), and walk it for three users:

- strategic merge patch (merge keys and strategies per field),
- `unknown_fields` for `fieldValidation=Strict|Warn`,
- the OpenAPI v2/v3 documents the API server serves.

A "node" is any schema dict; `resolve` follows `$ref` to the definition it names.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

import orjson

SCHEMA_VERSION = "v1.33.0-local"
REF_PREFIX = "#/$defs/"
Node = dict[str, Any]

_SCALARS = frozenset({"string", "integer", "number", "boolean"})


def _definitions_path() -> Path:
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the kubernetes-validate package is not installed")
    base = Path(next(iter(spec.submodule_search_locations)))
    return base / "kubernetes-json-schema" / SCHEMA_VERSION / "_definitions.json"


@functools.cache
def definitions() -> dict[str, Node]:
    """Every definition, by its full name (`io.k8s.api.core.v1.Pod`)."""
    data = orjson.loads(_definitions_path().read_bytes())
    return data["$defs"]


@functools.cache
def _gvk_index() -> dict[tuple[str, str], str]:
    index: dict[tuple[str, str], str] = {}
    for name, node in definitions().items():
        for gvk in node.get("x-kubernetes-group-version-kind") or ():
            group, version = gvk.get("group", ""), gvk.get("version", "")
            api_version = f"{group}/{version}" if group else version
            index.setdefault((api_version, gvk["kind"]), name)
    return index


def definition(name: str) -> Node | None:
    """A definition by name, or None."""
    return definitions().get(name)


def definition_name(api_version: str, kind: str) -> str | None:
    """The definition name for (apiVersion, kind), e.g. ("v1", "Pod")."""
    return _gvk_index().get((api_version, kind))


def definition_for(api_version: str, kind: str) -> Node | None:
    name = definition_name(api_version, kind)
    return definitions()[name] if name else None


def ref_name(node: Node) -> str | None:
    """The definition name a `$ref` node points at."""
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(REF_PREFIX):
        return ref[len(REF_PREFIX):]
    return None


def resolve(node: Node | None) -> Node | None:
    """Follow `$ref` (repeatedly) to the definition; other nodes come back as they are."""
    seen = 0
    while node is not None and "$ref" in node and seen < 32:
        name = ref_name(node)
        node = definitions().get(name) if name else None
        seen += 1
    return node


def types_of(node: Node) -> set[str]:
    """The JSON types a node allows, without "null"."""
    kind = node.get("type")
    if kind is None:
        return set()
    kinds = {kind} if isinstance(kind, str) else set(kind)
    kinds.discard("null")
    return kinds


def is_scalar(node: Node) -> bool:
    """True for scalars, including int-or-string and quantities (`oneOf` scalars)."""
    if "oneOf" in node:
        return all(types_of(n) <= _SCALARS for n in node["oneOf"])
    kinds = types_of(node)
    return bool(kinds) and kinds <= _SCALARS


def property_schema(node: Node | None, name: str) -> Node | None:
    """The (resolved) schema of field `name` of an object node, else of its map values."""
    node = resolve(node)
    if node is None:
        return None
    props = node.get("properties")
    if props and name in props:
        return resolve(props[name])
    extra = node.get("additionalProperties")
    return resolve(extra) if isinstance(extra, dict) else None


def raw_property(node: Node | None, name: str) -> Node | None:
    """The unresolved property node (which carries the `x-kubernetes-patch-*` keys)."""
    node = resolve(node)
    return ((node or {}).get("properties") or {}).get(name)


def items_schema(node: Node | None) -> Node | None:
    node = resolve(node)
    items = (node or {}).get("items")
    return resolve(items) if isinstance(items, dict) else None


def schema_at(root: Node | None, path: list[str]) -> Node | None:
    """The schema at a path of field names ("[]" steps into list items)."""
    node = resolve(root)
    for step in path:
        node = items_schema(node) if step == "[]" else property_schema(node, step)
        if node is None:
            return None
    return node


def _is_open(node: Node) -> bool:
    """An object whose fields are not described (FieldsV1, RawExtension, JSON)."""
    return (not node.get("properties") and "additionalProperties" not in node
            and not node.get("items") and not is_scalar(node))


_UnknownNode = tuple[Node | None, dict[str, Any] | None, Any, Any]
_UNKNOWN: dict[int, _UnknownNode] = {}


def _unknown_node(node: Node) -> _UnknownNode:
    """(resolved node or None when its fields are not checked, properties,
    additionalProperties, items), memoized by node identity like `_check`."""
    found = _UNKNOWN.get(id(node))
    if found is None:
        target = resolve(node)
        if target is None or _is_open(target) or target.get("x-kubernetes-preserve-unknown-fields"):
            found = (None, None, None, None)
        else:
            found = (target, target.get("properties"), target.get("additionalProperties"),
                     target.get("items"))
        _UNKNOWN[id(node)] = found
    return found


def _unknown(node: Node | None, value: Any, path: str, out: list[str], drop: bool) -> None:
    if not isinstance(value, dict | list) or node is None:
        return  # a scalar has no fields
    target, props, extra, items = _unknown_node(node)
    if target is None:
        return
    if isinstance(value, dict):
        for key, sub in list(value.items()):
            if props and key in props:
                known = props[key]
            elif isinstance(extra, dict):
                known = extra
            elif props is not None or extra is False:
                out.append(f"{path}.{key}" if path else key)
                if drop:
                    del value[key]
                continue
            else:
                continue
            if isinstance(sub, dict | list):  # a scalar has no fields: no call, no path
                _unknown(known, sub, f"{path}.{key}" if path else key, out, drop)
    elif isinstance(items, dict):
        for i, item in enumerate(value):
            _unknown(items, item, f"{path}[{i}]", out, drop)


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "object": (dict,), "array": (list,),
}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    names: dict[type, str] = {str: "string", dict: "object", list: "array"}
    return names.get(type(value), "null")


_INT_RANGES = {"int32": (-(1 << 31), (1 << 31) - 1), "int64": (-(1 << 63), (1 << 63) - 1)}
_ZEROS: dict[str, Any] = {"string": "", "integer": 0, "number": 0, "boolean": False}


class _Check:
    """A resolved schema node, the Python types its JSON types allow and, for an
    integer with a `format`, the range Go's int32/int64 can hold.

    Compiled once per node for the type walk: `exact` are the Python types a value may
    have to be accepted with nothing more to check (scalars only), and the children's
    checks are looked up once, on the first object or list that needs them."""

    __slots__ = ("bools", "exact", "extra", "int_format", "integral_floats", "items", "kinds",
                 "node", "props", "py_types", "zero")

    def __init__(self, node: Node | None) -> None:
        self.node = node
        kinds: set[str] = set()
        if node is not None:
            kinds = set().union(*(types_of(n) for n in node["oneOf"])) \
                if "oneOf" in node else types_of(node)
        self.kinds = "/".join(sorted(kinds))
        self.py_types = tuple(t for k in kinds for t in _PY_TYPES.get(k, ()))
        self.bools = "boolean" in kinds
        self.integral_floats = "integer" in kinds  # JSON has one number type: 3.0 is 3
        fmt = (node or {}).get("format")
        self.int_format = fmt if kinds == {"integer"} and fmt in _INT_RANGES else None
        self.exact = _exact_types(kinds, self.int_format) if node is not None else frozenset()
        # what Go decodes `null` into for a scalar (a map's value keeps it); None: no scalar
        self.zero: Any = _ZEROS.get(self.kinds)
        self.props: dict[str, _Check] | None = None
        self.extra: _Check | None = None
        self.items: _Check | None = None

    def children(self) -> dict[str, _Check]:
        """The properties' checks (and `extra`'s and `items`' on the way), once."""
        if self.props is None:
            target = self.node or {}
            extra = target.get("additionalProperties")
            self.extra = _check(extra) if isinstance(extra, dict) else None
            items = target.get("items")
            self.items = _check(items) if isinstance(items, dict) else None
            self.props = {name: _check(child)
                          for name, child in (target.get("properties") or {}).items()}
        return self.props

    def accepts(self, value: Any) -> bool:
        if not self.py_types:
            return True
        if isinstance(value, bool):
            return self.bools
        if isinstance(value, float) and self.integral_floats and value.is_integer():
            return True
        return isinstance(value, self.py_types)

    def in_range(self, value: Any) -> bool:
        if self.int_format is None or isinstance(value, bool):
            return True
        low, high = _INT_RANGES[self.int_format]
        return low <= value <= high


def _exact_types(kinds: set[str], int_format: str | None) -> frozenset[type]:
    """Python types accepted by a scalar node with no range or integral-float fix-up
    to do (an `int` in an int32 field is range-checked, so not listed then)."""
    if not kinds or not kinds <= _SCALARS:
        return frozenset()
    exact: set[type] = set()
    if "string" in kinds:
        exact.add(str)
    if "boolean" in kinds:
        exact.add(bool)
    if ("integer" in kinds and int_format is None) or "number" in kinds:
        exact.add(int)
    return frozenset(exact)


_CHECKS: dict[int, _Check] = {}


def _check(node: Node) -> _Check:
    """Memoized by node identity: schema nodes live as long as the process."""
    found = _CHECKS.get(id(node))
    if found is None:
        found = _CHECKS[id(node)] = _Check(resolve(node))
    return found


def _join(parts: list[str]) -> str:
    return "".join(p if p.startswith("[") else f".{p}" for p in parts).lstrip(".")


def _types(check: _Check, value: Any, parts: list[str], out: list[tuple[str, str, str]]
           ) -> None:
    if check.node is None:
        return
    if not check.accepts(value):
        out.append((_join(parts), check.kinds, _json_type(value)))
        return
    if not check.in_range(value):
        out.append((_join(parts), str(check.int_format), str(value)))
        return
    if isinstance(value, dict):
        props = check.children()
        extra = check.extra
        for key, sub in value.items():
            if sub is None:
                if extra is not None and extra.zero is not None and key not in props:
                    # a map's scalar value: Go stores its zero value (a Secret's
                    # `data: {k: null}` reads back as "", never null)
                    value[key] = extra.zero
                continue
            child = props.get(key) or extra
            if child is None or type(sub) in child.exact:
                continue
            parts.append(key)
            _types(child, sub, parts, out)
            parts.pop()
            if isinstance(sub, float):
                value[key] = _integral(child, sub)
    elif isinstance(value, list):
        check.children()
        items = check.items
        if items is not None:
            for i, item in enumerate(value):
                if item is not None and type(item) not in items.exact:
                    parts.append(f"[{i}]")
                    _types(items, item, parts, out)
                    parts.pop()
                    if isinstance(item, float):
                        value[i] = _integral(items, item)


def _integral(check: _Check, number: float) -> int | float:
    """An integral float in an integer field as an int: Go clients cannot decode `2.0`
    into an int32, so it must be stored as `2`."""
    return int(number) if check.kinds == "integer" and number.is_integer() else number


def type_errors(root: Node | None, obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Fields whose JSON type the schema `root` does not allow: (path, expected, actual).

    Kubernetes rejects these while decoding (a string for `spec.replicas`, or
    2147483648 for an int32); we report them before anything reads the object. On
    the way, integral floats in integer fields become ints in `obj` (`replicas: 2.0`
    is stored as 2), as decoding into Go's integer types does.
    """
    out: list[tuple[str, str, str]] = []
    if root is not None and obj is not None:
        _types(_check(root), obj, [], out)
    return out


def unknown_fields(root: Node | None, obj: dict[str, Any], *, drop: bool = False
                   ) -> list[str]:
    """Paths of fields the schema `root` does not know, e.g.
    `spec.containers[0].imagePullPolcy`; with `drop`, they are removed from `obj` too
    (as decoding into Kubernetes' Go types loses them).

    The paths carry no leading dot, so `f'unknown field "{p}"'` is exactly
    Kubernetes' strict-decoding wording. Order follows the object.
    """
    out: list[str] = []
    if root is not None:
        _unknown(root, obj, "", out, drop)
    return out
