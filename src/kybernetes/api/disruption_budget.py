"""PodDisruptionBudget arithmetic (pure): the disruption controller's and the eviction's.

After Kubernetes' pkg/controller/disruption (getExpectedPodCount, countHealthyPods,
updatePdbStatus) and k8s.io/component-helpers/apps/poddisruptionbudget: a percent
is scaled against the pods' controllers' total scale, rounding up (both for
minAvailable and maxUnavailable); an integer minAvailable needs no controllers.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kybernetes.api.meta import is_pod_ready as is_ready
from kybernetes.api.meta import now_rfc3339, parse_time

Obj = dict[str, Any]

CONDITION = "DisruptionAllowed"
SUFFICIENT_PODS, INSUFFICIENT_PODS, SYNC_FAILED = "SufficientPods", "InsufficientPods", \
    "SyncFailed"
# How long a pod the eviction admitted (status.disruptedPods) is expected to take to go.
DELETION_TIMEOUT = 120.0


def scaled_value(value: int | str, total: int, *, round_up: bool = True) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int as is, `N%` of `total`."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    raise ValueError(f"invalid value for IntOrString: invalid value {value!r}")


def uses_scale(spec: Mapping[str, Any]) -> bool:
    """Whether expectedPods comes from the controllers' scale (not the pod count)."""
    if spec.get("maxUnavailable") is not None:
        return True
    return isinstance(spec.get("minAvailable"), str)


def desired_healthy(spec: Mapping[str, Any], expected: int) -> int:
    """status.desiredHealthy for `expected` pods (the controllers' scale, or the pod
    count for an integer minAvailable)."""
    if spec.get("maxUnavailable") is not None:
        return max(0, expected - scaled_value(spec["maxUnavailable"], expected))
    if spec.get("minAvailable") is not None:
        return scaled_value(spec["minAvailable"], expected)
    return 0


def _seconds(stamp: Any) -> float | None:
    try:
        parsed = parse_time(stamp) if isinstance(stamp, str) else None
    except ValueError:
        return None
    return parsed.timestamp() if parsed is not None else None


def live_disruptions(pods: Iterable[Mapping[str, Any]], disrupted: Mapping[str, Any],
                     now: float) -> tuple[dict[str, str], list[str], float | None]:
    """buildDisruptedPodMap: the entries of status.disruptedPods still expected to go
    (pods not yet being deleted, admitted less than DELETION_TIMEOUT ago), the names of
    pods overdue, and the earliest time an entry expires (to look again then)."""
    kept: dict[str, str] = {}
    overdue: list[str] = []
    recheck: float | None = None
    for pod in pods:
        meta = pod.get("metadata") or {}
        name = meta.get("name", "")
        if meta.get("deletionTimestamp") or name not in disrupted:
            continue
        since = _seconds(disrupted[name])
        expires = (since or 0.0) + DELETION_TIMEOUT
        if expires < now:
            overdue.append(name)
            continue
        kept[name] = disrupted[name]
        recheck = expires if recheck is None else min(recheck, expires)
    return kept, overdue, recheck


def current_healthy(pods: Iterable[Mapping[str, Any]], disrupted: Mapping[str, Any],
                    now: float) -> int:
    """countHealthyPods: ready pods not being deleted nor about to be."""
    count = 0
    for pod in pods:
        meta = pod.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            continue
        since = _seconds(disrupted.get(meta.get("name", "")))
        if since is not None and since + DELETION_TIMEOUT > now:
            continue
        count += is_ready(dict(pod))
    return count


@dataclass(frozen=True)
class Budget:
    """The numbers of a PDB's status."""

    current_healthy: int
    desired_healthy: int
    expected_pods: int

    @property
    def disruptions_allowed(self) -> int:
        """0 while no pods are expected (a PDB whose pods appear before its first sync
        must be safe), else what the healthy pods exceed the desired by."""
        if self.expected_pods <= 0:
            return 0
        return max(0, self.current_healthy - self.desired_healthy)


def set_condition(conditions: list[Obj], condition: Obj, now: str | None = None) -> list[Obj]:
    """apimeta.SetStatusCondition: replace the condition of the same type, keeping its
    lastTransitionTime while the status stays."""
    out, stamp = [], now or now_rfc3339()
    new = {"type": condition["type"], "status": condition["status"],
           "observedGeneration": condition.get("observedGeneration", 0),
           "lastTransitionTime": stamp, "reason": condition.get("reason", ""),
           "message": condition.get("message", "")}
    if not new["observedGeneration"]:
        del new["observedGeneration"]
    replaced = False
    for old in conditions:
        if old.get("type") != new["type"]:
            out.append(old)
            continue
        replaced = True
        if old.get("status") == new["status"] and old.get("lastTransitionTime"):
            new["lastTransitionTime"] = old["lastTransitionTime"]
        out.append(new)
    if not replaced:
        out.append(new)
    return out


def allowed_condition(status: Obj) -> Obj:
    """UpdateDisruptionAllowedCondition's condition for a status."""
    allowed = int(status.get("disruptionsAllowed") or 0) > 0
    return {"type": CONDITION, "status": "True" if allowed else "False",
            "reason": SUFFICIENT_PODS if allowed else INSUFFICIENT_PODS,
            "observedGeneration": int(status.get("observedGeneration") or 0)}


def with_allowed_condition(status: Obj, now: str | None = None) -> Obj:
    """The status with its DisruptionAllowed condition brought up to date."""
    status["conditions"] = set_condition(list(status.get("conditions") or []),
                                         allowed_condition(status), now)
    return status


def now_seconds() -> float:
    return _dt.datetime.now(_dt.UTC).timestamp()
