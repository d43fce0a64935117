"""Kubernetes' CEL function libraries, as Python callbacks for the Rust evaluator.

The evaluator (cel-rust) ships the CEL core: macros (`has`, `all`, `exists`,
`exists_one`, `map`, `filter`), `size`, `matches`, `contains`, `startsWith`,
`endsWith`, conversions, timestamps and durations. Kubernetes adds cel-go's
strings extension and its own lists, regex and format libraries; those are here.
A CEL function has one name for every receiver type, so `indexOf` serves strings
and lists alike and dispatches on the receiver.

Not provided (rules that use them fail to compile with an undeclared reference):
url(), ip(), cidr(), quantity() and their member functions, authorizer, format(),
strings.quote, two-variable comprehensions and the optional `.?` / `[?` syntax the
parser does not support. isURL, isIP, isCIDR and isQuantity are provided.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from kybernetes.api.quantity import is_quantity


def _check_offset(text: str, offset: int) -> None:
    if offset < 0 or offset > len(text):
        raise IndexError(f"index out of range: {offset}")


def index_of(receiver: Any, item: Any, offset: int = 0) -> int:
    """strings: first index of a substring at or after offset; lists: first index of item."""
    if isinstance(receiver, str):
        _check_offset(receiver, offset)
        return receiver.find(item, offset)
    for position, element in enumerate(receiver):
        if element == item and type(element) is type(item):
            return position
    return -1


def last_index_of(receiver: Any, item: Any, offset: int | None = None) -> int:
    if isinstance(receiver, str):
        if offset is None:
            return receiver.rfind(item)
        _check_offset(receiver, offset)
        return receiver.rfind(item, 0, offset + len(item))
    for position in range(len(receiver) - 1, -1, -1):
        if receiver[position] == item and type(receiver[position]) is type(item):
            return position
    return -1


def char_at(text: str, index: int) -> str:
    _check_offset(text, index)
    return text[index:index + 1]


def substring(text: str, start: int, end: int | None = None) -> str:
    end = len(text) if end is None else end
    _check_offset(text, start)
    _check_offset(text, end)
    if end < start:
        raise IndexError(f"invalid substring range. start: {start}, end: {end}")
    return text[start:end]


def replace(text: str, old: str, new: str, limit: int = -1) -> str:
    return text.replace(old, new, limit)


def split(text: str, separator: str, limit: int = -1) -> list[str]:
    if limit == 0:
        return []
    if separator == "":
        parts = list(text)
        return parts if limit < 0 or limit >= len(parts) else [*parts[:limit - 1], text[limit - 1:]]
    return text.split(separator, limit - 1 if limit > 0 else -1)


def join(items: list[str], separator: str = "") -> str:
    return separator.join(items)


def lower_ascii(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)


def upper_ascii(text: str) -> str:
    return "".join(c.upper() if c.isascii() else c for c in text)


def trim(text: str) -> str:
    return text.strip()


def reverse(value: Any) -> Any:
    return value[::-1]


def is_sorted(items: list[Any]) -> bool:
    return all(items[i] <= items[i + 1] for i in range(len(items) - 1))


def sum_(items: list[Any]) -> Any:
    return sum(items, 0)


def _non_empty(items: list[Any], name: str) -> list[Any]:
    if not items:
        raise ValueError(f"{name}(list) argument must not be empty")
    return items


def min_(items: list[Any]) -> Any:
    return min(_non_empty(items, "min"))


def max_(items: list[Any]) -> Any:
    return max(_non_empty(items, "max"))


def find(text: str, pattern: str) -> str:
    match = re.search(pattern, text)
    return match.group(0) if match else ""


def find_all(text: str, pattern: str, limit: int = -1) -> list[str]:
    found = [m.group(0) for m in re.finditer(pattern, text)]
    return found if limit < 0 else found[:limit]


def is_url(text: str) -> bool:
    parsed = urllib.parse.urlparse(text)
    return bool(parsed.scheme) or text.startswith("/")


def _parses(parser: Callable[[str], object], text: str) -> bool:
    try:
        parser(text)
    except ValueError:
        return False
    return True


def is_ip(text: str) -> bool:
    return _parses(ipaddress.ip_address, text)


def is_cidr(text: str) -> bool:
    return "/" in text and _parses(lambda t: ipaddress.ip_network(t, strict=False), text)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "charAt": char_at, "indexOf": index_of, "lastIndexOf": last_index_of,
    "lowerAscii": lower_ascii, "upperAscii": upper_ascii, "replace": replace,
    "split": split, "substring": substring, "trim": trim, "join": join, "reverse": reverse,
    "isSorted": is_sorted, "sum": sum_, "min": min_, "max": max_,
    "find": find, "findAll": find_all,
    "isURL": is_url, "isIP": is_ip, "isCIDR": is_cidr, "isQuantity": is_quantity,
}

BUILTINS = frozenset({
    "size", "matches", "contains", "startsWith", "endsWith", "int", "uint", "double",
    "string", "bytes", "bool", "timestamp", "duration", "dyn", "type",
    "getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear", "getFullYear", "getHours",
    "getMilliseconds", "getMinutes", "getMonth", "getSeconds",
    "hasValue", "value", "orValue", "or", "of", "none",
})
