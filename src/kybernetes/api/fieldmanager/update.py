"""managedFields bookkeeping for create, update and patch (operation "Update").

Kubernetes' chain, in order: compare the old object with the new one (without
managedFields); every manager loses what changed or went (except the endpoint's
reset fields); the writer gains what changed or appeared, minus the identity
fields nobody owns; its entry's time is set only when it gained something; at most
ten Update entries are kept, the oldest merged into `ancient-changes`.

On create the old object is the kind's zero value: for built-in kinds the Go
structs that are never nil (metadata, spec, status, a pod template, a strategy),
so `f:spec` carries no "." on create, as in Kubernetes; for custom resources `{}`.
"""

from __future__ import annotations

import functools
from typing import Any

from kybernetes.api import schema as k8s_schema
from kybernetes.api.fieldmanager import managers as mf
from kybernetes.api.fieldmanager.fieldset import FieldSet
from kybernetes.api.fieldmanager.shape import Kind, Shape, shape_of
from kybernetes.api.fieldmanager.untracked import STRIPPED
from kybernetes.api.fieldmanager.walk import compare

MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES = "ancient-changes"
_NEVER_NIL = frozenset(
    {"metadata", "spec", "status", "template", "strategy", "updateStrategy", "jobTemplate"}
)


def body(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without metadata.managedFields (a shallow copy where needed)."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or "managedFields" not in metadata:
        return obj
    return {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}


@functools.cache
def _builtin_roots() -> frozenset[int]:
    return frozenset(id(node) for node in k8s_schema.definitions().values())


def _zero(shape: Shape, depth: int) -> dict[str, Any]:
    if depth > 4:
        return {}
    return {
        name: _zero(shape.field(name), depth + 1)
        for name in shape.fields
        if name in _NEVER_NIL and shape.field(name).kind is Kind.MAP
    }


_ZERO: dict[int, tuple[Any, dict[str, Any]]] = {}


def create_baseline(schema: dict[str, Any] | None) -> dict[str, Any]:
    """The `old` object of a create: the zero value of the kind."""
    if schema is None or id(schema) not in _builtin_roots():
        return {}
    cached = _ZERO.get(id(schema))
    if cached is None or cached[0] is not schema:
        cached = _ZERO[id(schema)] = (schema, _zero(shape_of(schema), 0))
    return cached[1]


def managed_fields_for_update(
    live: dict[str, Any] | None, new: dict[str, Any], subresource: str = ""
) -> Any:
    """decodeLiveOrNew: which managedFields an update starts from.

    A subresource write always keeps the live ones; a client may reset them with
    `[]` or `[{}]`, or replace them with valid entries; otherwise the live ones stay.
    """
    live_entries = ((live or {}).get("metadata") or {}).get("managedFields")
    if subresource:
        return live_entries
    sent = (new.get("metadata") or {}).get("managedFields")
    if mf.is_reset(sent):
        return []
    try:
        if mf.decode(sent):
            return sent
    except ValueError:
        pass
    return live_entries


def update_managed_fields(
    old_obj: dict[str, Any] | None,
    new_obj: dict[str, Any],
    managed: Any,
    *,
    manager: str,
    api_version: str,
    subresource: str = "",
    now: str,
    schema: dict[str, Any] | None,
    ignored: FieldSet | None = None,
) -> list[dict[str, Any]]:
    """The new `metadata.managedFields` after `manager` wrote `new_obj` over `old_obj`.

    `old_obj` is None for a create.
    """
    try:
        entries = mf.decode(managed)
    except ValueError:
        entries = {}
    ignored = ignored or FieldSet()
    old = create_baseline(schema) if old_obj is None else body(old_obj)
    diff = compare(old, body(new_obj), shape_of(schema))
    changed, lost = diff.changes(ignored)
    entries = mf.without(entries, lost)
    gained = changed.difference(STRIPPED)
    if not gained.empty():
        key = mf.identity(manager, mf.UPDATE, api_version, subresource)
        previous = entries.get(key)
        fields = gained.union(previous.fields) if previous else gained
        entries[key] = mf.Entry(
            manager=manager,
            operation=mf.UPDATE,
            api_version=api_version,
            subresource=subresource,
            time=now,
            fields=fields,
        )
    return mf.encode(_cap_update_managers(entries))


def _cap_update_managers(entries: mf.Managed) -> mf.Managed:
    """capManagersManager: merge the oldest Update entries into per-version `ancient-changes`."""
    updaters = [e for e in entries.values() if e.operation == mf.UPDATE and not e.fields.empty()]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return entries
    updaters.sort(key=lambda e: (e.time or "", e.identifier()))
    count = len(updaters)
    first_of_version: dict[str, mf.Entry] = {}
    for entry in updaters:
        if count <= MAX_UPDATE_MANAGERS:
            break
        if entry.api_version not in first_of_version:
            first_of_version[entry.api_version] = entry
            continue
        bucket_key = mf.identity(ANCIENT_CHANGES, mf.UPDATE, entry.api_version)
        bucket = entries.get(bucket_key)
        if bucket is None:
            first = first_of_version[entry.api_version]
            bucket = entries.pop(first.identity)
        entries[bucket_key] = mf.Entry(
            manager=ANCIENT_CHANGES,
            operation=mf.UPDATE,
            api_version=entry.api_version,
            time=entry.time,
            fields=entry.fields.union(bucket.fields),
        )
        del entries[entry.identity]
        count -= 1
    return entries
