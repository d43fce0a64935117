"""An HPA's behavior: stabilization windows and scaling rate policies, pure.

As kube's normalizeDesiredReplicasWithBehaviors: the recommendation is stabilized
(a scale-up goes no higher than the lowest recommendation within the scale-up window,
a scale-down no lower than the highest within the scale-down window), then bounded by
the rate policies over the scale events of each policy's period and by min/max
replicas; the condition ScalingLimited says which bound applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api.autoscaling import default_scale_down, default_scale_up

Obj = dict[str, Any]
INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class ScaleEvent:
    change: int  # replicas added (positive) or removed (negative)
    at: float


@dataclass
class History:
    """What the controller remembers of one HPA between syncs."""

    recommendations: list[tuple[float, int]] = field(default_factory=list)
    events: list[ScaleEvent] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    replicas: int
    stabilized: str  # "", "ScaleUpStabilized" or "ScaleDownStabilized"
    limited: tuple[str, str] | None  # (reason, message) of ScalingLimited True


def rules(behavior: Obj | None, direction: str) -> Obj:
    given = (behavior or {}).get(direction)
    base = default_scale_up() if direction == "scaleUp" else default_scale_down()
    return {**base, **{k: v for k, v in (given or {}).items() if v is not None}}


def stabilize(history: History, current: int, desired: int, behavior: Obj | None,
              now: float) -> tuple[int, str]:
    """stabilizeRecommendationWithBehaviors; records `desired` in the history."""
    up_window = int(rules(behavior, "scaleUp")["stabilizationWindowSeconds"])
    down_window = int(rules(behavior, "scaleDown")["stabilizationWindowSeconds"])
    up, down = desired, desired
    for at, replicas in history.recommendations:
        if at > now - up_window:
            up = min(up, replicas)
        if at > now - down_window:
            down = max(down, replicas)
    keep = max(up_window, down_window)
    history.recommendations = [(at, r) for at, r in history.recommendations if at > now - keep]
    history.recommendations.append((now, desired))
    recommendation = current
    if recommendation < up:
        recommendation = up
    if recommendation > down:
        recommendation = down
    reason = ""
    if recommendation != desired:
        reason = "ScaleUpStabilized" if recommendation < desired else "ScaleDownStabilized"
    return recommendation, reason


def _changes(events: list[ScaleEvent], period: int, now: float) -> tuple[int, int]:
    added = sum(e.change for e in events if e.at > now - period and e.change > 0)
    removed = sum(-e.change for e in events if e.at > now - period and e.change < 0)
    return added, removed


def scale_up_limit(current: int, events: list[ScaleEvent], rule: Obj, now: float) -> int:
    """calculateScaleUpLimitWithScalingRules."""
    select = rule.get("selectPolicy", "Max")
    if select == "Disabled":
        return current
    results = []
    for policy in rule.get("policies") or []:
        added, removed = _changes(events, int(policy["periodSeconds"]), now)
        start = current - added + removed
        if policy["type"] == "Pods":
            results.append(start + int(policy["value"]))
        else:
            results.append(math.ceil(start * (1 + int(policy["value"]) / 100)))
    if not results:
        return current
    return min(results) if select == "Min" else max(results)


def scale_down_limit(current: int, events: list[ScaleEvent], rule: Obj, now: float) -> int:
    """calculateScaleDownLimitWithBehaviors."""
    select = rule.get("selectPolicy", "Max")
    if select == "Disabled":
        return current
    results = []
    for policy in rule.get("policies") or []:
        added, removed = _changes(events, int(policy["periodSeconds"]), now)
        start = current - added + removed
        if policy["type"] == "Pods":
            results.append(start - int(policy["value"]))
        else:
            results.append(math.floor(start * (1 - int(policy["value"]) / 100)))
    if not results:
        return current
    return max(results) if select == "Min" else min(results)


def bound(current: int, desired: int, low: int, high: int, behavior: Obj | None,
          events: list[ScaleEvent], now: float) -> tuple[int, tuple[str, str] | None]:
    """convertDesiredReplicasWithBehaviorRate: the rate policies, then min/max."""
    if desired > current:
        limit = max(scale_up_limit(current, events, rules(behavior, "scaleUp"), now), current)
        if high > limit:
            allowed, why = limit, ("ScaleUpLimit", "the desired replica count is increasing "
                                                   "faster than the maximum scale rate")
        else:
            allowed, why = high, ("TooManyReplicas",
                                  "the desired replica count is more than the maximum "
                                  "replica count")
        return (allowed, why) if desired > allowed else (desired, None)
    if desired < current:
        limit = min(scale_down_limit(current, events, rules(behavior, "scaleDown"), now),
                    current)
        if low < limit:
            allowed, why = limit, ("ScaleDownLimit", "the desired replica count is decreasing "
                                                     "faster than the maximum scale rate")
        else:
            allowed, why = low, ("TooFewReplicas",
                                 "the desired replica count is less than the minimum "
                                 "replica count")
        return (allowed, why) if desired < allowed else (desired, None)
    return desired, None


def normalize(history: History, current: int, desired: int, low: int, high: int,
              behavior: Obj | None, now: float) -> Outcome:
    """normalizeDesiredReplicasWithBehaviors."""
    stabilized, reason = stabilize(history, current, desired, behavior, now)
    history.events = [e for e in history.events if e.at > now - 1800]
    replicas, limited = bound(current, stabilized, low, high, behavior, history.events, now)
    return Outcome(replicas, reason, limited)
