"""Field selectors: `spec.nodeName=n1,status.phase!=Failed`, as Kubernetes has them.

Terms are split on unescaped commas and each on its first `!=`, `==` or `=`
(apimachinery/pkg/fields/selector.go; `\\,`, `\\=` and `\\\\` escape). Each
kind supports only the fields Kubernetes registers for it (its
`GetAttrs`/`AddFieldLabelConversionFunc`; each kind's definition lists them),
and every field is compared as the string Kubernetes derives from the object
(`"true"`, `"3"`, `""` when unset).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kybernetes.api.errors import BadRequest

Getter = Callable[[dict[str, Any]], str]


def field_getter(*keys: str, default: str = "") -> Getter:
    """The getter of the string Kubernetes derives from the field at `keys`."""
    def get(obj: dict[str, Any]) -> str:
        value: Any = obj
        for key in keys:
            if not isinstance(value, dict):
                return default
            value = value.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    return get


METADATA_FIELDS: dict[str, Getter] = {
    "metadata.name": field_getter("metadata", "name"),
    "metadata.namespace": field_getter("metadata", "namespace"),
}


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    equal: bool
    value: str
    getter: Getter

    def matches(self, obj: dict[str, Any]) -> bool:
        return (self.getter(obj) == self.value) == self.equal

    def __str__(self) -> str:
        return f"{self.field}{'=' if self.equal else '!='}{_escape(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    """A conjunction of field requirements; empty selects everything."""

    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: dict[str, Any]) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    def matches_with(self, value_of: Callable[[str, Getter], str]) -> bool:
        """Matching where the caller derives each field (`value_of(field, getter)`),
        e.g. from values it kept instead of the object."""
        return all((value_of(r.field, r.getter) == r.value) == r.equal
                   for r in self.requirements)

    def requires(self, field: str) -> str | None:
        """The value an `=` term pins `field` to, if any (to narrow a list)."""
        for r in self.requirements:
            if r.field == field and r.equal:
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _split_terms(text: str) -> list[str]:
    terms, current, escaped = [], [], False
    for ch in text:
        if escaped:
            current.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append("".join(current))
            current = []
        else:
            current.append(ch)
    terms.append("".join(current))
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    i = 0
    while i < len(term):
        if term[i] == "\\":
            i += 2
            continue
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
        i += 1
    return None


def _unescape(value: str) -> str:
    out, escaped = [], False
    for ch in value:
        if escaped:
            if ch not in "\\,=":
                raise ValueError(f"invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        else:
            out.append(ch)
    if escaped:
        raise ValueError("unterminated escape sequence")
    return "".join(out)


def field_terms(text: str | None) -> list[tuple[str, bool, str]]:
    """The terms of a field selector as (field, equal, value), whatever the fields;
    ValueError naming what is wrong."""
    terms = []
    for term in _split_terms(text or ""):
        if not term:
            continue
        split = _split_term(term)
        if split is None:
            raise ValueError(f"invalid selector: '{text}'; can't understand '{term}'")
        lhs, op, rhs = split
        try:
            terms.append((_unescape(lhs), op != "!=", _unescape(rhs)))
        except ValueError as e:
            raise ValueError(f"invalid field selector: {e}") from None
    return terms


def parse_field_selector(text: str | None, fields: Mapping[str, Getter]) -> FieldSelector:
    """Parse a field selector over the `fields` a kind supports; BadRequest on any mistake."""
    if not text or not text.strip():
        return FieldSelector()
    try:
        terms = field_terms(text)
    except ValueError as e:
        raise BadRequest(str(e)) from None
    reqs = []
    for field, equal, value in terms:
        getter = fields.get(field)
        if getter is None:
            raise BadRequest(f"field label not supported: {field}")
        reqs.append(FieldRequirement(field, equal, value, getter))
    return FieldSelector(tuple(reqs))
