"""Quantities parse exactly and print canonically, as resource.Quantity does."""

from fractions import Fraction

import pytest

from kybernetes.api.quantity import cpu_millis, format_quantity, memory_bytes, parse_quantity


@pytest.mark.parametrize(("text", "value"), [
    ("100m", Fraction(1, 10)), ("1", 1), ("1.5", Fraction(3, 2)), ("1Ki", 1024),
    ("1Gi", 2**30), ("1k", 1000), ("2M", 2_000_000), ("1e3", 1000), ("1.5E-3", Fraction(3, 2000)),
    ("500u", Fraction(1, 2000)), (".5", Fraction(1, 2)), (3, 3), (0.25, Fraction(1, 4)),
])
def test_parse(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("bad", ["", "abc", "1Kb", "1.2.3", "--1", "1 Gi", True])
def test_parse_rejects(bad):
    with pytest.raises(ValueError, match="quantities must match"):
        parse_quantity(bad)


def test_format_canonical():
    assert format_quantity(parse_quantity("1.5")) == "1500m"
    assert format_quantity(parse_quantity("2000")) == "2k"
    assert format_quantity(parse_quantity("1Gi"), binary=True) == "1Gi"
    assert format_quantity(parse_quantity("1536Mi"), binary=True) == "1536Mi"
    assert format_quantity(0) == "0"
    assert format_quantity(parse_quantity("-250m")) == "-250m"


def test_rounding_up():
    assert cpu_millis("100m") == 100
    assert cpu_millis("0.0001") == 1
    assert cpu_millis("2") == 2000
    assert memory_bytes("1Mi") == 1048576
    assert memory_bytes("1.5") == 2
