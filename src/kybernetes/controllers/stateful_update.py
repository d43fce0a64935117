"""What one StatefulSet sync does to its pods, decided from what the informers
show. Pure, as Kubernetes' updateStatefulSet (stateful_set_control.go):

1. every ordinal in [start, start+replicas) gets a pod, in order: a finished
   (Failed/Succeeded) pod is deleted to be made again; a missing one is created
   from the update revision, or from the current revision below a RollingUpdate
   partition; a live one whose identity or claims drifted is fixed;
2. pods beyond the range (condemned) are deleted, highest ordinal first;
3. RollingUpdate: the highest-ordinal pod at or above the partition that is not of
   the update revision is deleted (step 1 then makes it anew), one at a time,
   each waiting for the pods above it to be healthy again.

With podManagementPolicy OrderedReady (monotonic) the sync stops at the first pod
that is not yet Running and Ready (and available for minReadySeconds), or after
the first create or delete; with Parallel all of steps 1 and 2 happen at once.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api.meta import is_being_deleted, is_pod_available, is_pod_ready
from kybernetes.controllers import stateful_pods as sp

Obj = dict[str, Any]


@dataclass
class Action:
    """`create` (pod is the new pod), `delete`, or `fix` (identity or claims)."""

    verb: str
    pod: Obj
    reason: str = ""


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    blocked: str = ""  # why a monotonic sync stopped early, for logs
    requeue_after: float | None = None  # minReadySeconds still to pass


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def running_and_ready(pod: Obj) -> bool:
    return _phase(pod) == "Running" and is_pod_ready(pod)


def healthy(pod: Obj) -> bool:
    return running_and_ready(pod) and not is_being_deleted(pod)


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def monotonic(sts: Obj) -> bool:
    return _spec(sts).get("podManagementPolicy") != "Parallel"


def _partition(sts: Obj) -> int | None:
    strategy = _spec(sts).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return None
    return int((strategy.get("rollingUpdate") or {}).get("partition") or 0)


def new_versioned_pod(current_set: Obj, update_set: Obj, current_rev: str, update_rev: str,
                      ordinal: int) -> Obj:
    """newVersionedStatefulSetPod: below the partition (or, without one, among the
    first currentReplicas) a pod is made from the current revision."""
    partition = _partition(current_set)
    start = sp.start_ordinal(current_set)
    strategy = _spec(current_set).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        if strategy.get("rollingUpdate") is None:
            below = ordinal < start + int((current_set.get("status") or {})
                                          .get("currentReplicas") or 0)
        else:
            below = ordinal < start + (partition or 0)
        if below:
            return sp.new_pod(current_set, ordinal, current_rev)
    return sp.new_pod(update_set, ordinal, update_rev)


def plan(sts: Obj, pods: list[Obj], *, current_set: Obj, update_set: Obj, current_rev: str,
         update_rev: str, needs_fix: Callable[[Obj], bool],
         now: _dt.datetime | None = None) -> Plan:
    """The actions of one sync over the set's claimed member pods."""
    out = Plan()
    if is_being_deleted(sts):
        return out
    ordered = monotonic(sts)
    min_ready = int(_spec(sts).get("minReadySeconds") or 0)
    start, count = sp.start_ordinal(sts), sp.replicas(sts)
    slots: list[Obj | None] = [None] * count
    condemned: list[Obj] = []
    for member in pods:
        n = sp.ordinal(member)
        if start <= n < start + count:
            slots[n - start] = member
        elif n >= 0:
            condemned.append(member)
    condemned.sort(key=sp.ordinal, reverse=True)
    unhealthy = next((p for p in [*slots, *condemned] if p is not None and not healthy(p)), None)

    finished = False  # a finished pod ends the sync after this pass, in both modes
    for i, pod in enumerate(slots):
        ordinal = start + i
        if pod is not None and _phase(pod) in ("Failed", "Succeeded"):
            finished = True
            if not is_being_deleted(pod):
                what = "failed" if _phase(pod) == "Failed" else "terminated"
                out.actions.append(Action("delete", pod, f"recreating {what} Pod"))
            if ordered:
                return out
            continue
        if pod is None:
            out.actions.append(Action("create", new_versioned_pod(
                current_set, update_set, current_rev, update_rev, ordinal)))
            if ordered:
                return out
            continue
        if ordered and is_being_deleted(pod):
            out.blocked = f"waiting for Pod {sp.pod_name(sts, ordinal)} to Terminate"
            return out
        if ordered and not running_and_ready(pod):
            out.blocked = f"waiting for Pod {sp.pod_name(sts, ordinal)} to be Running and Ready"
            return out
        if ordered and not is_pod_available(pod, min_ready, now):
            out.blocked = f"waiting for Pod {sp.pod_name(sts, ordinal)} to be Available"
            out.requeue_after = float(min_ready)
            return out
        if not is_being_deleted(pod) and needs_fix(pod):
            out.actions.append(Action("fix", pod))
    if finished:
        return out
    for pod in condemned:
        if is_being_deleted(pod):
            if ordered:
                out.blocked = "waiting for a condemned Pod to Terminate"
                return out
            continue
        if ordered and pod is not unhealthy and not running_and_ready(pod):
            out.blocked = "waiting for Pods to be Running and Ready prior to scale down"
            return out
        if ordered and pod is not unhealthy and not is_pod_available(pod, min_ready, now):
            out.blocked = "waiting for Pods to be Available prior to scale down"
            out.requeue_after = float(min_ready)
            return out
        out.actions.append(Action("delete", pod, "scale down"))
        if ordered:
            return out
    partition = _partition(sts)
    if partition is None:
        return out
    for i in range(count - 1, partition - 1, -1):
        target = slots[i]
        if target is None:
            return out
        if sp.revision_of(target) != update_rev and not is_being_deleted(target):
            out.actions.append(Action("delete", target, "update"))
            return out
        if not healthy(target):
            out.blocked = f"waiting for Pod {sp.pod_name(sts, start + i)} to update"
            return out
    return out
