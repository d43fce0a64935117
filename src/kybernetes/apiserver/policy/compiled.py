"""One ValidatingAdmissionPolicy compiled, and evaluated against one request and param.

Follows policy/validating/validator.go: matchConditions first (false → no
decision); then each validation gives Admit, or Deny with its message — the
messageExpression's string when it yields a non-blank single line, else
`message`, else `failed expression: <expression>` — and its reason (Invalid by
default). An evaluation error is a Deny under failurePolicy Fail (its message
`expression '…' resulted in error: …`) and an Admit under Ignore.

Variables are evaluated eagerly in order, each seeing the earlier ones as
`variables.<name>` (Kubernetes evaluates them lazily); a validation naming a
variable that failed reports `composited variable "<name>" fails to evaluate: …`
as Kubernetes does, without being run. auditAnnotations are compiled (so a
broken one is a configuration error) but not evaluated: there is no audit log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kybernetes.api.admission_expressions import VARIABLES, compile_expression, declarations
from kybernetes.api.cel import Activation, CelError, Program
from kybernetes.apiserver.webhooks.conditions import ConditionError, MatchConditions

Obj = dict[str, Any]
_VARIABLE_USE = re.compile(r"\bvariables\.([A-Za-z_]\w*)")
_MAX_MESSAGE_BYTES = 5 * 1024


@dataclass(frozen=True)
class Decision:
    """A failed validation (or an evaluation error under Fail): what the binding's actions see."""

    message: str
    reason: str = ""


@dataclass(frozen=True)
class _Validation:
    program: Program
    message: str
    message_program: Program | None
    reason: str
    variables: frozenset[str]


@dataclass(frozen=True)
class CompiledPolicy:
    """The programs of one policy generation."""

    name: str
    fails_open: bool
    conditions: MatchConditions
    variables: tuple[tuple[str, Program], ...]
    validations: tuple[_Validation, ...]

    @classmethod
    def compile(cls, policy: Obj) -> CompiledPolicy:
        """Raises CompileError (a stored policy compiled when it was written)."""
        spec = policy.get("spec") or {}
        has_params = spec.get("paramKind") is not None
        composed = bool(spec.get("variables"))
        declared = declarations(params=has_params, variables=composed)
        messages = declarations(params=has_params, authorizer=False, variables=composed)
        for annotation in spec.get("auditAnnotations") or []:
            compile_expression(str(annotation.get("valueExpression") or "").strip(), declared)
        return cls(
            name=str((policy.get("metadata") or {}).get("name") or ""),
            fails_open=spec.get("failurePolicy") == "Ignore",
            conditions=MatchConditions.compile(spec.get("matchConditions") or [],
                                               declarations(params=has_params)),
            variables=tuple((str(v.get("name")), compile_expression(str(v.get("expression")),
                                                                     declared))
                            for v in spec.get("variables") or []),
            validations=tuple(_compile_validation(v, declared, messages)
                              for v in spec.get("validations") or []))

    def evaluate(self, variables: Activation) -> list[Decision]:
        """The failed validations for one request and param (nothing when conditions fail)."""
        try:
            if not self.conditions.matches(variables, fails_open=self.fails_open):
                return []
        except ConditionError as e:
            return [Decision(str(e))]
        failed_variables = self._bind_variables(variables)
        decisions: list[Decision] = []
        for validation in self.validations:
            decision = self._validate(validation, variables, failed_variables)
            if decision is not None:
                decisions.append(decision)
        return decisions

    def _bind_variables(self, variables: Activation) -> dict[str, str]:
        """Evaluate `variables` in order into the activation; the errors by variable name."""
        values: dict[str, Any] = {}
        failed: dict[str, str] = {}
        for name, program in self.variables:
            variables.bind(VARIABLES, values)
            try:
                values[name] = program.evaluate(variables)
            except CelError as e:
                failed[name] = f'composited variable "{name}" fails to evaluate: {e.detail}'
        if self.variables:
            variables.bind(VARIABLES, values)
        return failed

    def _validate(self, validation: _Validation, variables: Activation,
                  failed_variables: dict[str, str]) -> Decision | None:
        expression = validation.program.expression
        broken = [failed_variables[n] for n in validation.variables if n in failed_variables]
        try:
            if broken:
                raise CelError(broken[0])
            result = validation.program.evaluate(variables)
        except CelError as e:
            if self.fails_open:
                return None
            return Decision(f"expression '{expression}' resulted in error: {e.detail}")
        if result is True:
            return None
        return Decision(_message(validation, variables), validation.reason or "Invalid")


def _compile_validation(validation: Obj, declared: frozenset[str],
                        messages: frozenset[str]) -> _Validation:
    expression = str(validation.get("expression") or "")
    message_expression = str(validation.get("messageExpression") or "")
    return _Validation(
        program=compile_expression(expression, declared),
        message=str(validation.get("message") or "").strip(),
        message_program=(compile_expression(message_expression, messages)
                         if message_expression.strip() else None),
        reason=str(validation.get("reason") or ""),
        variables=frozenset(_VARIABLE_USE.findall(expression)))


def _message(validation: _Validation, variables: Activation) -> str:
    """messageExpression's text if usable, else message, else the failed expression."""
    if validation.message_program is not None:
        try:
            text = validation.message_program.evaluate(variables)
        except CelError:
            text = None
        if isinstance(text, str):
            text = text.strip()
            if text and "\n" not in text and len(text.encode()) <= _MAX_MESSAGE_BYTES:
                return text
    return validation.message or f"failed expression: {validation.program.expression.strip()}"
