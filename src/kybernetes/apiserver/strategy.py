"""The generic steps of every create, update and delete, asking the kind's Strategy.

Kubernetes' ``rest.BeforeCreate``/``BeforeUpdate`` and graceful deletion, with the
rules clients can see:

* system metadata (uid, creationTimestamp, generation, deletion fields) is set by
  the server and cannot be changed by a client's update;
* kinds with a ``status`` subresource: the main resource never changes status
  (whatever an update or patch sends), the status subresource changes only status;
  a create resets status where the kind says so (pods start ``Pending``);
* ``metadata.generation`` starts at 1 and is bumped when the spec changes, for the
  kinds whose controllers report ``observedGeneration``;
* deletion waits for finalizers, a pod's grace period and a namespace's contents.
"""

from __future__ import annotations

import copy
import datetime as _dt
import random
import uuid
from typing import Any

import orjson

from kybernetes.api.errors import invalid
from kybernetes.api.field_errors import format_value
from kybernetes.api.meta import now_rfc3339
from kybernetes.apiserver.authn import User
from kybernetes.apiserver.kinds.definition import KindDefinition

Obj = dict[str, Any]

# Metadata only the server sets; an update keeps the stored values.
_SYSTEM_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                "generation")

_uids = random.SystemRandom(), random.Random()
_uids[1].seed(_uids[0].getrandbits(256))


def new_uid() -> str:
    """A random (version 4) UUID from a PRNG seeded once from the OS: unique like
    uuid4, without a system call per object."""
    return str(uuid.UUID(int=_uids[1].getrandbits(128), version=4))


def prepare_for_create(kind: KindDefinition, obj: Obj, user: User | None = None) -> None:
    """Fill system metadata and reset what a create may not set; `user` creates."""
    meta = obj.setdefault("metadata", {})
    for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "selfLink"):
        meta.pop(field, None)
    meta["uid"] = new_uid()
    meta["creationTimestamp"] = now_rfc3339()
    strategy = kind.strategy
    if strategy.tracks_generation:
        meta["generation"] = 1
    else:
        meta.pop("generation", None)
    if strategy.resets_status_on_create:
        if strategy.initial_status is None:
            obj.pop("status", None)
        else:
            # JSON in, JSON out: a round trip copies it several times faster than deepcopy
            obj["status"] = orjson.loads(orjson.dumps(strategy.initial_status))
    strategy.prepare_for_create(obj)
    if user is not None:
        strategy.prepare_for_create_by(obj, user)


# Subresources that replace one list in the spec: a namespace's finalize, a pod's
# ephemeralcontainers (kubectl debug).
SPEC_FIELD_SUBRESOURCES = {"finalize": "finalizers", "ephemeralcontainers": "ephemeralContainers"}


def prepare_for_update(kind: KindDefinition, new: Obj, old: Obj, *,
                       subresource: str | None) -> Obj:
    """The object to store for an update of `old` to `new` through `subresource`."""
    if subresource is not None and subresource in kind.strategy.status_subresources:
        result = _with_managed_fields(copy.deepcopy(old), new)
        if "status" in new:
            result["status"] = new["status"]
        else:
            result.pop("status", None)
        kind.strategy.prepare_for_subresource_update(subresource, result, old)
        return result
    if subresource == "binding":
        return new
    if subresource in SPEC_FIELD_SUBRESOURCES:  # they write one field of the spec only
        result = _with_managed_fields(copy.deepcopy(old), new)
        field = SPEC_FIELD_SUBRESOURCES[subresource]
        result.setdefault("spec", {})[field] = list((new.get("spec") or {}).get(field) or [])
        return result
    meta = new.setdefault("metadata", {})
    old_meta = old.get("metadata") or {}
    _check_uid_kept(kind, meta, old_meta)
    for field in _SYSTEM_META:
        if field in old_meta:
            meta[field] = old_meta[field]
        else:
            meta.pop(field, None)
    if kind.has_status:
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
    strategy = kind.strategy
    strategy.prepare_for_update(new, old)
    if strategy.tracks_generation and strategy.spec_changed(new, old):
        meta["generation"] = int(old_meta.get("generation") or 0) + 1
    return new


def _check_uid_kept(kind: KindDefinition, meta: Obj, old_meta: Obj) -> None:
    """An update may leave the uid out (it is kept) but not change it: BeforeUpdate's
    common metadata validation."""
    uid = meta.get("uid")
    if uid and uid != old_meta.get("uid"):
        resource = kind.resource
        raise invalid(resource.kind, str(old_meta.get("name") or ""), [
            ("metadata.uid", "FieldValueInvalid", f"Invalid value: {format_value(uid)}: "
                                                  "field is immutable")], group=resource.group)


def _with_managed_fields(result: Obj, new: Obj) -> Obj:
    """`result` carrying new's managedFields: a subresource write records its manager."""
    managed = (new.get("metadata") or {}).get("managedFields")
    meta = result.setdefault("metadata", {})
    if managed:
        meta["managedFields"] = managed
    else:
        meta.pop("managedFields", None)
    return result


def pending_delete(kind: KindDefinition, obj: Obj, *, grace: int | None,
                   finalizers: list[str]) -> Obj | None:
    """The object marked for deletion, or None when it can go at once.

    An object stays (with ``deletionTimestamp``) while it has finalizers, while its
    grace period runs (a bound pod), and while the kind holds it (a namespace
    being emptied).
    """
    meta = obj.get("metadata") or {}
    strategy = kind.strategy
    seconds = strategy.delete_grace(obj, grace)
    if not finalizers and seconds == 0 and not strategy.termination_finalizers(obj):
        return None
    new = copy.deepcopy(obj)
    new_meta = new["metadata"]
    if finalizers:
        new_meta["finalizers"] = finalizers
    current = meta.get("deletionGracePeriodSeconds")
    if meta.get("deletionTimestamp") and current is not None and current <= seconds:
        return new
    when = _dt.datetime.now(_dt.UTC) + _dt.timedelta(seconds=seconds)
    new_meta["deletionTimestamp"] = now_rfc3339(when)
    new_meta["deletionGracePeriodSeconds"] = seconds
    strategy.mark_terminating(new)
    return new


def finished_deleting(kind: KindDefinition, new: Obj, old: Obj) -> bool:
    """An update that removed the last finalizer of an object being deleted deletes it."""
    meta = new.get("metadata") or {}
    if not meta.get("deletionTimestamp") or meta.get("finalizers"):
        return False
    strategy = kind.strategy
    if strategy.termination_finalizers(new):
        return False
    if strategy.graceful_deletion and (meta.get("deletionGracePeriodSeconds") or 0) > 0:
        return False
    old_meta = old.get("metadata") or {}
    return bool(old_meta.get("finalizers")) or bool(strategy.termination_finalizers(old))
