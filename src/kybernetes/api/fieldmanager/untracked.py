"""Fields that managedFields never record, and the fields an endpoint resets.

Kubernetes' stripMetaManager takes the identity fields (apiVersion, kind, name,
uid, resourceVersion, ...) out of the writing manager's set: nobody owns them.
GetResetFields names what a write through one endpoint cannot change (the main
resource resets `status`; the status subresource resets everything else but
metadata), so nobody gains or loses those through it.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.fieldmanager.fieldset import FieldSet
from kybernetes.api.fieldmanager.shape import Kind, shape_of

_META = (
    "name",
    "namespace",
    "creationTimestamp",
    "selfLink",
    "uid",
    "clusterName",
    "generation",
    "managedFields",
    "resourceVersion",
)

STRIPPED = FieldSet.from_paths(
    [
        ("f:apiVersion",),
        ("f:kind",),
        ("f:metadata",),
        *(("f:metadata", "f:" + name) for name in _META),
    ]
)

_ALWAYS_KEPT = ("apiVersion", "kind", "metadata", "status")


def reset_fields(schema: dict[str, Any] | None, subresource: str = "") -> FieldSet:
    """GetResetFields of a kind with status: `status` on the resource, the rest on /status."""
    shape = shape_of(schema)
    if shape.kind is not Kind.MAP or "status" not in shape.fields:
        return FieldSet()
    if subresource == "status":
        return FieldSet.from_paths(
            [("f:" + name,) for name in shape.fields if name not in _ALWAYS_KEPT]
        )
    if subresource:
        return FieldSet()
    return FieldSet.from_paths([("f:status",)])
