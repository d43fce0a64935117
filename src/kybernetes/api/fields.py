"""Field selectors: `spec.nodeName=n1,status.phase!=Failed`, as Kubernetes has them.

Terms are split on unescaped commas and each on its first `!=`, `==` or `=`
(apimachinery/pkg/fields/selector.go; `\\,`, `\\=` and `\\\\` escape). Each
resource supports only the fields Kubernetes registers for it (its
`GetAttrs`/`AddFieldLabelConversionFunc`), and every field is compared as the
string Kubernetes derives from the object (`"true"`, `"3"`, `""` when unset).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kybernetes.api.errors import BadRequest
from kybernetes.api.resources import Resource

Getter = Callable[[dict[str, Any]], str]


def _path(*keys: str, default: str = "") -> Getter:
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


_COMMON: dict[str, Getter] = {
    "metadata.name": _path("metadata", "name"),
    "metadata.namespace": _path("metadata", "namespace"),
}

_BY_PLURAL: dict[tuple[str, str], dict[str, Getter]] = {
    ("", "pods"): {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "spec.hostNetwork": _path("spec", "hostNetwork", default="false"),
        "status.phase": _path("status", "phase"),
        "status.podIP": _path("status", "podIP"),
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    ("", "events"): {
        **{f"involvedObject.{f}": _path("involvedObject", f) for f in (
            "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
        "reason": _path("reason"),
        "reportingComponent": _path("reportingComponent"),
        "source": _path("source", "component"),
        "type": _path("type"),
    },
    ("", "nodes"): {"spec.unschedulable": _path("spec", "unschedulable", default="false")},
    ("", "secrets"): {"type": _path("type")},
    ("", "replicationcontrollers"): {"status.replicas": _path("status", "replicas", default="0")},
    ("apps", "replicasets"): {"status.replicas": _path("status", "replicas", default="0")},
    ("", "namespaces"): {"status.phase": _path("status", "phase")},
}


def supported_fields(resource: Resource) -> dict[str, Getter]:
    """Field name → getter, for the fields `resource` can be selected by."""
    return {**_COMMON, **_BY_PLURAL.get((resource.group, resource.plural), {})}


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


def parse_field_selector(text: str | None, resource: Resource) -> FieldSelector:
    """Parse and check a field selector for `resource`; BadRequest on any mistake."""
    if not text or not text.strip():
        return FieldSelector()
    fields = supported_fields(resource)
    reqs = []
    for term in _split_terms(text):
        if not term:
            continue
        split = _split_term(term)
        if split is None:
            raise BadRequest(f"invalid selector: '{text}'; can't understand '{term}'")
        lhs, op, rhs = split
        try:
            field, value = _unescape(lhs), _unescape(rhs)
        except ValueError as e:
            raise BadRequest(f"invalid field selector: {e}") from None
        getter = fields.get(field)
        if getter is None:
            raise BadRequest(f"field label not supported: {field}")
        reqs.append(FieldRequirement(field, op != "!=", value, getter))
    return FieldSelector(tuple(reqs))
