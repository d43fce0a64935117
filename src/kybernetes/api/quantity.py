"""Resource quantities (`100m`, `1.5Gi`, `2e3`) as exact fractions.

Kubernetes keeps a Quantity as an arbitrary-precision number plus the format it
was written in (apimachinery/pkg/api/resource). Here a parsed quantity is a
`Fraction`, so arithmetic is exact; `format_quantity` gives the canonical text
back (the largest suffix that keeps an integer mantissa), and `cpu_millis` /
`memory_bytes` round up as Quantity.MilliValue() and Value() do.
"""

from __future__ import annotations

import functools
import math
import re
from fractions import Fraction

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15,
            "E": 18}
_PATTERN = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
                      r"(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$")
_ERROR = ("quantities must match the regular expression "
          "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")

Quantity = Fraction


def parse_quantity(value: str | int | float) -> Fraction:
    """Parse a quantity; ValueError with Kubernetes' message when it is not one."""
    if isinstance(value, bool):
        raise ValueError(_ERROR)
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(_ERROR)
        return Fraction(str(value))
    if not isinstance(value, str):
        raise ValueError(_ERROR)
    return _parse_text(value)


@functools.lru_cache(maxsize=4096)
def _parse_text(value: str) -> Fraction:
    """Quantities repeat (`100m`, `64Mi`): parse each text once (Fractions are immutable)."""
    match = _PATTERN.match(value.strip())
    if not match:
        raise ValueError(_ERROR)
    number, suffix = Fraction(match.group(1)), match.group(2) or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix[:1] in ("e", "E"):
        return number * Fraction(10) ** int(suffix[1:])
    return number * Fraction(10) ** _DECIMAL[suffix]


def is_quantity(value: object) -> bool:
    try:
        parse_quantity(value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return False
    return True


def format_quantity(value: Fraction | int, binary: bool = False) -> str:
    """Canonical text: `1500m`, `2Gi`, `64M`; BinarySI when `binary` and it fits."""
    q = Fraction(value)
    sign = "-" if q < 0 else ""
    q = abs(q)
    if binary and q.denominator == 1 and q >= 1024:
        for suffix, factor in reversed(_BINARY.items()):
            if q.numerator % factor == 0:
                return f"{sign}{q.numerator // factor}{suffix}"
    # Round up to a whole number of nano-units, as Kubernetes does.
    nanos = math.ceil(q * 10**9)
    if nanos == 0:
        return "0"
    for suffix, exp in sorted(_DECIMAL.items(), key=lambda kv: -kv[1]):
        scale = 10 ** (exp + 9)
        if nanos % scale == 0:
            return f"{sign}{nanos // scale}{suffix}"
    return f"{sign}{nanos}n"  # unreachable: scale 1 always divides


def cpu_millis(value: str | int | float | Fraction) -> int:
    """Millicores, rounded up (Quantity.MilliValue)."""
    q = value if isinstance(value, Fraction) else parse_quantity(value)
    return math.ceil(q * 1000)


def memory_bytes(value: str | int | float | Fraction) -> int:
    """Bytes, rounded up (Quantity.Value)."""
    q = value if isinstance(value, Fraction) else parse_quantity(value)
    return math.ceil(q)
