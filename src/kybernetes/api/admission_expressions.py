"""The CEL variables admission expressions may name, and compiling them as Kubernetes does.

k8s.io/apiserver/pkg/admission/plugin/cel declares `object`, `oldObject`,
`request` and `namespaceObject` for every admission expression; `params` only
when the policy has a paramKind, `authorizer` (and `authorizer.requestResource`)
for everything but messageExpression, and `variables` for a policy that
composes variables. Validation (422 on a write) and admission (at run time)
compile through :func:`compile_expression`, so a program that passed the first
is taken from the CEL cache by the second.
"""

from __future__ import annotations

from kybernetes.api.cel import Program, compile_program

OBJECT, OLD_OBJECT, REQUEST, NAMESPACE_OBJECT = "object", "oldObject", "request", "namespaceObject"
PARAMS, AUTHORIZER, VARIABLES = "params", "authorizer", "variables"
_ALWAYS = frozenset({OBJECT, OLD_OBJECT, REQUEST, NAMESPACE_OBJECT})


def declarations(*, params: bool, authorizer: bool = True,
                 variables: bool = False) -> frozenset[str]:
    """The variables an admission expression is compiled with."""
    names = set(_ALWAYS)
    if params:
        names.add(PARAMS)
    if authorizer:
        names.add(AUTHORIZER)
    if variables:
        names.add(VARIABLES)
    return frozenset(names)


def compile_expression(expression: str, declared: frozenset[str]) -> Program:
    """Compile (cached); raises CompileError worded `compilation failed: ERROR: …`."""
    return compile_program(expression, declared)
