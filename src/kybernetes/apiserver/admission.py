"""Admission: defaulting, then validation, then the unknown-field check.

The rules themselves are the kind's (its definition names its defaulting and
validation, pure functions in ``kybernetes.api``); this module only runs them in
Kubernetes' order and turns their findings into the errors and
warnings clients expect:

* validation problems → ``422 Invalid`` with one cause per field;
* unknown fields with ``fieldValidation=Strict`` → ``400 BadRequest``
  ``Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown
  field "spec.x"``; with ``Warn`` (the server
  default, as in Kubernetes) a ``299`` warning per field; ``Ignore`` drops them.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.errors import BadRequest, invalid
from kybernetes.api.schema import unknown_fields
from kybernetes.api.validation import metadata_type_causes, type_causes
from kybernetes.apiserver.kinds.definition import KindDefinition

FIELD_VALIDATION = ("Ignore", "Warn", "Strict")


def field_validation(value: str | None) -> str:
    if not value:
        return "Warn"
    if value not in FIELD_VALIDATION:
        raise BadRequest(f'fieldValidation must be one of "Ignore", "Warn", "Strict", '
                         f'got "{value}"')
    return value


def unknown_field_warnings(kind: KindDefinition, obj: dict[str, Any], mode: str
                           ) -> list[str]:
    """Warnings to send (Warn), nothing (Ignore), or raise BadRequest (Strict).

    Unknown fields never reach the store: Kubernetes' own kinds lose them when the
    body is decoded into their Go types, custom resources when their structural schema
    prunes them; both are dropped here, and the warnings name exactly what went.
    Fields of the wrong type or range are refused first, as decoding would."""
    refuse_wrong_types(kind, obj)
    if kind.prune_unknown is not None:
        unknown = kind.prune_unknown(obj)
    else:
        unknown = unknown_fields(kind.schema(), obj, drop=mode != "Strict")
    if not unknown or mode == "Ignore":
        return []
    messages = [f'unknown field "{path}"' for path in unknown]
    if mode == "Strict":
        r = kind.resource
        raise BadRequest(f'{r.kind} in version "{r.version}" cannot be handled as a {r.kind}: '
                         "strict decoding error: " + ", ".join(messages))
    return messages


def refuse_wrong_types(kind: KindDefinition, obj: dict[str, Any]) -> None:
    """422 for fields of the wrong JSON type or range, checked as the body is decoded:
    before the write path reads them (`metadata: true`) or overwrites them
    (resourceVersion, generation). A custom resource's own fields are its structural
    schema's to check; its metadata is checked here."""
    root = kind.schema() if kind.core_validation else None
    causes = type_causes(root, obj) if root is not None else metadata_type_causes(obj)
    if causes:
        meta = obj.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        resource = kind.resource
        raise invalid(resource.kind, name if isinstance(name, str) else "", causes,
                      group=resource.group)


def default_and_validate(kind: KindDefinition, obj: dict[str, Any],
                         old: dict[str, Any] | None = None, *,
                         subresource: str | None = None) -> None:
    """Apply the kind's defaults (mutating `obj`) and raise 422 Invalid for any problem."""
    kind.apply_defaults(obj)
    validate(kind, obj, old, subresource=subresource)


def validate(kind: KindDefinition, obj: dict[str, Any],
             old: dict[str, Any] | None = None, *, types_checked: bool = False,
             subresource: str | None = None) -> None:
    """Raise 422 Invalid for any problem of an object already defaulted (`types_checked`:
    its JSON types were already walked, by refuse_wrong_types)."""
    causes = kind.causes(obj, old, types_checked=types_checked, subresource=subresource)
    if causes:
        name = (obj.get("metadata") or {}).get("name") or ""
        resource = kind.resource
        raise invalid(resource.kind, name, list(causes), group=resource.group)
