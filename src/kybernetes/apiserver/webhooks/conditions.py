"""CEL at admission: the variables an expression sees, and matchConditions.

Both webhooks and ValidatingAdmissionPolicies (apiserver/policy) evaluate CEL
against one request;
this module builds what k8s.io/apiserver/pkg/admission/plugin/cel binds:
`object`, `oldObject` (null when absent), `request` (the AdmissionRequest
without its objects), `namespaceObject`, `params` and `variables`.
`authorizer` is declared (so expressions naming it compile) but not bound: we
have no authorization, so evaluating it fails and the failure policy applies.

:class:`MatchConditions` follows webhook/matchconditions/matcher.go: any
condition false → no match (whatever errors others had); otherwise errors
decide by failure policy — Ignore skips, Fail raises :class:`ConditionError`
with the errors aggregated as utilerrors words them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kybernetes.api.admission_expressions import (
    NAMESPACE_OBJECT,
    OBJECT,
    OLD_OBJECT,
    PARAMS,
    REQUEST,
    compile_expression,
)
from kybernetes.api.cel import Activation, CelError, Program
from kybernetes.apiserver.webhooks.attributes import AdmissionAttributes, Obj
from kybernetes.apiserver.webhooks.review import admission_review

_NAMESPACE_FIELDS = ("metadata", "spec", "status")


class ConditionError(Exception):
    """matchConditions failed to evaluate under failurePolicy Fail; str() is Kubernetes'."""


def request_variable(attrs: AdmissionAttributes) -> Obj:
    """The `request` variable: the v1 AdmissionRequest without object and oldObject."""
    request = admission_review(attrs, "v1")["request"]
    request.pop("object", None)
    request.pop("oldObject", None)
    return dict(request)


def namespace_variable(namespace: Obj | None) -> Obj | None:
    """The `namespaceObject` variable: the request's Namespace without managedFields."""
    if namespace is None:
        return None
    trimmed = {key: namespace[key] for key in _NAMESPACE_FIELDS if key in namespace}
    metadata = dict(trimmed.get("metadata") or {})
    metadata.pop("managedFields", None)
    trimmed["metadata"] = metadata
    return trimmed


def activation(attrs: AdmissionAttributes, *, namespace: Obj | None = None,
               params: Obj | None = None) -> Activation:
    """Every variable of one request, converted to CEL once and shared by its expressions."""
    return Activation({OBJECT: attrs.object, OLD_OBJECT: attrs.old_object,
                       REQUEST: request_variable(attrs),
                       NAMESPACE_OBJECT: namespace_variable(namespace), PARAMS: params})


def evaluation_error(expression: str, error: CelError) -> str:
    """cel.Error's Detail for a failed evaluation, as the CEL filter words it."""
    return f"expression '{expression}' resulted in error: {error.detail}"


def aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message alone, several in brackets."""
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"


@dataclass(frozen=True)
class MatchConditions:
    """Compiled matchConditions (name, program) of one webhook or policy."""

    conditions: tuple[tuple[str, Program], ...]

    @classmethod
    def compile(cls, conditions: Iterable[Mapping[str, Any]],
                declared: frozenset[str]) -> MatchConditions:
        """Raises CompileError (a stored configuration always compiled when written)."""
        return cls(tuple((str(c.get("name") or ""),
                          compile_expression(str(c.get("expression") or "").strip(), declared))
                         for c in conditions))

    def matches(self, variables: Activation, *, fails_open: bool) -> bool:
        """Whether every condition holds; ConditionError when they cannot tell under Fail."""
        errors: list[str] = []
        for _, program in self.conditions:
            try:
                result = program.evaluate(variables)
            except CelError as e:
                errors.append(evaluation_error(program.expression, e))
                continue
            if result is False:
                return False
        if errors and not fails_open:
            raise ConditionError(aggregate(errors))
        return not errors
