"""managedFields on every write, and server-side apply, for the API server.

Kubernetes' handlers run one field manager per request (fieldmanager.FieldManager):
create, update and patch record an "Update" by the writer; an apply patch merges
the applied configuration into the live object and records an "Apply". The pure
work is in :mod:`kybernetes.api.fieldmanager`; this module answers its questions
from the write's context and the kind:

* the manager: the `fieldManager` parameter, else the User-Agent's product
  (managerOrUserAgent); the API server's own writes are "kube-apiserver";
* the apiVersion: the version the request addressed;
* the subresource: the endpoint written through (status, scale, finalize);
* the reset fields: what that endpoint never changes (the strategy's GetResetFields).

The registry calls :meth:`ManagedFields.track` on every create and update that is
not an apply; the patch handler calls :meth:`ManagedFields.apply`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from kybernetes.api import fieldmanager
from kybernetes.api.fieldmanager import FieldSet
from kybernetes.api.meta import now_rfc3339
from kybernetes.apiserver.context import SYSTEM_USER, WriteContext
from kybernetes.apiserver.kinds.definition import KindDefinition

APISERVER_MANAGER = "kube-apiserver"
# The Update entry that takes the live fields of an object nobody owns yet, on its
# first apply (Kubernetes' skipNonAppliedManager), so the applier conflicts with them.
BEFORE_FIRST_APPLY = "before-first-apply"
# Kubernetes' binding writes the pod in storage directly, past the field manager.
_UNTRACKED_SUBRESOURCES = frozenset({"binding"})


@functools.lru_cache(maxsize=4096)
def reset_fields(kind: KindDefinition, subresource: str) -> FieldSet:
    """The fields a write through `subresource` of `kind` resets, as a field set."""
    paths = kind.strategy.reset_fields(subresource or None, kind.has_status)
    return FieldSet.from_paths([tuple(f"f:{name}" for name in path) for path in paths])


def manager_of(ctx: WriteContext) -> str:
    """Who writes: the fieldManager parameter, the User-Agent's product, or the API server."""
    if not ctx.field_manager and not ctx.user_agent and ctx.user is SYSTEM_USER:
        return APISERVER_MANAGER
    return fieldmanager.manager_or_user_agent(ctx.field_manager, ctx.user_agent)


def _managed(obj: dict[str, Any] | None) -> Any:
    return ((obj or {}).get("metadata") or {}).get("managedFields")


class ManagedFields:
    """The registry's FieldTracker, and server-side apply, over api.fieldmanager."""

    def __init__(self, clock: Callable[[], str] = now_rfc3339) -> None:
        self.clock = clock

    def track(self, kind: KindDefinition, new: dict[str, Any], old: dict[str, Any] | None,
              ctx: WriteContext) -> None:
        """Record `ctx`'s write of `new` over `old` (None on create) in new's managedFields.

        new's metadata dict is changed in place (the registry holds it), with
        managedFields where `old` had them, so a no-op update stores the same bytes.
        An object the field sets cannot describe (a list item without its merge key) keeps
        no managedFields, as Kubernetes' UpdateNoErrors does: validation then answers.
        """
        subresource = ctx.subresource or ""
        if subresource in _UNTRACKED_SUBRESOURCES:
            return
        metadata = new.setdefault("metadata", {})
        try:
            entries = fieldmanager.update_managed_fields(
                old, new, fieldmanager.managed_fields_for_update(old, new, subresource),
                manager=manager_of(ctx), api_version=kind.resource.api_version,
                subresource=subresource, now=self.clock(), schema=kind.schema(),
                ignored=reset_fields(kind, subresource))
        except ValueError:
            metadata.pop("managedFields", None)
            return
        if old is None:  # a create: the key keeps its place in new's metadata, or comes last
            if entries:
                metadata["managedFields"] = entries
            else:
                metadata.pop("managedFields", None)
            return
        updated = fieldmanager.store(new, entries, like=old)["metadata"]
        metadata.clear()
        metadata.update(updated)

    def apply(self, kind: KindDefinition, live: dict[str, Any] | None,
              config: dict[str, Any], ctx: WriteContext) -> dict[str, Any]:
        """The object after `ctx.field_manager` applied `config` to `live` (None: create).

        Raises 409 Conflict (unless `ctx.force`) and 400 for a config of another
        version. The result shares pieces with `live` and `config`: pass copies.
        """
        subresource = ctx.subresource or ""
        api_version = kind.resource.api_version
        schema = kind.schema()
        ignored = reset_fields(kind, subresource)
        now = self.clock()
        managed = _managed(live)
        if live is not None and not managed:
            managed = fieldmanager.update_managed_fields(
                None, live, [], manager=BEFORE_FIRST_APPLY, api_version=api_version,
                subresource=subresource, now=now, schema=schema, ignored=ignored)
        merged, _ = fieldmanager.apply(
            live, config, managed, manager=ctx.field_manager, api_version=api_version,
            force=ctx.force, schema=schema, ignored=ignored, subresource=subresource, now=now)
        return merged
