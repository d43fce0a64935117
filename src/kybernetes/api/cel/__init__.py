"""CEL for Kubernetes-style rules: CRD x-kubernetes-validations, admission policies.

    program = compile_program("self.replicas <= self.maxReplicas", {"self"})
    program.evaluate({"self": {"replicas": 1, "maxReplicas": 3}})   # True

compile_program raises CompileError, Program.evaluate raises EvaluationError
(both CelError). The choice of evaluator and what is left out are in
environment.py and library.py.
"""

from kybernetes.api.cel.environment import Activation, Program, compile_program, optional, to_json
from kybernetes.api.cel.errors import CelError, CompileError, EvaluationError

__all__ = ["Activation", "CelError", "CompileError", "EvaluationError", "Program",
           "compile_program", "optional", "to_json"]
