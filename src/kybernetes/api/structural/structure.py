"""The structural-schema invariants (apiextensions-apiserver schema/validation.go, complete.go).

A structural schema says the type of every field outside the value junctors
(allOf, anyOf, oneOf, not); those may only restrict values. Kubernetes sorts these
causes by their text, so they are returned sorted.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.field_errors import Cause, ErrorList

_INT_OR_STRING = [{"type": "integer"}, {"type": "string"}]
_JUNCTORS = ("allOf", "anyOf", "oneOf", "not")
# keywords a junctor branch must not set: (key, message, whether a false/empty value counts)
_FORBIDDEN_IN_JUNCTOR = (
    ("type", "must be empty to be structural"),
    ("additionalProperties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"),
    ("externalDocs", "must be undefined to be structural"),
    ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
    ("x-kubernetes-embedded-resource", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "must be false to be structural"),
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
    ("x-kubernetes-map-type", "must be undefined to be structural"),
    ("x-kubernetes-validations", "must be empty to be structural"),
)
_LEVEL_TYPE_MESSAGE = {
    "root": "must not be empty at the root",
    "item": "must not be empty for specified array items",
    "field": "must not be empty for specified object fields",
}


def check_structure(schema: dict[str, Any], path: str) -> list[Cause]:
    errs = ErrorList()
    _invariants(schema, "root", path, errs)
    _completeness(schema, schema, path, path, errs, top=True)
    return sorted(errs.causes, key=lambda cause: f"{cause[0]}: {cause[2]}")


def _invariants(s: dict[str, Any], level: str, path: str, errs: ErrorList) -> None:
    kind = s.get("type") or ""
    embedded, preserve = (
        bool(s.get("x-kubernetes-embedded-resource")),
        bool(s.get("x-kubernetes-preserve-unknown-fields")),
    )
    int_or_string = bool(s.get("x-kubernetes-int-or-string"))
    if kind == "array" and not isinstance(s.get("items"), dict):
        errs.required(f"{path}.items", "must be specified")
    if isinstance(s.get("items"), dict):
        _invariants(s["items"], "item", f"{path}.items", errs)
    for key, sub in (s.get("properties") or {}).items():
        _invariants(sub, "field", f"{path}.properties[{key}]", errs)
    additional = s.get("additionalProperties")
    if additional is not None and additional is not False:
        if level == "root":
            errs.forbidden(f"{path}.additionalProperties", "must not be used at the root")
        if isinstance(additional, dict):
            _invariants(additional, "field", f"{path}.additionalProperties", errs)
    if int_or_string and preserve:
        errs.invalid(
            f"{path}.x-kubernetes-preserve-unknown-fields",
            True,
            "must be false if x-kubernetes-int-or-string is true",
        )
    if int_or_string and embedded:
        errs.invalid(
            f"{path}.x-kubernetes-embedded-resource",
            True,
            "must be false if x-kubernetes-int-or-string is true",
        )
    _junctor_branches(s, path, errs)
    if embedded and kind != "object":
        detail = "must be object if x-kubernetes-embedded-resource is true"
        errs.required(f"{path}.type", detail) if not kind else errs.invalid(
            f"{path}.type", kind, detail
        )
    elif not kind and not int_or_string and not preserve:
        errs.required(f"{path}.type", _LEVEL_TYPE_MESSAGE[level])
    if embedded and additional is not None:
        errs.forbidden(
            f"{path}.additionalProperties",
            "must not be used if x-kubernetes-embedded-resource is set",
        )
    if level == "root" and kind and kind != "object":
        errs.invalid(f"{path}.type", kind, "must be object at the root")
    _metadata(s, level, embedded, path, errs)
    if embedded and not preserve and not s.get("properties"):
        errs.required(
            f"{path}.properties",
            "must not be empty if x-kubernetes-embedded-resource "
            "is true without x-kubernetes-preserve-unknown-fields",
        )


def _metadata(s: dict[str, Any], level: str, embedded: bool, path: str, errs: ErrorList) -> None:
    properties = s.get("properties") or {}
    resource_level = level == "root" or embedded
    for key in ("kind", "apiVersion"):
        if key in properties and resource_level and properties[key].get("type") != "string":
            errs.invalid(
                f"{path}.properties[{key}].type", properties[key].get("type", ""), "must be string"
            )
    metadata = properties.get("metadata")
    if metadata is None:
        return
    meta_path = f"{path}.properties[metadata]"
    if resource_level and metadata.get("type") != "object":
        errs.invalid(f"{meta_path}.type", metadata.get("type", ""), "must be object")
    if level == "root":
        rest = {k: v for k, v in metadata.items() if k not in ("type", "default", "properties")}
        names = set(metadata.get("properties") or {})
        if rest or not names <= {"name", "generateName"}:
            errs.forbidden(
                meta_path,
                "must not specify anything other than name and generateName, "
                "but metadata is implicitly specified",
            )


def _junctor_branches(s: dict[str, Any], path: str, errs: ErrorList) -> None:
    any_of = s.get("anyOf") or []
    all_of = s.get("allOf") or []
    skip_any_of = any_of == _INT_OR_STRING
    for junctor in ("anyOf", "allOf", "oneOf"):
        for index, branch in enumerate(s.get(junctor) or ()):
            if junctor == "anyOf" and skip_any_of:
                continue
            skip_inner = (
                junctor == "allOf"
                and index == 0
                and (all_of[0].get("anyOf") or []) == _INT_OR_STRING
            )
            _nested(branch, f"{path}.{junctor}[{index}]", errs, skip_any_of=skip_inner)
    if isinstance(s.get("not"), dict):
        _nested(s["not"], f"{path}.not", errs)


def _branches(v: dict[str, Any], junctor: str, path: str) -> list[tuple[str, Any]]:
    """The schemas `junctor` holds in `v`, each with its path: `not` names one, the
    others a list."""
    if junctor == "not":
        return [(f"{path}.not", v["not"])] if isinstance(v.get("not"), dict) else []
    return [(f"{path}.{junctor}[{index}]", branch)
            for index, branch in enumerate(v.get(junctor) or [])]


def _nested(v: dict[str, Any], path: str, errs: ErrorList, *, skip_any_of: bool = False) -> None:
    for junctor in _JUNCTORS:
        if junctor == "anyOf" and skip_any_of:
            continue
        for where, branch in _branches(v, junctor, path):
            _nested(branch, where, errs)
    if isinstance(v.get("items"), dict):
        _nested(v["items"], f"{path}.items", errs)
    for key, sub in (v.get("properties") or {}).items():
        _nested(sub, f"{path}.properties[{key}]", errs)
    for key, message in _FORBIDDEN_IN_JUNCTOR:
        if v.get(key) not in (None, False, "", [], {}):
            errs.forbidden(f"{path}.{key}", message)
    if "metadata" in (v.get("properties") or {}):
        errs.forbidden(f"{path}.properties[metadata]", "must not be specified in a nested context")


def _completeness(
    v: dict[str, Any],
    s: dict[str, Any] | None,
    s_path: str,
    v_path: str,
    errs: ErrorList,
    *,
    top: bool = False,
) -> None:
    """Every property or items a junctor names must be specified in the structure too."""
    if s is None:
        errs.required(s_path, f"because it is defined in {v_path}")
        return
    if not top:
        if isinstance(v.get("items"), dict):
            items = s.get("items") if isinstance(s.get("items"), dict) else None
            _completeness(v["items"], items, f"{s_path}.items", f"{v_path}.items", errs)
        for key, sub in (v.get("properties") or {}).items():
            known = (s.get("properties") or {}).get(key)
            if known is None:
                errs.required(
                    f"{s_path}.properties[{key}]",
                    f"because it is defined in {v_path}.properties[{key}]",
                )
            else:
                _completeness(
                    sub, known, f"{s_path}.properties[{key}]", f"{v_path}.properties[{key}]", errs
                )
    for junctor in ("not", "allOf", "anyOf", "oneOf"):
        for where, branch in _branches(v, junctor, v_path):
            _completeness(branch, s, s_path, where, errs)
    if top:
        for key, sub in (s.get("properties") or {}).items():
            _completeness(
                sub,
                sub,
                f"{s_path}.properties[{key}]",
                f"{v_path}.properties[{key}]",
                errs,
                top=True,
            )
        if isinstance(s.get("items"), dict):
            _completeness(
                s["items"], s["items"], f"{s_path}.items", f"{v_path}.items", errs, top=True
            )
