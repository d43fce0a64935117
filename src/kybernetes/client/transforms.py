"""Informer transforms (client-go's SetTransform): trim objects before they are cached.

An informer over many objects holds every one decoded; a consumer that never reads
metadata.managedFields can drop them (often half an object's memory), and one that
caches thousands of similar objects (`kyb hollow-nodes`' pods) can share the
strings they repeat ("IfNotPresent", the image, the node name, condition types).
Both change the object in place and return it.
"""

from __future__ import annotations

import sys
from typing import Any

Obj = dict[str, Any]
_SHARED_MAX = 64  # longer strings (messages, annotations) are rarely repeated


def drop_managed_fields(obj: Obj) -> Obj:
    """`obj` without metadata.managedFields."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return obj


def _share(value: Any) -> Any:
    if isinstance(value, str):
        return sys.intern(value) if len(value) <= _SHARED_MAX else value
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = _share(item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            value[i] = _share(item)
    return value


def share_strings(obj: Obj) -> Obj:
    """`obj` with its short strings interned: one copy of each for all cached objects
    (interned strings are freed with their last reference)."""
    result: Obj = _share(obj)
    return result


def compact(obj: Obj) -> Obj:
    """Both: no managedFields, shared strings (the hollow kubelets' pod informer)."""
    return share_strings(drop_managed_fields(obj))
