"""What apiextensions-apiserver refuses in a CRD's openAPIV3Schema, with its paths and words.

`check_schema(schema, path)` returns the causes of the 422 a CRD create or update
gets, in Kubernetes' order: the per-level checks of
ValidateCustomResourceDefinitionOpenAPISchema (unsupported keywords, list and
map types, CEL rules), then the structural-schema invariants (sorted, as
Kubernetes sorts them), then defaults that do not validate or are not pruned.
`path` is where the schema sits, e.g. `spec.versions[0].schema.openAPIV3Schema`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

from kybernetes.api.cel import CompileError, compile_program
from kybernetes.api.field_errors import Cause, ErrorList, GoSyntax, InterfaceMap
from kybernetes.api.structural.node import MISSING, Node, compile_schema
from kybernetes.api.structural.prune import _prune
from kybernetes.api.structural.rules import MESSAGE_VARIABLES, REASONS, compile_rule
from kybernetes.api.structural.structure import check_structure
from kybernetes.api.structural.validate import _Errors, _validate, run_cel

_TYPES = ("array", "boolean", "integer", "number", "object", "string")
_UNSUPPORTED = (
    ("id", "id is not supported"),
    ("additionalItems", "additionalItems is not supported"),
    ("patternProperties", "patternProperties is not supported"),
    ("definitions", "definitions is not supported"),
    ("dependencies", "dependencies is not supported"),
    ("$ref", "$ref is not supported"),
)
_META = frozenset({"apiVersion", "kind", "metadata"})


def check_schema(schema: dict[str, Any], path: str) -> list[Cause]:
    """Every cause Kubernetes gives for this openAPIV3Schema; empty when it is acceptable."""
    errs = ErrorList()
    if schema.get("type") and schema["type"] != "object":
        errs.invalid(
            f"{path}.type",
            schema["type"],
            'only "object" is allowed as the type at the root of the schema',
        )
    _check_level(schema, path, errs, root=True, uncorrelatable="")
    structural = check_structure(schema, path)
    if structural:
        return errs.causes + structural
    return errs.causes + _check_defaults(compile_schema(schema), path)


def _children(schema: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(kind, sub-schema, path) of every nested schema."""
    for key, sub in (schema.get("properties") or {}).items():
        yield "property:" + key, sub, f"{path}.properties[{key}]"
    if isinstance(schema.get("additionalProperties"), dict):
        yield "additionalProperties", schema["additionalProperties"], f"{path}.additionalProperties"
    if isinstance(schema.get("items"), dict):
        yield "items", schema["items"], f"{path}.items"
    for junctor in ("allOf", "anyOf", "oneOf"):
        for index, sub in enumerate(schema.get(junctor) or ()):
            yield junctor, sub, f"{path}.{junctor}[{index}]"
    if isinstance(schema.get("not"), dict):
        yield "not", schema["not"], f"{path}.not"


def _check_level(
    schema: dict[str, Any],
    path: str,
    errs: ErrorList,
    *,
    root: bool,
    uncorrelatable: str,
    inside_meta: bool = False,
) -> None:
    _check_keywords(schema, path, errs, inside_meta)
    for kind, sub, sub_path in _children(schema, path):
        name = kind.removeprefix("property:")
        meta = inside_meta or (
            (root or bool(schema.get("x-kubernetes-embedded-resource")))
            and kind.startswith("property:")
            and name in _META
        )
        below = uncorrelatable
        if kind == "items" and schema.get("x-kubernetes-list-type") != "map":
            below = below or path
        _check_level(sub, sub_path, errs, root=False, uncorrelatable=below, inside_meta=meta)
    _check_list_and_map_types(schema, path, errs)
    _check_rules(schema, path, errs, uncorrelatable)


def _check_keywords(schema: dict[str, Any], path: str, errs: ErrorList, inside_meta: bool) -> None:
    kind = schema.get("type")
    if kind and kind not in _TYPES:
        if kind == "null":
            errs.forbidden(
                f"{path}.type", "type cannot be set to null, use nullable as an alternative"
            )
        else:
            errs.not_supported(f"{path}.type", kind, _TYPES)
    for keyword, message in _UNSUPPORTED:
        if schema.get(keyword) not in (None, {}, []):
            errs.forbidden(f"{path}.{keyword}", message)
    if isinstance(schema.get("items"), list):
        errs.forbidden(f"{path}.items", "items must be a schema object and not an array")
    if inside_meta and schema.get("x-kubernetes-embedded-resource"):
        errs.forbidden(
            f"{path}.x-kubernetes-embedded-resource", "must not be used inside of resource meta"
        )
    if schema.get("uniqueItems") is True:
        errs.forbidden(
            f"{path}.uniqueItems",
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        )
    additional = schema.get("additionalProperties")
    if additional is not None and schema.get("properties") and additional is not True:
        errs.forbidden(
            f"{path}.additionalProperties",
            "additionalProperties and properties are mutual exclusive",
        )
    if schema.get("x-kubernetes-preserve-unknown-fields") is False:
        errs.invalid(
            f"{path}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined"
        )
    if schema.get("pattern"):
        try:
            re.compile(schema["pattern"])
        except re.error as error:
            errs.invalid(
                f"{path}.pattern",
                schema["pattern"],
                f"must be a valid regular expression, but isn't: {error}",
            )


def _require_type(
    schema: dict[str, Any], path: str, errs: ErrorList, wanted: str, why: str
) -> None:
    if not schema.get("type"):
        errs.required(f"{path}.type", f"must be {wanted} if {why}")
    elif schema["type"] != wanted:
        errs.invalid(f"{path}.type", schema["type"], f"must be {wanted} if {why}")


def _check_list_and_map_types(schema: dict[str, Any], path: str, errs: ErrorList) -> None:
    map_type, list_type = schema.get("x-kubernetes-map-type"), schema.get("x-kubernetes-list-type")
    keys = schema.get("x-kubernetes-list-map-keys") or []
    items = schema.get("items") if isinstance(schema.get("items"), dict) else None
    if map_type is not None:
        if schema.get("type") != "object":
            _require_type(schema, path, errs, "object", "x-kubernetes-map-type is specified")
        if map_type not in ("atomic", "granular"):
            errs.not_supported(f"{path}.x-kubernetes-map-type", map_type, ("atomic", "granular"))
    if list_type is not None and schema.get("type") != "array":
        _require_type(schema, path, errs, "array", "x-kubernetes-list-type is specified")
    elif list_type == "set" and items is not None:
        _check_set_items(items, path, errs)
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        errs.not_supported(f"{path}.x-kubernetes-list-type", list_type, ("atomic", "set", "map"))
    if keys and list_type != "map":
        if list_type is None:
            errs.required(
                f"{path}.x-kubernetes-list-type",
                "must be map if x-kubernetes-list-map-keys is non-empty",
            )
        else:
            errs.invalid(
                f"{path}.x-kubernetes-list-type",
                list_type,
                "must be map if x-kubernetes-list-map-keys is non-empty",
            )
    if list_type == "map":
        _check_map_list(schema, items, keys, path, errs)
    if list_type in ("set", "map") and items is not None and items.get("nullable"):
        errs.forbidden(
            f"{path}.items.nullable",
            f"cannot be nullable when x-kubernetes-list-type is {list_type}",
        )
    if list_type == "map" and items is not None:
        _check_map_keys_defaulted(items, keys, path, errs)


def _check_set_items(items: dict[str, Any], path: str, errs: ErrorList) -> None:
    detail = "must be atomic as item of a list with x-kubernetes-list-type=set"
    if items.get("type") == "array" and items.get("x-kubernetes-list-type", "atomic") != "atomic":
        errs.invalid(
            f"{path}.items.x-kubernetes-list-type", items["x-kubernetes-list-type"], detail
        )
    if items.get("type") == "object" and items.get("x-kubernetes-map-type") != "atomic":
        errs.invalid(
            f"{path}.items.x-kubernetes-map-type", items.get("x-kubernetes-list-type"), detail
        )


def _check_map_list(
    schema: dict[str, Any],
    items: dict[str, Any] | None,
    keys: list[str],
    path: str,
    errs: ErrorList,
) -> None:
    if not keys:
        errs.required(
            f"{path}.x-kubernetes-list-map-keys",
            "must not be empty if x-kubernetes-list-type is map",
        )
    if schema.get("items") is None:
        errs.required(f"{path}.items", "must have a schema if x-kubernetes-list-type is map")
    if items is None:
        return
    if items.get("type") != "object":
        errs.invalid(
            f"{path}.items.type",
            items.get("type", ""),
            "must be object if parent array's x-kubernetes-list-type is map",
        )
        return
    properties = items.get("properties") or {}
    shown = GoSyntax("[]string{" + ", ".join(json.dumps(k) for k in keys) + "}")
    for index, key in enumerate(keys):
        if key not in properties:
            errs.invalid(
                f"{path}.x-kubernetes-list-map-keys",
                shown,
                "entries must all be names of item properties",
            )
        elif properties[key].get("type") in ("array", "object"):
            errs.invalid(
                f"{path}.items.properties[{key}].type",
                items.get("type", ""),
                "must be a scalar type if parent array's x-kubernetes-list-type is map",
            )
        if key in keys[:index]:
            errs.invalid(
                f"{path}.x-kubernetes-list-map-keys", shown, "must not contain duplicate entries"
            )


def _check_map_keys_defaulted(
    items: dict[str, Any], keys: list[str], path: str, errs: ErrorList
) -> None:
    required = set(items.get("required") or ())
    for key in keys:
        prop = (items.get("properties") or {}).get(key)
        if prop is None:
            continue
        if key not in required and "default" not in prop:
            errs.required(
                f"{path}.items.properties.{key}.default",
                "this property is in "
                "x-kubernetes-list-map-keys, so it must have a default or be a required property",
            )
        if prop.get("nullable"):
            errs.forbidden(
                f"{path}.items.properties.{key}.nullable",
                "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
            )


def rule_literal(entry: dict[str, Any]) -> GoSyntax:
    """The rule as Go's %#v prints an apiextensions.ValidationRule."""
    reason = (
        "(*apiextensions.FieldValueErrorReason)(nil)"
        if entry.get("reason") is None
        else "(*apiextensions.FieldValueErrorReason)(0xc000000000)"
    )
    optional = "(*bool)(nil)" if entry.get("optionalOldSelf") is None else "(*bool)(0xc000000000)"
    return GoSyntax(
        f"apiextensions.ValidationRule{{Rule:{json.dumps(entry.get('rule', ''))}, "
        f"Message:{json.dumps(entry.get('message', ''))}, "
        f"MessageExpression:{json.dumps(entry.get('messageExpression', ''))}, Reason:{reason}, "
        f"FieldPath:{json.dumps(entry.get('fieldPath', ''))}, OptionalOldSelf:{optional}}}"
    )


def _check_rules(schema: dict[str, Any], path: str, errs: ErrorList, uncorrelatable: str) -> None:
    for index, entry in enumerate(schema.get("x-kubernetes-validations") or ()):
        at = f"{path}.x-kubernetes-validations[{index}]"
        rule = compile_rule(entry, schema)
        text, message = (entry.get("rule") or ""), entry.get("message") or ""
        if not text.strip():
            errs.required(f"{at}.rule", "rule is not specified")
        elif rule.program is None:
            errs.invalid(f"{at}.rule", rule_literal(entry), rule.compile_error)
        if message and not message.strip():
            errs.invalid(f"{at}.message", message, "message must be non-empty if specified")
        elif "\n" in message.strip():
            errs.invalid(f"{at}.message", message, "message must not contain line breaks")
        elif "\n" in text.strip() and not message.strip():
            errs.required(f"{at}.message", "message must be specified if rule contains line breaks")
        _check_message_expression(entry, at, errs)
        if entry.get("reason") is not None and entry["reason"] not in REASONS:
            errs.not_supported(f"{at}.reason", entry["reason"], sorted(REASONS))
        _check_field_path(entry.get("fieldPath"), schema, at, errs)
        if rule.uses_old_self and uncorrelatable:
            errs.invalid(
                f"{at}.rule",
                text,
                "oldSelf cannot be used on the uncorrelatable portion "
                f"of the schema within {uncorrelatable}",
            )


def _check_message_expression(entry: dict[str, Any], at: str, errs: ErrorList) -> None:
    expression = entry.get("messageExpression")
    if expression is None or expression == "":
        return
    if not expression.strip():
        errs.required(f"{at}.messageExpression", "messageExpression must be non-empty if specified")
        return
    try:
        compile_program(
            expression, MESSAGE_VARIABLES, error_prefix="messageExpression compilation failed"
        )
    except CompileError as error:
        errs.invalid(f"{at}.messageExpression", rule_literal(entry), str(error))


def _check_field_path(
    field_path: str | None, schema: dict[str, Any], at: str, errs: ErrorList
) -> None:
    if field_path is None or field_path == "":
        return
    if not field_path.strip():
        errs.invalid(f"{at}.fieldPath", field_path, "fieldPath must be non-empty if specified")
    elif "\n" in field_path:
        errs.invalid(f"{at}.fieldPath", field_path, "fieldPath must not contain line breaks")
    elif not _resolves(field_path.strip(), schema):
        errs.invalid(f"{at}.fieldPath", field_path, "fieldPath must be a valid path")


def _resolves(field_path: str, schema: dict[str, Any]) -> bool:
    steps = re.findall(r"\.([A-Za-z_][\w-]*)|\['((?:\\.|[^'])*)'\]|\[(\d+)\]", field_path)
    if (
        "".join(f".{a}" if a else (f"['{b}']" if b else f"[{c}]") for a, b, c in steps)
        != field_path
    ):
        return False
    for name, quoted, index in steps:
        if index:
            items = schema.get("items")
            schema = items if isinstance(items, dict) else {}
        else:
            key = name or quoted
            schema = (schema.get("properties") or {}).get(key) or (
                schema["additionalProperties"]
                if isinstance(schema.get("additionalProperties"), dict)
                else {}
            )
        if not schema:
            return False
    return True


def _check_defaults(root: Node, path: str) -> list[Cause]:
    """ValidateDefaults: each default validates against its own level and is already pruned."""
    errs = ErrorList()
    _defaults_below(root, path, errs, root=True)
    return errs.causes


def _defaults_below(node: Node, path: str, errs: ErrorList, *, root: bool = False) -> None:
    if node.default is not MISSING and not root:
        _check_default(node, f"{path}.default", errs)
    for key, child in node.properties.items():
        if not (root and key in _META):
            _defaults_below(child, f"{path}.properties[{key}]", errs)
    if node.additional is not None:
        _defaults_below(node.additional, f"{path}.additionalProperties", errs)
    if node.items is not None:
        _defaults_below(node.items, f"{path}.items", errs)


def _relocate(causes: list[Cause], base: str) -> list[Cause]:
    return [
        (base + ("" if not f else f if f.startswith("[") else "." + f), r, m) for f, r, m in causes
    ]


def _check_default(node: Node, at: str, errs: ErrorList) -> None:
    value = node.default
    walk = _Errors()
    _validate(node, value, "", walk)
    errs.causes += _relocate(walk.causes(), at)
    if node.has_rules:
        cel = ErrorList()
        run_cel(node, value, None, False, "", cel)
        errs.causes += _relocate(cel.causes, at)
    pruned: list[str] = []
    _prune(node, copy.deepcopy(value), "", pruned, resource=node.embedded)
    if pruned:
        errs.invalid(
            at,
            InterfaceMap(value) if isinstance(value, dict) else value,
            "must not have unknown fields",
        )
