"""Server-side apply (PATCH application/apply-patch+yaml): merge, prune, conflicts, ownership.

structured-merge-diff's Updater.Apply, with the Kubernetes managers around it:

1. merge the config into the live object, recording what changed;
2. the applier's set becomes the config's field set (minus the endpoint's reset
   fields and the identity fields nobody owns);
3. what it applied last time and no longer applies goes, unless another manager
   owns it (prune);
4. any other manager owning a field the merge changed is a conflict: 409, or with
   `force` that manager loses the field; every manager loses removed fields;
5. the applier's time is set only when the object changed, so an unchanged
   re-apply returns the live object's bytes again;
6. for `kubectl`, client-side apply's annotation settles conflicts and is kept
   current (lastapplied.py).
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors
from kybernetes.api.fieldmanager import managers as mf
from kybernetes.api.fieldmanager.conflicts import ApplyConflicts, conflict_error, find_conflicts
from kybernetes.api.fieldmanager.fieldset import FieldSet
from kybernetes.api.fieldmanager.lastapplied import (
    UPGRADING_MANAGER,
    allowed_conflicts,
    with_updated_annotation,
)
from kybernetes.api.fieldmanager.merge import merge
from kybernetes.api.fieldmanager.prune import prune
from kybernetes.api.fieldmanager.shape import Shape, shape_of
from kybernetes.api.fieldmanager.untracked import STRIPPED
from kybernetes.api.fieldmanager.update import body
from kybernetes.api.fieldmanager.walk import Comparison, value_set


def apply(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    managed: Any,
    *,
    manager: str,
    api_version: str,
    force: bool,
    schema: dict[str, Any] | None,
    ignored: FieldSet | None = None,
    subresource: str = "",
    now: str,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The merged object (with its managedFields) and its new managedFields.

    `live` is None for a create; `subresource` names the endpoint applied through
    (an applier of `status` is another manager than the same name on the resource).
    Raises errors.Conflict (409) on conflicts, errors.BadRequest for a config of
    another version or carrying managedFields, and a 500 for a config the schema
    cannot address (a keyed item without its key).
    The result shares untouched subtrees with `live` and `applied`.
    """
    _check_config(applied, api_version)
    try:
        entries = mf.decode(managed)
    except ValueError as e:
        raise errors.InternalError(f"failed to decode managed fields: {e}") from e
    shape = shape_of(schema)
    live_body = body(live) if live is not None else {}
    run = _Apply(
        live_body,
        applied,
        entries,
        manager=manager,
        api_version=api_version,
        shape=shape,
        ignored=ignored or FieldSet(),
        subresource=subresource,
        now=now,
    )
    try:
        merged, result = run.once(force)
    except ApplyConflicts as conflicts:
        merged, result = _settle_with_last_applied(run, conflicts, live_body)
    if manager == UPGRADING_MANAGER:
        merged = with_updated_annotation(merged, applied)
    encoded = mf.encode(result)
    return mf.store(merged, encoded, like=live), encoded


def _check_config(applied: dict[str, Any], api_version: str) -> None:
    if applied.get("apiVersion") != api_version:
        raise errors.BadRequest(
            "Incorrect version specified in apply patch. Specified patch version: "
            f"{applied.get('apiVersion') or ''}, expected: {api_version}"
        )
    meta = applied.get("metadata") or {}
    if not isinstance(meta, dict):
        raise errors.BadRequest("metadata must be an object")
    if meta.get("managedFields") is not None:
        raise errors.BadRequest("metadata.managedFields must be nil")


def _settle_with_last_applied(
    run: _Apply, conflicts: ApplyConflicts, live_body: dict[str, Any]
) -> tuple[dict[str, Any], mf.Managed]:
    """lastAppliedManager: force through conflicts on fields client-side apply still holds."""
    allowed = (
        allowed_conflicts(live_body, run.api_version, run.shape)
        if run.manager == UPGRADING_MANAGER
        else None
    )
    if allowed is None:
        raise conflict_error(conflicts.conflicts) from None
    remaining = conflicts.without(allowed)
    if remaining.conflicts:
        raise conflict_error(remaining.conflicts) from None
    return run.once(True)


class _Apply:
    """One apply's inputs, so the lastapplied retry can run it again with force."""

    def __init__(
        self,
        live: dict[str, Any],
        applied: dict[str, Any],
        entries: mf.Managed,
        *,
        manager: str,
        api_version: str,
        shape: Shape,
        ignored: FieldSet,
        subresource: str,
        now: str,
    ) -> None:
        self.live, self.applied, self.entries = live, applied, entries
        self.manager, self.api_version, self.shape = manager, api_version, shape
        self.ignored, self.subresource, self.now = ignored, subresource, now
        self.key = mf.identity(manager, mf.APPLY, api_version, subresource)

    def once(self, force: bool) -> tuple[dict[str, Any], mf.Managed]:
        """Merge, prune and settle ownership; ApplyConflicts unless forced."""
        diff = Comparison()
        try:
            merged = merge(self.live, self.applied, self.shape, (), diff)
            applied_set = FieldSet(value_set(self.applied, self.shape))
        except ValueError as e:
            raise errors.ApiError(
                f"failed to create typed patch object: {e}", code=500, reason=""
            ) from e
        applied_set = applied_set.recursive_difference(self.ignored).difference(STRIPPED)
        others = {k: e for k, e in self.entries.items() if k != self.key}
        previous = self.entries.get(self.key)
        if previous is not None:
            keep = [applied_set.tree, *(e.fields.tree for e in others.values())]
            merged = prune(merged, self.shape, previous.fields.tree, keep, diff)
        changed, lost = diff.changes(self.ignored)
        conflicts = find_conflicts([(e, e.fields) for e in others.values()], changed)
        if conflicts and not force:
            raise ApplyConflicts(conflicts)
        result = mf.without(others, lost)
        if not applied_set.empty():
            time = self.now if not diff.empty() else (previous.time if previous else None)
            unchanged = previous is not None and previous.fields == applied_set
            source = previous.source if previous is not None and unchanged else None
            result[self.key] = mf.Entry(
                manager=self.manager,
                operation=mf.APPLY,
                api_version=self.api_version,
                subresource=self.subresource,
                fields=applied_set,
                time=time,
                source=source,
            )
        return merged, result
