"""The value keywords of a schema level as small checks, worded as kube-openapi words them.

Each keyword becomes one `Check(value, path, errs)` when the schema is compiled;
a check ignores values of a kind it does not apply to (kube-openapi runs the
string checks on strings only, the number checks on numbers only, and so on).
Messages are kube-openapi's (`spec.name in body should match '^[a-z]+$'`) inside
the field error apiextensions-apiserver makes of them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from kybernetes.api.field_errors import ErrorList
from kybernetes.api.structural.formats import FORMATS

Check = Callable[[Any, str, ErrorList], None]


def go_number(number: float | int) -> str:
    """A float64 as Go's %v prints it: `1`, `1.5`, `1e+21`."""
    if isinstance(number, int):
        return str(number)
    if number.is_integer() and abs(number) < 1e21:
        return str(int(number))
    text = repr(number)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        text = f"{mantissa}e{sign}{exponent.lstrip('+-').zfill(2)}"
    return text


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _name(path: str) -> str:
    return f"{path} in body"


def _string_checks(schema: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    max_length, min_length, pattern = (schema.get("maxLength"), schema.get("minLength"),
                                       schema.get("pattern"))
    if max_length is not None:
        def check_max_length(value: Any, path: str, errs: ErrorList) -> None:
            if isinstance(value, str) and len(value) > max_length:
                errs.too_long(path, max_length)
        checks.append(check_max_length)
    if min_length is not None:
        def check_min_length(value: Any, path: str, errs: ErrorList) -> None:
            if isinstance(value, str) and len(value) < min_length:
                errs.invalid(path, value,
                             f"{_name(path)} should be at least {min_length} chars long")
        checks.append(check_min_length)
    if pattern:
        try:
            compiled = re.compile(pattern)
        except re.error:
            return checks  # refused when the CRD is written (check.py); nothing to match here

        def check_pattern(value: Any, path: str, errs: ErrorList) -> None:
            if isinstance(value, str) and not compiled.search(value):
                errs.invalid(path, value, f"{_name(path)} should match '{pattern}'")
        checks.append(check_pattern)
    return checks


def _format_check(schema: dict[str, Any]) -> list[Check]:
    name = schema.get("format")
    accepts = FORMATS.get(name or "")
    if accepts is None or schema.get("type") not in ("string", None):
        return []

    def check_format(value: Any, path: str, errs: ErrorList) -> None:
        if isinstance(value, str) and not accepts(value):
            errs.type_invalid(path, value, f"{_name(path)} must be of type {name}: "
                              f"{json.dumps(value, ensure_ascii=False)}")
    return [check_format]


def _bound_check(limit: float, exclusive: bool, upper: bool) -> Check:
    relation = ("less than" if exclusive else "less than or equal to") if upper else \
        ("greater than" if exclusive else "greater than or equal to")

    def check_bound(value: Any, path: str, errs: ErrorList) -> None:
        if not is_number(value):
            return
        beyond = (value > limit if upper else value < limit) or (exclusive and value == limit)
        if beyond:
            errs.invalid(path, value, f"{_name(path)} should be {relation} {go_number(limit)}")
    return check_bound


def _number_checks(schema: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    factor = schema.get("multipleOf")
    if factor:
        def check_multiple_of(value: Any, path: str, errs: ErrorList) -> None:
            if is_number(value) and not math.isclose(value / factor, round(value / factor)):
                errs.invalid(path, value,
                             f"{_name(path)} should be a multiple of {go_number(factor)}")
        checks.append(check_multiple_of)
    if schema.get("maximum") is not None:
        checks.append(_bound_check(schema["maximum"], bool(schema.get("exclusiveMaximum")), True))
    if schema.get("minimum") is not None:
        checks.append(_bound_check(schema["minimum"], bool(schema.get("exclusiveMinimum")), False))
    return checks


def _count_checks(schema: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    min_items, max_items = schema.get("minItems"), schema.get("maxItems")
    min_props, max_props = schema.get("minProperties"), schema.get("maxProperties")
    if min_items is not None:
        def check_min_items(value: Any, path: str, errs: ErrorList) -> None:
            if isinstance(value, list) and len(value) < min_items:
                errs.invalid(path, len(value),
                             f"{_name(path)} should have at least {min_items} items")
        checks.append(check_min_items)
    if max_items is not None:
        checks.append(_too_many_check(list, max_items))
    if min_props is not None:
        def check_min_properties(value: Any, path: str, errs: ErrorList) -> None:
            if isinstance(value, dict) and len(value) < min_props:
                errs.invalid(path, min_props,
                             f"{_name(path)} should have at least {min_props} properties")
        checks.append(check_min_properties)
    if max_props is not None:
        checks.append(_too_many_check(dict, max_props))
    return checks


def _too_many_check(kind: type[list[Any]] | type[dict[str, Any]], limit: int) -> Check:
    """maxItems (kind list) or maxProperties (kind dict): both are field.TooMany."""
    def check_too_many(value: Any, path: str, errs: ErrorList) -> None:
        if isinstance(value, kind) and len(value) > limit:
            errs.too_many(path, len(value), limit)
    return check_too_many


def _same(a: Any, b: Any) -> bool:
    """JSON equality that keeps booleans apart from 0 and 1."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _enum_check(schema: dict[str, Any]) -> list[Check]:
    allowed = schema.get("enum")
    if not allowed:
        return []
    shown = [v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for v in allowed]

    def check_enum(value: Any, path: str, errs: ErrorList) -> None:
        if not any(_same(value, candidate) for candidate in allowed):
            errs.not_supported(path, value, shown)
    return [check_enum]


def value_checks(schema: dict[str, Any]) -> list[Check]:
    """The checks of one level in kube-openapi's order: string, format, number, counts, enum."""
    return [*_string_checks(schema), *_format_check(schema), *_number_checks(schema),
            *_count_checks(schema), *_enum_check(schema)]
