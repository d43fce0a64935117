"""Deployment arithmetic, pure: template hashes, revisions, surge and status.

Everything the deployment controller decides that does not need the API
server lives here, worded after Kubernetes' deployment/util so the numbers a
user sees (`kubectl rollout status`, `kubectl get deploy`) are the same:

- ``pod-template-hash``: a 32-bit FNV-1a hash of the pod template (and the
  collision count), written with Kubernetes' safe alphabet, names the
  ReplicaSet `<deployment>-<hash>` and labels its pods;
- revisions: each ReplicaSet carries `deployment.kubernetes.io/revision`; the
  current one is one above the highest old one;
- maxSurge rounds up, maxUnavailable down, and both zero means one unavailable
  (ResolveFenceposts);
- status: replicas, updatedReplicas, readyReplicas, availableReplicas,
  unavailableReplicas, and the Available and Progressing conditions.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import orjson

from kybernetes.api.meta import now_rfc3339

Obj = dict[str, Any]

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
NOT_COPIED = {REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
              "kubectl.kubernetes.io/last-applied-configuration",
              "deprecated.deployment.rollback.to"}
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def replicas(obj: Obj) -> int:
    value = _spec(obj).get("replicas")
    return 1 if value is None else int(value)


def semantic(value: Any) -> Any:
    """Drop nulls and empty maps/lists, as Kubernetes' semantic equality ignores them
    (kubectl sends `creationTimestamp: null` inside templates, for one)."""
    if isinstance(value, dict):
        out = {k: semantic(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [semantic(v) for v in value]
    return value


def template_hash(template: Obj, collision_count: int | None = None) -> str:
    """The pod-template-hash of a template, as the label value Kubernetes uses."""
    data = orjson.dumps(semantic(template), option=orjson.OPT_SORT_KEYS)
    if collision_count:
        data += str(collision_count).encode()
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE[ord(c) % len(_SAFE)] for c in str(value))


def without_hash(template: Obj) -> Obj:
    t = copy.deepcopy(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return t


def equal_ignore_hash(a: Obj, b: Obj) -> bool:
    """Same pod template (semantically), apart from the pod-template-hash label."""
    return semantic(without_hash(a)) == semantic(without_hash(b))


def revision(obj: Obj) -> int:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0")
    try:
        return int(value)
    except ValueError:
        return 0


def _scaled(value: Any, total: int, *, round_up: bool) -> int:
    if value is None:
        return 0
    if isinstance(value, str) and value.endswith("%"):
        fraction = int(value[:-1]) * total / 100
        return math.ceil(fraction) if round_up else math.floor(fraction)
    return int(value)


def fenceposts(deployment: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as numbers of pods for a RollingUpdate deployment."""
    strategy = _spec(deployment).get("strategy") or {}
    if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
        return 0, 0
    rolling = strategy.get("rollingUpdate") or {}
    desired = replicas(deployment)
    surge = _scaled(rolling.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = _scaled(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_unavailable(deployment: Obj) -> int:
    desired = replicas(deployment)
    if desired == 0:
        return 0
    return min(fenceposts(deployment)[1], desired)


def total(rs_list: list[Obj], field: str | None = None) -> int:
    """Sum of spec.replicas (field None) or of a status field over ReplicaSets."""
    if field is None:
        return sum(replicas(rs) for rs in rs_list)
    return sum(int(_status(rs).get(field) or 0) for rs in rs_list)


def new_rs_new_replicas(deployment: Obj, all_rs: list[Obj], new_rs: Obj) -> int:
    """How many replicas the new ReplicaSet may have now."""
    desired = replicas(deployment)
    strategy = (_spec(deployment).get("strategy") or {}).get("type") or "RollingUpdate"
    if strategy != "RollingUpdate":
        return desired
    surge, _ = fenceposts(deployment)
    current = total(all_rs)
    allowed = desired + surge
    if current >= allowed:
        return replicas(new_rs)
    return replicas(new_rs) + min(allowed - current, desired - replicas(new_rs))


def condition(status: Obj, ctype: str) -> Obj | None:
    return next((c for c in status.get("conditions") or () if c.get("type") == ctype), None)


def set_condition(status: Obj, ctype: str, value: str, reason: str, message: str) -> None:
    """Set a condition; lastTransitionTime moves only when the status flips."""
    now = now_rfc3339()
    old = condition(status, ctype)
    if old is not None and old.get("status") == value and old.get("reason") == reason \
            and old.get("message") == message:
        return
    new = {"type": ctype, "status": value, "lastUpdateTime": now,
           "lastTransitionTime": old["lastTransitionTime"] if old and old.get(
               "status") == value and old.get("lastTransitionTime") else now,
           "reason": reason, "message": message}
    status["conditions"] = [c for c in status.get("conditions") or ()
                            if c.get("type") != ctype] + [new]


def calculate_status(deployment: Obj, all_rs: list[Obj], new_rs: Obj | None) -> Obj:
    """The deployment's status from its ReplicaSets (conditions: Available only)."""
    available = total(all_rs, "availableReplicas")
    status: Obj = {
        "observedGeneration": (deployment.get("metadata") or {}).get("generation"),
        "replicas": total(all_rs, "replicas"),
        "updatedReplicas": int(_status(new_rs).get("replicas") or 0) if new_rs else 0,
        "readyReplicas": total(all_rs, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": max(replicas(deployment) - available, 0),
        "conditions": copy.deepcopy(_status(deployment).get("conditions") or []),
    }
    if _status(deployment).get("collisionCount") is not None:
        status["collisionCount"] = _status(deployment)["collisionCount"]
    if available >= replicas(deployment) - max_unavailable(deployment):
        set_condition(status, "Available", "True", "MinimumReplicasAvailable",
                      "Deployment has minimum availability.")
    else:
        set_condition(status, "Available", "False", "MinimumReplicasUnavailable",
                      "Deployment does not have minimum availability.")
    return status


def is_complete(deployment: Obj, status: Obj) -> bool:
    """Every replica updated and available, no old ones left, generation observed."""
    desired = replicas(deployment)
    return (int(status.get("updatedReplicas") or 0) == desired
            and int(status.get("replicas") or 0) == desired
            and int(status.get("availableReplicas") or 0) == desired
            and int(status.get("observedGeneration") or 0)
            >= int((deployment.get("metadata") or {}).get("generation") or 0))


def made_progress(old: Obj, new: Obj) -> bool:
    """The rollout moved since the last status (Kubernetes' DeploymentProgressing)."""
    def n(s: Obj, f: str) -> int:
        return int(s.get(f) or 0)
    old_old = n(old, "replicas") - n(old, "updatedReplicas")
    new_old = n(new, "replicas") - n(new, "updatedReplicas")
    return (n(new, "updatedReplicas") > n(old, "updatedReplicas") or new_old < old_old
            or n(new, "readyReplicas") > n(old, "readyReplicas")
            or n(new, "availableReplicas") > n(old, "availableReplicas"))
