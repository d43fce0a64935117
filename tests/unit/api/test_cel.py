"""The CEL environment: compile errors, evaluation errors and the Kubernetes libraries."""

import pytest

from kybernetes.api.cel import CompileError, EvaluationError, compile_program, optional

SELF = {
    "self": {
        "replicas": 2,
        "maxReplicas": 3,
        "name": "abc",
        "items": ["a", "bb"],
        "tags": {"x": "y"},
    }
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("self.replicas <= self.maxReplicas", True),
        ("self.name.startsWith('a')", True),
        ("size(self.items) < 10", True),
        ("self.items.all(x, x.matches('^[a-z]+$'))", True),
        ("self.items.exists_one(x, x == 'bb')", True),
        ("self.items.map(x, size(x))", [1, 2]),
        ("self.items.filter(x, x != 'a')", ["bb"]),
        ("has(self.tags) && !has(self.missing)", True),
        ("'ABC'.lowerAscii() + 'x'.upperAscii()", "abcX"),
        ("'  a '.trim()", "a"),
        ("'a,b,c'.split(',')", ["a", "b", "c"]),
        ("['a', 'b'].join('-')", "a-b"),
        ("'hello'.indexOf('l')", 2),
        ("'hello'.lastIndexOf('l')", 3),
        ("'hello'.replace('l', 'L')", "heLLo"),
        ("'hello'.substring(1, 3)", "el"),
        ("[1, 2, 3].isSorted() && [3, 1].isSorted() == false", True),
        ("[1, 2, 3].sum()", 6),
        ("[4, 2, 3].min() + [4, 2, 3].max()", 6),
        ("[1, 2, 3].indexOf(2)", 1),
        ("'10Gi'.isQuantity() && isIP('10.0.0.1')", True),
    ],
)
def test_kubernetes_functions_evaluate(expression: str, expected: object) -> None:
    assert compile_program(expression, {"self"}).evaluate(SELF) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "foo",
            "compilation failed: ERROR: <input>:1:1: undeclared reference to 'foo' "
            "(in container '')\n | foo\n | ^",
        ),
        (
            "self.a && bar.x",
            "compilation failed: ERROR: <input>:1:11: undeclared reference to 'bar' "
            "(in container '')\n | self.a && bar.x\n | ..........^",
        ),
        (
            "self.a +",
            "compilation failed: ERROR: <input>:1:9: Syntax error: mismatched input '<EOF>' "
            "expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, "
            "NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}\n | self.a +\n | ........^",
        ),
    ],
)
def test_compile_errors_read_as_cel_go_reports_them(expression: str, message: str) -> None:
    with pytest.raises(CompileError) as raised:
        compile_program(expression, {"self"})
    assert str(raised.value) == message


def test_declared_variables_and_macro_bindings_are_not_undeclared() -> None:
    program = compile_program(
        "object.items.all(i, i > 0) && params.x == request.y", {"object", "params", "request"}
    )
    assert (
        program.evaluate({"object": {"items": [1]}, "params": {"x": 1}, "request": {"y": 1}})
        is True
    )


@pytest.mark.parametrize(
    ("expression", "detail"),
    [
        ("self.missing", "no such key: missing"),
        ("self.replicas / 0", "division by zero"),
        ("self.replicas + 'x'", "no such overload"),
        ("9223372036854775807 + self.replicas", "integer overflow"),
        ("[].min()", "min(list) argument must not be empty"),
    ],
)
def test_evaluation_errors_read_as_cel_go_reports_them(expression: str, detail: str) -> None:
    with pytest.raises(EvaluationError) as raised:
        compile_program(expression, {"self"}).evaluate(SELF)
    assert raised.value.detail == detail


def test_programs_are_compiled_once() -> None:
    assert compile_program("1 + 1", ()) is compile_program("1 + 1", ())


def test_optional_old_self() -> None:
    program = compile_program(
        "oldSelf.hasValue() ? oldSelf.value() == self : true", {"self", "oldSelf"}
    )
    assert program.evaluate({"self": 1, "oldSelf": optional(None, False)}) is True
    assert program.evaluate({"self": 1, "oldSelf": optional(2, True)}) is False
