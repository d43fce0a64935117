"""The JSONPath that CRDs use: printer columns, selectable fields, scale paths.

The subset of client-go's jsonpath those paths use: fields (`.spec.replicas`,
`['a.b']`, `["a.b"]`), indexes (`[0]`, `[-1]`), wildcards (`[*]`, `.*`) and
filters (`[?(@.type=="Ready")]`, `!=`, or just `[?(@.ready)]`). A missing key
yields no result rather than an error (AllowMissingKeys), as Kubernetes
evaluates these paths.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

Step = Callable[[Any], list[Any]]
_TOKEN = re.compile(r"""
    \.(?P<field>[A-Za-z0-9_\-$]+)           # .name
  | \.\*                                     # .*
  | \[(?P<quote>['"])(?P<key>.*?)(?P=quote)\]  # ['a.b']
  | \[\*\]                                   # [*]
  | \[(?P<index>-?\d+)\]                     # [0]
  | \[\?\((?P<filter>.*?)\)\]                # [?(@.type=="Ready")]
""", re.VERBOSE)
_FILTER = re.compile(r"""^@(?P<path>(?:\.[A-Za-z0-9_\-]+)+)\s*(?:(?P<op>==|!=)\s*
                         (?:(?P<q>['"])(?P<text>.*?)(?P=q)|(?P<number>-?\d+(?:\.\d+)?)))?$""",
                     re.VERBOSE)


class JsonPathError(ValueError):
    """A path outside the supported subset."""


def _field(name: str) -> Step:
    return lambda v: [v[name]] if isinstance(v, dict) and name in v else []


def _all(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    return list(value) if isinstance(value, list) else []


def _index(i: int) -> Step:
    return lambda v: [v[i]] if isinstance(v, list) and -len(v) <= i < len(v) else []


def _filter(text: str) -> Step:
    match = _FILTER.match(text.strip())
    if match is None:
        raise JsonPathError(f"unsupported filter {text!r}")
    keys = match["path"].lstrip(".").split(".")
    op = match["op"]
    wanted: Any = match["text"] if match["q"] else (
        float(match["number"]) if match["number"] and "." in match["number"]
        else int(match["number"]) if match["number"] else None)

    def found(item: Any) -> tuple[bool, Any]:
        for key in keys:
            if not isinstance(item, dict) or key not in item:
                return False, None
            item = item[key]
        return True, item

    def keep(item: Any) -> bool:
        present, value = found(item)
        if op is None:
            return present and bool(value)
        return present and ((value == wanted) == (op == "=="))

    return lambda v: [item for item in _all(v) if keep(item)]


@functools.lru_cache(maxsize=4096)
def compile_path(path: str) -> tuple[Step, ...]:
    """The steps of a path such as `.status.conditions[?(@.type=="Ready")].status`
    (an optional surrounding `{…}` is accepted)."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    steps: list[Step] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise JsonPathError(f"unrecognized JSONPath {path!r} at {text[pos:]!r}")
        if match["field"] is not None:
            steps.append(_field(match["field"]))
        elif match["key"] is not None:
            steps.append(_field(match["key"]))
        elif match["index"] is not None:
            steps.append(_index(int(match["index"])))
        elif match["filter"] is not None:
            steps.append(_filter(match["filter"]))
        else:
            steps.append(_all)
        pos = match.end()
    return tuple(steps)


def follow(obj: Any, steps: tuple[Step, ...]) -> list[Any]:
    """Every value compiled `steps` select in `obj` (none when a key is missing)."""
    values = [obj]
    for step in steps:
        values = [found for value in values for found in step(value)]
    return values


def find(obj: Any, path: str) -> list[Any]:
    """Every value `path` selects in `obj` (none when a key is missing)."""
    return follow(obj, compile_path(path))


def first(obj: Any, path: str) -> Any:
    """The first value `path` selects, or None."""
    found = find(obj, path)
    return found[0] if found else None
