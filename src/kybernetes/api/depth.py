"""How deep a decoded body may nest.

Kubernetes' decoders stop at 10000 levels. Python code (ours, PyYAML's constructor,
orjson's encoder at 255) recurses per level, so a body nested 10000 deep would end in
a RecursionError (a 500) wherever it is first walked. Bodies are therefore checked
once, right after decoding and without recursion, against a bound well below all of
these.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.errors import BadRequest

MAX_DEPTH = 100


def check_depth(obj: Any) -> None:
    """400 for JSON nested deeper than :data:`MAX_DEPTH` (walked without recursion)."""
    stack = [(obj, 1)] if isinstance(obj, (dict, list)) else []
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        for child in children:
            if isinstance(child, (dict, list)):
                if depth >= MAX_DEPTH:
                    raise BadRequest(f"the body of the request was in an unknown format: "
                                     f"json: exceeded max depth of {MAX_DEPTH}")
                stack.append((child, depth + 1))
