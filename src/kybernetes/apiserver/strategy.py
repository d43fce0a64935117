"""What each kind lets a create, an update, a status update and a delete change.

Kubernetes gives every resource a "strategy"; the rules that clients can see are
kept here, in one table-driven module, so the generic registry stays generic:

* system metadata (uid, creationTimestamp, generation, deletion fields) is set by
  the server and cannot be changed by a client's update;
* kinds with a ``status`` subresource reset status on create (pods start
  ``Pending``, namespaces ``Active``), keep status on a main-resource update, and
  their status subresource changes only status;
* ``metadata.generation`` starts at 1 and is bumped when the spec changes, for the
  kinds whose controllers report ``observedGeneration``;
* pods bound to a node are deleted gracefully (``deletionTimestamp`` in the
  future, the kubelet finishes the delete); namespaces go ``Terminating``.
"""

from __future__ import annotations

import base64
import copy
import datetime as _dt
import random
import uuid
from typing import Any

from kybernetes.api import resources as r
from kybernetes.api.meta import now_rfc3339
from kybernetes.apiserver.service_allocation import patch_allocated_values

GENERATION_KINDS = {r.REPLICATION_CONTROLLERS.plural, r.REPLICA_SETS.plural,
                    r.DEPLOYMENTS.plural, r.PODS.plural}
# Kinds whose status a create resets (nodes keep theirs: the kubelet registers with it).
_STATUS_ON_CREATE: dict[str, dict[str, Any]] = {
    r.PODS.plural: {"phase": "Pending"},
    r.NAMESPACES.plural: {"phase": "Active"},
    r.SERVICES.plural: {"loadBalancer": {}},
    r.REPLICATION_CONTROLLERS.plural: {"replicas": 0},
    r.REPLICA_SETS.plural: {"replicas": 0},
    r.DEPLOYMENTS.plural: {},
}
# Metadata only the server sets; an update keeps the stored values.
_SYSTEM_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                "generation")


def normalize(resource: r.Resource, obj: dict[str, Any]) -> None:
    """Conversions Kubernetes makes on decode: a Secret's stringData becomes data."""
    if resource is r.SECRETS and isinstance(obj.get("stringData"), dict):
        data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
        for key, value in obj.pop("stringData").items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data


_uids = random.SystemRandom(), random.Random()
_uids[1].seed(_uids[0].getrandbits(256))


def new_uid() -> str:
    """A random (version 4) UUID from a PRNG seeded once from the OS: unique like
    uuid4, without a system call per object."""
    return str(uuid.UUID(int=_uids[1].getrandbits(128), version=4))


def has_status(resource: r.Resource) -> bool:
    return "status" in resource.subresources


def prepare_for_create(resource: r.Resource, obj: dict[str, Any]) -> None:
    """Fill system metadata and reset what a create may not set."""
    normalize(resource, obj)
    meta = obj.setdefault("metadata", {})
    for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                  "selfLink"):
        meta.pop(field, None)
    meta["uid"] = new_uid()
    meta["creationTimestamp"] = now_rfc3339()
    if resource.plural in GENERATION_KINDS:
        meta["generation"] = 1
    else:
        meta.pop("generation", None)
    status = _STATUS_ON_CREATE.get(resource.plural)
    if status is not None:
        obj["status"] = copy.deepcopy(status)
    if resource is r.NAMESPACES:
        spec = obj.setdefault("spec", {})
        finalizers = spec.setdefault("finalizers", [])
        if "kubernetes" not in finalizers:
            finalizers.append("kubernetes")


def prepare_for_update(resource: r.Resource, new: dict[str, Any], old: dict[str, Any],
                       *, subresource: str | None) -> dict[str, Any]:
    """The object to store for an update of `old` to `new` through `subresource`."""
    if subresource == "status":
        result = copy.deepcopy(old)
        if "status" in new:
            result["status"] = new["status"]
        else:
            result.pop("status", None)
        return result
    if subresource == "binding":
        return new
    if subresource == "finalize":
        result = copy.deepcopy(old)
        result.setdefault("spec", {})["finalizers"] = list(
            (new.get("spec") or {}).get("finalizers") or [])
        return result
    normalize(resource, new)
    meta = new.setdefault("metadata", {})
    old_meta = old.get("metadata") or {}
    for field in _SYSTEM_META:
        if field in old_meta:
            meta[field] = old_meta[field]
        else:
            meta.pop(field, None)
    if has_status(resource) and resource is not r.NODES:
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
    if resource is r.NAMESPACES:
        new["spec"] = old.get("spec") or {}
    if resource is r.SERVICES:  # kept/dropped clusterIP and nodePorts, before validation
        patch_allocated_values(new, old)
    if resource.plural in GENERATION_KINDS and new.get("spec") != old.get("spec"):
        meta["generation"] = int(old_meta.get("generation") or 0) + 1
    return new


def pending_delete(resource: r.Resource, obj: dict[str, Any], *, grace: int | None,
                   finalizers: list[str]) -> dict[str, Any] | None:
    """The object marked for deletion, or None when it can go at once.

    An object stays (with ``deletionTimestamp``) while it has finalizers, while a
    bound pod's grace period runs, and while a namespace is being emptied.
    """
    meta = obj.get("metadata") or {}
    seconds = pod_grace(obj, grace) if resource is r.PODS else 0
    terminating_ns = resource is r.NAMESPACES and bool((obj.get("spec") or {}).get("finalizers"))
    if not finalizers and seconds == 0 and not terminating_ns:
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
    if resource is r.NAMESPACES:
        new.setdefault("status", {})["phase"] = "Terminating"
    return new


def pod_grace(pod: dict[str, Any], requested: int | None) -> int:
    """The grace period a pod delete gets: 0 when no kubelet runs it."""
    if not (pod.get("spec") or {}).get("nodeName"):
        return 0
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return 0
    if requested is not None:
        return max(0, requested)
    spec_grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return int(spec_grace) if spec_grace is not None else 30


def finished_deleting(resource: r.Resource, new: dict[str, Any], old: dict[str, Any]) -> bool:
    """An update that removed the last finalizer of an object being deleted deletes it."""
    meta = new.get("metadata") or {}
    if not meta.get("deletionTimestamp") or meta.get("finalizers"):
        return False
    if resource is r.NAMESPACES and (new.get("spec") or {}).get("finalizers"):
        return False
    if resource is r.PODS and (meta.get("deletionGracePeriodSeconds") or 0) > 0:
        return False
    old_meta = old.get("metadata") or {}
    return bool(old_meta.get("finalizers")) or (
        resource is r.NAMESPACES and bool((old.get("spec") or {}).get("finalizers")))
