"""`metadata.managedFields` entries: decoding, identity, encoding (managedfields.go).

An entry is identified, as in Kubernetes' BuildManagerIdentifier, by
(manager, operation, apiVersion, subresource) — without the apiVersion for
appliers, so an applier keeps one entry across versions. Encoding writes the
fields in ManagedFieldsEntry's order and sorts entries like
sortEncodedManagedFields: operation, time, manager, apiVersion, subresource.
An entry whose set was not touched re-emits the caller's fieldsV1 object as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from kybernetes.api.fieldmanager.fieldset import SELF, FieldSet

APPLY = "Apply"
UPDATE = "Update"
Identity = tuple[str, str, str, str]
Managed = dict[Identity, "Entry"]


@dataclass
class Entry:
    """One manager's fields, with what Kubernetes records next to them."""

    manager: str
    operation: str
    api_version: str
    fields: FieldSet
    subresource: str = ""
    time: str | None = None
    source: Any = field(default=None, compare=False)

    @property
    def identity(self) -> Identity:
        return identity(self.manager, self.operation, self.api_version, self.subresource)

    def describe(self) -> str:
        """printManager: `"name"`, with subresource, and `using <apiVersion>` for updaters."""
        text = orjson.dumps(self.manager).decode()
        if self.subresource:
            text += f" with subresource {orjson.dumps(self.subresource).decode()}"
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text

    def identifier(self) -> str:
        """The JSON identifier Kubernetes sorts conflicting managers by."""
        out = {"manager": self.manager, "operation": self.operation}
        if self.operation != APPLY and self.api_version:
            out["apiVersion"] = self.api_version
        if self.subresource:
            out["subresource"] = self.subresource
        return orjson.dumps({k: v for k, v in out.items() if v}).decode()

    def encode(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
        }
        if not self.manager:
            del out["manager"]
        if self.time is not None:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = self.source if self.source is not None else self.fields.to_fields_v1()
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def identity(manager: str, operation: str, api_version: str, subresource: str = "") -> Identity:
    return (manager, operation, "" if operation == APPLY else api_version, subresource)


def without(entries: Managed, lost: FieldSet) -> Managed:
    """Every entry without the fields in `lost`; entries left empty go, untouched ones stay."""
    result: Managed = {}
    for key, entry in entries.items():
        kept = entry.fields.difference(lost)
        if not kept.empty():
            result[key] = (
                entry if kept is entry.fields else replace(entry, fields=kept, source=None)
            )
    return result


def _valid_tree(node: Any) -> bool:
    """A Kubernetes-written fieldsV1 object can be used as a tree without copying."""
    if not isinstance(node, dict):
        return False
    for key, child in node.items():
        if (
            not isinstance(child, dict)
            or (key == SELF and child)
            or (child and len(child) == 1 and SELF in child)
        ):
            return False
        if child and not _valid_tree(child):
            return False
    return True


def decode(entries: Any) -> Managed:
    """The entries of a managedFields list (ValueError with Kubernetes' words if invalid)."""
    managed: Managed = {}
    for index, raw in enumerate(entries or ()):
        if not isinstance(raw, dict):
            raise ValueError(f"managed fields entry {index} is not an object")
        operation = raw.get("operation")
        if operation not in (APPLY, UPDATE):
            raise ValueError("operation must be `Apply` or `Update`")
        if not raw.get("apiVersion"):
            raise ValueError("apiVersion must not be empty")
        fields_type = raw.get("fieldsType")
        if not fields_type:
            raise ValueError(f"missing fieldsType in managed fields entry {index}")
        if fields_type != "FieldsV1":
            raise ValueError(
                f"invalid fieldsType {orjson.dumps(fields_type).decode()}"
                f" in managed fields entry {index}"
            )
        source = raw.get("fieldsV1") or {}
        fields = (
            FieldSet(source)
            if _valid_tree(source) and SELF not in source
            else FieldSet.from_fields_v1(source)
        )
        entry = Entry(
            manager=raw.get("manager") or "",
            operation=operation,
            api_version=raw["apiVersion"],
            subresource=raw.get("subresource") or "",
            time=raw.get("time"),
            fields=fields,
            source=source if fields.tree is source else None,
        )
        managed[entry.identity] = entry
    return managed


def encode(managed: Managed) -> list[dict[str, Any]]:
    """The managedFields list, sorted as Kubernetes sorts it; empty sets are left out."""
    entries = [e for e in managed.values() if not e.fields.empty()]
    entries.sort(key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource))
    return [e.encode() for e in entries]


def is_reset(entries: Any) -> bool:
    """isResetManagedFields: `[]` or `[{}]` sent by a client wipes managedFields."""
    if entries is None:
        return False
    return entries == [] or entries == [{}]


def store(
    obj: dict[str, Any], entries: list[dict[str, Any]], *, like: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A shallow copy of `obj` whose metadata.managedFields is `entries` (absent if empty).

    The key keeps its place from `like`'s metadata (the live object) when it had one,
    so an unchanged object encodes to the same bytes.
    """
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    if entries:
        order = list(((like or obj).get("metadata") or {}).keys())
        position = order.index("managedFields") if "managedFields" in order else len(metadata)
        items = list(metadata.items())
        items.insert(min(position, len(items)), ("managedFields", entries))
        metadata = dict(items)
    return {**obj, "metadata": metadata} if "metadata" in obj or entries else dict(obj)
