"""Label selectors, parsed and matched exactly as Kubernetes does.

The grammar and the error wording follow apimachinery/pkg/labels/selector.go: a
small lexer (identifiers, `=`, `==`, `!=`, `!`, `(`, `)`, `,`, `>`, `<`, and the
keywords `in`/`notin` where an operator is expected) feeding a recursive-descent
parser. A :class:`Selector` is an immutable, sorted tuple of requirements, so two
selectors that mean the same print the same (`str(sel)` is Kubernetes' canonical
form, e.g. the `status.selector` string of a scale subresource).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kybernetes.api.errors import BadRequest
from kybernetes.api.meta import is_qualified_name, is_valid_label_value

IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "in", "notin", "=", "==", "!="
EXISTS, DOES_NOT_EXIST, GT, LT = "exists", "!", "gt", "lt"

_SPECIAL = ("==", "!=", "=", "!", "(", ")", ",", ">", "<")
_SPECIAL_CHARS = set("=!(),><")
_OPERATOR_TOKENS = {"in": IN, "notin": NOT_IN, "=": EQUALS, "==": DOUBLE_EQUALS,
                    "!=": NOT_EQUALS, ">": GT, "<": LT}
_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"
_END = ""  # the literal of the end-of-string token


class _SyntaxError(Exception):
    pass


@dataclass(frozen=True, order=True)
class Requirement:
    """One `key op values` clause."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op, present = self.operator, self.key in labels
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return present and labels[self.key] in self.values
        if op in (NOT_IN, NOT_EQUALS):
            return not present or labels[self.key] not in self.values
        if op == EXISTS:
            return present
        if op == DOES_NOT_EXIST:
            return not present
        if not present:
            return False
        try:
            have, want = int(labels[self.key]), int(self.values[0])
        except ValueError:
            return False
        return have > want if op == GT else have < want

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({','.join(self.values)})"
        symbol = {GT: ">", LT: "<"}.get(op, op)
        return f"{self.key}{symbol}{self.values[0]}"


@dataclass(frozen=True)
class Selector:
    """A conjunction of requirements; `nothing` marks a selector that matches nothing."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        """True when the selector selects everything."""
        return not self.requirements and not self.nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING = Selector()
NOTHING = Selector(nothing=True)


def _tokens(text: str) -> list[str]:
    """Split into literals: specials, identifiers; whitespace separates."""
    out, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _SPECIAL_CHARS:
            for special in _SPECIAL:
                if text.startswith(special, i):
                    out.append(special)
                    i += len(special)
                    break
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _SPECIAL_CHARS:
                i += 1
            out.append(text[start:i])
    return out


def _is_identifier(tok: str) -> bool:
    return tok != _END and tok not in _SPECIAL


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.pos = 0

    def peek(self) -> str:
        return self.toks[self.pos] if self.pos < len(self.toks) else _END

    def take(self) -> str:
        tok = self.peek()
        self.pos += 1
        return tok

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok = self.peek()
            if tok == _END:
                return reqs
            if not (_is_identifier(tok) or tok == "!"):
                raise _SyntaxError(f"found '{tok}', expected: !, identifier, or 'end of string'")
            try:
                reqs.append(self.requirement())
            except _SyntaxError as e:
                raise _SyntaxError(f"unable to parse requirement: {e}") from None
            tok = self.take()
            if tok == _END:
                return reqs
            if tok != ",":
                raise _SyntaxError(f"found '{tok}', expected: ',' or 'end of string'")
            nxt = self.peek()
            if not (_is_identifier(nxt) or nxt == "!"):
                raise _SyntaxError(f"found '{nxt}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        operator = None
        tok = self.take()
        if tok == "!":
            operator = DOES_NOT_EXIST
            tok = self.take()
        if not _is_identifier(tok):
            raise _SyntaxError(f"found '{tok}', expected: identifier")
        key = tok
        if operator is None and self.peek() in (_END, ","):
            operator = EXISTS
        if operator is not None:
            return make_requirement(key, operator, ())
        op_tok = self.take()
        operator = _OPERATOR_TOKENS.get(op_tok)
        if operator is None:
            raise _SyntaxError(f"found '{op_tok}', expected: {_BINARY_OPERATORS}")
        values = self.set_values() if operator in (IN, NOT_IN) else self.exact_value()
        return make_requirement(key, operator, values)

    def exact_value(self) -> tuple[str, ...]:
        if self.peek() in (_END, ","):
            return ("",)
        tok = self.take()
        if _is_identifier(tok):
            return (tok,)
        raise _SyntaxError(f"found '{tok}', expected: identifier")

    def set_values(self) -> tuple[str, ...]:
        tok = self.take()
        if tok != "(":
            raise _SyntaxError(f"found '{tok}' expected: '('")
        nxt = self.peek()
        if nxt == ")":
            self.take()
            return ("",)
        if not (_is_identifier(nxt) or nxt == ","):
            raise _SyntaxError(f"found '{nxt}', expected: ',', ')' or identifier")
        values: set[str] = set()
        while True:
            tok = self.take()
            if _is_identifier(tok):
                values.add(tok)
                after = self.peek()
                if after == ")":
                    self.take()
                    return tuple(sorted(values))
                if after != ",":
                    raise _SyntaxError(f"found '{after}', expected: ',' or ')'")
                self.take()
                if self.peek() == ")":
                    values.add("")
            elif tok == ",":
                values.add("")
            elif tok == ")":
                return tuple(sorted(values))
            else:
                raise _SyntaxError(f"found '{tok}', expected: ',', or identifier")


def make_requirement(key: str, operator: str, values: tuple[str, ...] | list[str]) -> Requirement:
    """A validated requirement (raises `_SyntaxError` with Kubernetes' wording)."""
    errs = is_qualified_name(key)
    if errs:
        raise _SyntaxError(f'<nil>: Invalid value: "{key}": {"; ".join(errs)}')
    values = tuple(sorted(set(values)))
    if operator in (IN, NOT_IN) and not values:
        raise _SyntaxError("for 'in', 'notin' operators, values set can't be empty")
    if operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS) and len(values) != 1:
        raise _SyntaxError("exact-match compatible operators must have exactly one value")
    if operator in (EXISTS, DOES_NOT_EXIST) and values:
        raise _SyntaxError("values set must be empty for exists and does not exist")
    if operator in (GT, LT):
        if len(values) != 1:
            raise _SyntaxError("for 'Gt', 'Lt' operators, exactly one value is required")
        try:
            int(values[0])
        except ValueError:
            raise _SyntaxError(
                "for 'Gt', 'Lt' operators, the value must be an integer") from None
    else:
        for i, value in enumerate(values):
            errs = is_valid_label_value(value)
            if errs:
                raise _SyntaxError(
                    f'values[{i}][{key}]: Invalid value: "{value}": {"; ".join(errs)}')
    return Requirement(key, operator, values)


def parse_selector(text: str | None) -> Selector:
    """Parse `a=b,c!=d,e in (x,y),f notin (z),g,!h`; BadRequest on bad syntax."""
    if not text or not text.strip():
        return EVERYTHING
    return _parse_cached(text)


@functools.lru_cache(maxsize=1024)
def _parse_cached(text: str) -> Selector:
    """Selectors repeat (every controller list and watch): parse each text once."""
    try:
        reqs = _Parser(text).parse()
    except _SyntaxError as e:
        raise BadRequest(str(e)) from None
    return Selector(tuple(sorted(reqs)))


def selector_from_map(labels: Mapping[str, str] | None) -> Selector:
    """An equality selector from a map (RC and Service `spec.selector`)."""
    if not labels:
        return EVERYTHING
    return Selector(tuple(sorted(Requirement(k, EQUALS, (str(v),)) for k, v in labels.items())))


_EXPRESSION_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS,
                         "DoesNotExist": DOES_NOT_EXIST}


def from_label_selector(selector: Mapping[str, Any] | None) -> Selector:
    """A metav1.LabelSelector (matchLabels + matchExpressions) as a Selector.

    None matches nothing and `{}` matches everything, as LabelSelectorAsSelector.
    """
    if selector is None:
        return NOTHING
    labels = selector.get("matchLabels") if isinstance(selector, Mapping) else None
    expressions = selector.get("matchExpressions") if isinstance(selector, Mapping) else None
    labels, expressions = labels or {}, expressions or []
    if not isinstance(labels, Mapping) or not isinstance(expressions, list) or not all(
            isinstance(e, Mapping) for e in expressions):
        raise BadRequest("invalid label selector: expected matchLabels (a map) and "
                         "matchExpressions (a list of requirements)")
    if not labels and not expressions:
        return EVERYTHING
    reqs = []
    try:
        for k, v in labels.items():
            reqs.append(make_requirement(k, EQUALS, (str(v),)))
        for expr in expressions:
            op = _EXPRESSION_OPERATORS.get(expr.get("operator", ""))
            if op is None:
                raise _SyntaxError(f'"{expr.get("operator", "")}" is not a valid label '
                                   "selector operator")
            reqs.append(make_requirement(expr.get("key", ""), op, expr.get("values") or ()))
    except _SyntaxError as e:
        raise BadRequest(str(e)) from None
    return Selector(tuple(sorted(set(reqs))))


def label_selector_string(selector: Mapping[str, Any] | None) -> str:
    """The canonical string of a LabelSelector (e.g. for a scale's status.selector)."""
    return str(from_label_selector(selector))
