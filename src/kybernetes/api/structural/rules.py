"""x-kubernetes-validations: compile a level's CEL rules once, run them on a value.

Wording follows apiextensions-apiserver's schema/cel/validation.go: a false rule
gives `Invalid value: "<schema type>": <message>` (or Forbidden / Required /
Duplicate as `reason` asks) at the rule's level or its `fieldPath`; a failing
evaluation gives `<error> evaluating rule: <rule>`. Transition rules (those that
read `oldSelf`) run only where an old value correlates, unless the rule sets
`optionalOldSelf`, in which case `oldSelf` is a CEL optional.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kybernetes.api.cel import (
    Activation,
    CompileError,
    EvaluationError,
    Program,
    compile_program,
    optional,
)
from kybernetes.api.field_errors import DUPLICATE, FORBIDDEN, INVALID, REQUIRED, ErrorList

RULE_VARIABLES = frozenset({"self", "oldSelf"})
MESSAGE_VARIABLES = frozenset({"self", "oldSelf"})
REASONS = (DUPLICATE, FORBIDDEN, INVALID, REQUIRED)
_FIELD_PATH_STEP = re.compile(r"\.([A-Za-z_][\w-]*)|\[\s*'((?:\\.|[^'])*)'\s*\]|\[\s*(\d+)\s*\]")


@dataclass(frozen=True)
class Rule:
    """One compiled x-kubernetes-validations entry."""

    text: str
    message: str
    program: Program | None
    compile_error: str
    message_program: Program | None
    uses_old_self: bool
    optional_old_self: bool
    reason: str
    field_path: str

    @property
    def shown(self) -> str:
        """ruleErrorString: the message when there is one, else the rule."""
        return self.message or self.text

    def failure_message(self) -> str:
        return self.message or f"failed rule: {self.text}"


def field_path_suffix(field_path: str, schema: dict[str, Any]) -> str:
    """A rule's fieldPath (`.spec.ports[0]`, `['a.b']`) as a field-path suffix."""
    suffix = ""
    for name, quoted, index in _FIELD_PATH_STEP.findall(field_path.strip()):
        if index:
            suffix += f"[{index}]"
            schema = schema.get("items") or {}
            continue
        key = name or quoted
        properties = schema.get("properties") or {}
        suffix += f".{key}" if key in properties or not schema.get("additionalProperties") \
            else f"[{key}]"
        schema = properties.get(key) or schema.get("additionalProperties") or {}
    return suffix


def compile_rule(entry: dict[str, Any], schema: dict[str, Any]) -> Rule:
    """Compile one entry; a compile error is kept on the Rule, not raised."""
    text = (entry.get("rule") or "").strip()
    program, error = None, ""
    try:
        program = compile_program(text, RULE_VARIABLES)
    except CompileError as failure:
        error = str(failure)
    message_program = None
    if (entry.get("messageExpression") or "").strip():
        try:
            message_program = compile_program(entry["messageExpression"], MESSAGE_VARIABLES,
                                              error_prefix="messageExpression compilation failed")
        except CompileError:
            message_program = None
    return Rule(text=text, message=(entry.get("message") or "").strip(), program=program,
                compile_error=error, message_program=message_program,
                uses_old_self=program is not None and "oldSelf" in program.variables,
                optional_old_self=bool(entry.get("optionalOldSelf")),
                reason=entry.get("reason") or INVALID,
                field_path=field_path_suffix(entry.get("fieldPath") or "", schema))


def compile_rules(schema: dict[str, Any]) -> tuple[Rule, ...]:
    entries = schema.get("x-kubernetes-validations") or ()
    return tuple(compile_rule(entry, schema) for entry in entries)


_VARIABLE_USE = re.compile(r"\b(self|oldSelf)\b(\s*\.\s*([A-Za-z_]\w*)(\s*\()?)?")


def projection(schema: dict[str, Any]) -> frozenset[str] | None:
    """The fields of `self`/`oldSelf` a level's rules (and message expressions) read, when
    they read nothing else of them: only those fields need converting to CEL values, which
    is most of a rule's cost. None when a rule uses `self` as a whole (`size(self)`, a
    macro such as `self.all(…)`, a string that merely contains "self"): convert it all."""
    fields: set[str] = set()
    for entry in schema.get("x-kubernetes-validations") or ():
        for text in (entry.get("rule") or "", entry.get("messageExpression") or ""):
            for match in _VARIABLE_USE.finditer(text):
                if match.group(3) is None or match.group(4) is not None:
                    return None
                fields.add(match.group(3))
    return frozenset(fields)


def _project(value: Any, fields: frozenset[str] | None) -> Any:
    if fields is None or not isinstance(value, dict):
        return value
    return {k: value[k] for k in fields if k in value}


class _Activations:
    """The activations of one value, built on first use: without oldSelf, with, optional."""

    def __init__(self, value: Any, old: Any, has_old: bool) -> None:
        self.value, self.old, self.has_old = value, old, has_old
        self._plain: Activation | None = None
        self._optional: Activation | None = None

    def plain(self) -> Activation:
        if self._plain is None:
            variables = {"self": self.value}
            if self.has_old:
                variables["oldSelf"] = self.old
            self._plain = Activation(variables)
        return self._plain

    def optional(self) -> Activation:
        if self._optional is None:
            self._optional = Activation({"self": self.value,
                                         "oldSelf": optional(self.old, self.has_old)})
        return self._optional


def run_rules(rules: tuple[Rule, ...], value: Any, *, path: str, type_name: str,
              errs: ErrorList, old: Any = None, has_old: bool = False,
              fields: frozenset[str] | None = None) -> None:
    """Evaluate every rule of one level on `value` (null values are not validated);
    `fields` is the level's projection (see :func:`projection`)."""
    if value is None:
        return
    activations = _Activations(_project(value, fields), _project(old, fields), has_old)
    for rule in rules:
        if rule.program is None:
            errs.invalid(path, type_name, f"rule compile error: {rule.compile_error}")
            continue
        if rule.uses_old_self and not has_old and not rule.optional_old_self:
            continue
        activation = activations.optional() if rule.uses_old_self and rule.optional_old_self \
            else activations.plain()
        try:
            result = rule.program.evaluate(activation)
        except EvaluationError as error:
            _evaluation_failed(rule, error, path, type_name, errs)
            continue
        if result is not True:
            _rule_failed(rule, activation, path + rule.field_path, type_name, errs)


def _evaluation_failed(rule: Rule, error: EvaluationError, path: str, type_name: str,
                       errs: ErrorList) -> None:
    if error.no_such_overload:
        errs.invalid(path, type_name, f"'{error.detail}': call arguments did not match a supported "
                     f"operator, function or macro signature for rule: {rule.shown}")
    else:
        errs.invalid(path, type_name, f"{error.detail} evaluating rule: {rule.shown}")


def _rule_failed(rule: Rule, activation: Activation, path: str, type_name: str,
                 errs: ErrorList) -> None:
    detail = rule.failure_message()
    if rule.message_program is not None:
        try:
            message = rule.message_program.evaluate(activation)
        except EvaluationError:
            message = detail  # Kubernetes logs this and falls back to the static message
        if not isinstance(message, str):
            errs.invalid(path, type_name, "messageExpression failed to convert to string")
            return
        message = message.strip()
        if "\n" in message or "\r" in message:
            errs.invalid(path, type_name, "messageExpression should not contain line breaks")
            return
        if not message:
            errs.invalid(path, type_name, "messageExpression should evaluate to a non-empty string")
            return
        detail = message
    if rule.reason == FORBIDDEN:
        errs.forbidden(path, detail)
    elif rule.reason == REQUIRED:
        errs.required(path, detail)
    elif rule.reason == DUPLICATE:
        errs.duplicate(path, type_name)
    else:
        errs.invalid(path, type_name, detail)
