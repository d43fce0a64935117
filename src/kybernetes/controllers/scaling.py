"""How a deployment's size change is shared among its ReplicaSets.

When only `spec.replicas` changes (or the deployment is paused), nothing rolls:
the active ReplicaSets are resized. As Kubernetes' deployment `scale()`:

- with one active ReplicaSet (or none: the newest), it takes the new size;
- when the new ReplicaSet is saturated (full and all available), the old ones
  go to zero;
- mid-rollout with several active ReplicaSets, the change (bounded by
  replicas + maxSurge) is shared in proportion to their sizes, largest first
  (newer first when growing, older first when shrinking); the rounding
  remainder goes to the first.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.meta import object_key
from kybernetes.controllers import rollout as ro

Obj = dict[str, Any]


def _saturated(d: Obj, rs: Obj) -> bool:
    want = ro.replicas(d)
    desired = ((rs.get("metadata") or {}).get("annotations") or {}).get(ro.DESIRED_REPLICAS)
    return (ro.replicas(rs) == want and desired == str(want)
            and int((rs.get("status") or {}).get("availableReplicas") or 0) == want)


def proportional_targets(d: Obj, all_rs: list[Obj], new: Obj | None) -> dict[str, int]:
    """Target spec.replicas by ReplicaSet key (ones not listed stay as they are)."""
    active = [rs for rs in all_rs if ro.replicas(rs) > 0]
    desired = ro.replicas(d)
    if len(active) <= 1:
        target = active[0] if active else new or max(
            all_rs, key=lambda rs: (rs.get("metadata") or {}).get("creationTimestamp") or "",
            default=None)
        return {object_key(target): desired} if target is not None else {}
    if new is not None and _saturated(d, new):
        return {object_key(rs): 0 for rs in active if rs is not new}
    if (((d.get("spec") or {}).get("strategy") or {}).get("type")
            or "RollingUpdate") != "RollingUpdate":
        return {}
    surge, _ = ro.fenceposts(d)
    current = ro.total(active)
    to_add = desired + surge - current
    if to_add == 0 or current == 0:
        return {}
    growing = to_add > 0
    # Largest first; among equals newer first when growing, older first when shrinking.
    order = sorted(active, key=lambda rs: (-ro.replicas(rs), _negated(rs) if growing else
                                           (rs.get("metadata") or {}).get("creationTimestamp")
                                           or ""))
    targets: dict[str, int] = {}
    added = 0
    for rs in order:
        share = round(ro.replicas(rs) * to_add / current)
        share = min(share, to_add - added) if growing else max(share, to_add - added)
        targets[object_key(rs)] = max(ro.replicas(rs) + share, 0)
        added += targets[object_key(rs)] - ro.replicas(rs)
    if added != to_add:
        first = object_key(order[0])
        targets[first] = max(targets[first] + to_add - added, 0)
    return targets


def _negated(rs: Obj) -> tuple[int, ...]:
    """A key that sorts newer creation timestamps first."""
    stamp = (rs.get("metadata") or {}).get("creationTimestamp") or ""
    return tuple(-ord(c) for c in stamp)
