"""Admission: defaulting, then validation, then the unknown-field check.

The rules themselves live in ``kybernetes.api`` (pure functions); this module only
runs them in Kubernetes' order and turns their findings into the errors and
warnings clients expect:

* validation problems → ``422 Invalid`` with one cause per field;
* unknown fields with ``fieldValidation=Strict`` → ``400 BadRequest``
  ``strict decoding error: unknown field "spec.x"``; with ``Warn`` (the server
  default, as in Kubernetes) a ``299`` warning per field; ``Ignore`` drops them.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.defaults import apply_defaults
from kybernetes.api.errors import BadRequest, invalid
from kybernetes.api.resources import Resource
from kybernetes.api.schema import unknown_fields
from kybernetes.api.validation import validate

FIELD_VALIDATION = ("Ignore", "Warn", "Strict")


def field_validation(value: str | None) -> str:
    if not value:
        return "Warn"
    if value not in FIELD_VALIDATION:
        raise BadRequest(f'fieldValidation must be one of "Ignore", "Warn", "Strict", '
                         f'got "{value}"')
    return value


def unknown_field_warnings(resource: Resource, obj: dict[str, Any], mode: str) -> list[str]:
    """Warnings to send (Warn), nothing (Ignore), or raise BadRequest (Strict)."""
    if mode == "Ignore":
        return []
    unknown = unknown_fields(resource, obj)
    if not unknown:
        return []
    messages = [f'unknown field "{path}"' for path in unknown]
    if mode == "Strict":
        raise BadRequest("strict decoding error: " + ", ".join(messages))
    return messages


def default_and_validate(resource: Resource, obj: dict[str, Any],
                         old: dict[str, Any] | None = None) -> None:
    """Apply defaults (mutating `obj`) and raise 422 Invalid for any problem."""
    apply_defaults(resource, obj)
    causes = validate(resource, obj, old)
    if causes:
        name = (obj.get("metadata") or {}).get("name") or ""
        raise invalid(resource.kind, name, list(causes), group=resource.group)
