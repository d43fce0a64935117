"""Field errors as apimachinery's field package words them, and checks every kind shares.

A validator collects `(field, reason, message)` causes in an :class:`ErrorList`;
the message is Kubernetes' field.Error body (`Required value`, `Invalid value:
"Foo": <why>`, `Unsupported value: "x": supported values: "a", "b"`, …) because
kubectl prints causes verbatim, and the reason is the Status CauseType.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from kybernetes.api import meta as names

Cause = tuple[str, str, str]
Obj = dict[str, Any]

REQUIRED, INVALID = "FieldValueRequired", "FieldValueInvalid"
NOT_SUPPORTED, DUPLICATE = "FieldValueNotSupported", "FieldValueDuplicate"
FORBIDDEN, TOO_LONG, NOT_FOUND = "FieldValueForbidden", "FieldValueTooLong", "FieldValueNotFound"
TYPE_INVALID, TOO_MANY = "FieldValueTypeInvalid", "FieldValueTooMany"

PROTOCOLS = ("SCTP", "TCP", "UDP")


class InterfaceMap(dict[str, Any]):
    """A map Go holds as map[string]interface{} (a list-map entry's keys): printed with %#v."""


class GoSyntax(str):
    """A value already printed as Go prints it (%#v of a struct): shown verbatim."""


def format_value(value: Any) -> str:
    """A bad value as Go's field.Error prints it (%q for strings, %#v for maps)."""
    if isinstance(value, GoSyntax):
        return str(value)
    if isinstance(value, InterfaceMap):
        body = ", ".join(f"{json.dumps(k)}:{format_value(v)}" for k, v in sorted(value.items()))
        return "map[string]interface {}{" + body + "}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        body = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(value.items()))
        return "map[string]string{" + body + "}"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[]string{" + ", ".join(json.dumps(v) for v in value) + "}"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class ErrorList:
    """Collects causes; methods mirror apimachinery's field.Required/Invalid/…"""

    def __init__(self) -> None:
        self.causes: list[Cause] = []

    def required(self, path: str, detail: str = "") -> None:
        self.causes.append((path, REQUIRED, "Required value" + (f": {detail}" if detail else "")))

    def invalid(self, path: str, value: Any, detail: str) -> None:
        self.causes.append((path, INVALID, f"Invalid value: {format_value(value)}: {detail}"))

    def not_supported(self, path: str, value: Any, supported: Iterable[str]) -> None:
        allowed = ", ".join(json.dumps(s) for s in supported)
        self.causes.append((path, NOT_SUPPORTED,
                            f"Unsupported value: {format_value(value)}: supported values: "
                            f"{allowed}"))

    def duplicate(self, path: str, value: Any) -> None:
        self.causes.append((path, DUPLICATE, f"Duplicate value: {format_value(value)}"))

    def forbidden(self, path: str, detail: str) -> None:
        self.causes.append((path, FORBIDDEN, f"Forbidden: {detail}"))

    def too_long(self, path: str, limit: int) -> None:
        self.causes.append((path, TOO_LONG, f"Too long: may not be more than {limit} bytes"))

    def too_many(self, path: str, actual: int, limit: int) -> None:
        self.causes.append((path, TOO_MANY, f"Too many: {actual}: must have at most {limit} items"))

    def type_invalid(self, path: str, value: Any, detail: str) -> None:
        """field.TypeInvalid: worded as Invalid, reported with its own CauseType."""
        self.causes.append((path, TYPE_INVALID, f"Invalid value: {format_value(value)}: {detail}"))

    def not_found(self, path: str, value: Any) -> None:
        self.causes.append((path, NOT_FOUND, f"Not found: {format_value(value)}"))

    def each(self, path: str, value: Any, messages: list[str]) -> None:
        for message in messages:
            self.invalid(path, value, message)

    def required_valid(self, path: str, value: Any, check: Callable[[Any], list[str]]) -> None:
        """Required when empty; otherwise every message `check(value)` gives is Invalid."""
        if not value:
            self.required(path)
        else:
            self.each(path, value, check(value))

    def one_of(self, path: str, value: Any, supported: tuple[str, ...]) -> None:
        if value in (None, ""):
            self.required(path)
        elif value not in supported:
            self.not_supported(path, value, supported)

    def non_negative(self, path: str, value: Any) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            self.invalid(path, value, "must be greater than or equal to 0")

    def immutable(self, path: str, new: Any, old: Any) -> None:
        if new != old:
            self.invalid(path, new, "field is immutable")


def as_dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def validate_labels(errs: ErrorList, labels: Any, path: str) -> None:
    for key, value in as_dict(labels).items():
        errs.each(path, key, names.is_qualified_name(key))
        if not isinstance(value, str):
            errs.invalid(path, value, "label values must be strings")
        else:
            errs.each(path, value, names.is_valid_label_value(value))


SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def label_selector_errors(selector: Any, path: str, *, check_values: bool = True) -> list[Any]:
    """metav1validation.ValidateLabelSelector, as causes."""
    errs = ErrorList()
    selector = as_dict(selector)
    validate_labels(errs, selector.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(as_list(selector.get("matchExpressions"))):
        expr, p = as_dict(expr), f"{path}.matchExpressions[{i}]"
        op, values = expr.get("operator"), as_list(expr.get("values"))
        if op in ("In", "NotIn") and not values:
            errs.required(f"{p}.values", "must be specified when `operator` is 'In' or 'NotIn'")
        elif op in ("Exists", "DoesNotExist") and values:
            errs.forbidden(f"{p}.values", "may not be specified when `operator` is 'Exists' or "
                                          "'DoesNotExist'")
        elif op not in SELECTOR_OPERATORS:
            errs.invalid(f"{p}.operator", op, "not a valid selector operator")
        key = str(expr.get("key", ""))
        errs.each(f"{p}.key", key, names.is_qualified_name(key))
        for j, value in enumerate(values if check_values else ()):
            errs.each(f"{p}.values[{j}]", value, names.is_valid_label_value(str(value)))
    return errs.causes
