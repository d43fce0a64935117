"""The two CEL failures callers tell apart, worded as cel-go and Kubernetes word them.

    CelError
    ├── CompileError      the expression does not parse or names something undeclared
    └── EvaluationError   the program failed on this activation (no such key, overflow, …)

`str(error)` is the text Kubernetes puts into a field error: a CompileError reads
`compilation failed: ERROR: <input>:1:1: undeclared reference to 'foo' (in container '')`
followed by cel-go's source snippet; an EvaluationError reads as cel-go's runtime
error (`no such key: replicas`, `division by zero`, `no such overload`).
"""

from __future__ import annotations


class CelError(Exception):
    """Base of every CEL failure; `detail` is the message without any prefix."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class CompileError(CelError):
    """Raised by compile_program; `issues` is cel-go's `ERROR: <input>:l:c: …` report."""

    def __init__(self, issues: str, prefix: str = "compilation failed") -> None:
        super().__init__(f"{prefix}: {issues}")
        self.issues = issues


class EvaluationError(CelError):
    """Raised by Program.evaluate; `no_such_overload` marks a runtime type mismatch."""

    @property
    def no_such_overload(self) -> bool:
        return self.detail.startswith("no such overload")
