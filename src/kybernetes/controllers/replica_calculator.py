"""How many replicas a Resource metric asks for: kube's ReplicaCalculator, pure.

As pkg/controller/podautoscaler/replica_calculator.go: the selected pods are sorted
into ready ones, unready ones (Pending, or — for cpu — not yet Ready, or Ready so
recently that the metric window does not cover it), ones without a metric and ignored
ones (being deleted or Failed). The usage ratio (usage / target) over the ready pods
with metrics decides; within the 10% tolerance nothing changes. Missing and unready
pods are then counted conservatively: on a scale-down a pod without a metric is taken
to use its target (at least 100% of its request), on a scale-up it and any unready pod
are taken to use nothing; if that flips the direction or lands within tolerance, the
count stays.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kybernetes.api.quantity import cpu_millis, memory_bytes

Obj = dict[str, Any]
TOLERANCE = 0.1
CPU_INITIALIZATION_PERIOD = 300.0  # --horizontal-pod-autoscaler-cpu-initialization-period
INITIAL_READINESS_DELAY = 30.0  # --horizontal-pod-autoscaler-initial-readiness-delay


class MetricError(Exception):
    """The metric cannot be computed (kube's FailedGetResourceMetric)."""


@dataclass(frozen=True)
class PodMetric:
    """One pod's usage of a resource (millicores or bytes) and when it was read."""

    value: int
    timestamp: float
    window: float


@dataclass(frozen=True)
class Recommendation:
    replicas: int
    utilization: int | None  # percent of request, for Utilization targets
    raw: int  # the average usage per pod


def amount(resource: str, quantity: Any) -> int:
    """A quantity in the unit the calculator uses: millicores for cpu, else bytes."""
    return cpu_millis(quantity) if resource == "cpu" else memory_bytes(quantity)


def seconds(stamp: Any) -> float | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    return _dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _ready_condition(pod: Obj) -> Obj | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return dict(c)
    return None


def _unready_cpu(pod: Obj, metric: PodMetric, now: float) -> bool:
    condition = _ready_condition(pod)
    start = seconds((pod.get("status") or {}).get("startTime"))
    if condition is None or start is None:
        return True
    changed = seconds(condition.get("lastTransitionTime")) or 0.0
    if start + CPU_INITIALIZATION_PERIOD > now:
        return condition.get("status") == "False" or metric.timestamp < changed + metric.window
    return condition.get("status") == "False" and start + INITIAL_READINESS_DELAY > changed


@dataclass
class Groups:
    ready: int
    unready: set[str]
    missing: set[str]
    ignored: set[str]


def group_pods(pods: list[Obj], metrics: Mapping[str, PodMetric], resource: str,
               now: float) -> Groups:
    """groupPods: ready count, unready, missing-metric and ignored pod names."""
    groups = Groups(0, set(), set(), set())
    for pod in pods:
        name = (pod.get("metadata") or {}).get("name", "")
        phase = (pod.get("status") or {}).get("phase")
        if (pod.get("metadata") or {}).get("deletionTimestamp") or phase == "Failed":
            groups.ignored.add(name)
            continue
        if phase == "Pending":
            groups.unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            groups.missing.add(name)
            continue
        if resource == "cpu" and _unready_cpu(pod, metric, now):
            groups.unready.add(name)
            continue
        groups.ready += 1
    return groups


def pod_requests(pods: list[Obj], resource: str) -> dict[str, int]:
    """Each pod's summed container request; kube's error when a container has none."""
    out: dict[str, int] = {}
    for pod in pods:
        name = (pod.get("metadata") or {}).get("name", "")
        total = 0
        for c in (pod.get("spec") or {}).get("containers") or []:
            request = ((c.get("resources") or {}).get("requests") or {}).get(resource)
            if request is None:
                raise MetricError(f"missing request for {resource} in container "
                                  f"{c.get('name', '')} of Pod {name}")
            total += amount(resource, request)
        out[name] = total
    return out


def _utilization(metrics: Mapping[str, int], requests: Mapping[str, int],
                 target: int) -> tuple[float, int, int]:
    """GetResourceUtilizationRatio: (usage ratio, utilization %, average raw usage)."""
    used = sum(v for name, v in metrics.items() if name in requests)
    requested = sum(requests[name] for name in metrics if name in requests)
    entries = sum(1 for name in metrics if name in requests)
    if requested == 0:
        raise MetricError("no metrics returned matched known pods")
    utilization = used * 100 // requested
    return utilization / target, utilization, used // entries


def _average(metrics: Mapping[str, int], target: int) -> tuple[float, int, int]:
    """Plain average usage against an AverageValue target."""
    average = sum(metrics.values()) / len(metrics)
    return average / target, 0, int(average)


def resource_replicas(current: int, target: int, pods: list[Obj],
                      metrics: Mapping[str, PodMetric], resource: str, *,
                      utilization: bool, now: float,
                      tolerance: float = TOLERANCE) -> Recommendation:
    """GetResourceReplicas (utilization: target percent of request) or
    GetRawResourceReplicas (target average usage per pod)."""
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    groups = group_pods(pods, metrics, resource, now)
    usable = {n: m.value for n, m in metrics.items()
              if n not in groups.ignored and n not in groups.unready}
    requests = pod_requests(pods, resource) if utilization else {}
    if not usable:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")

    def ratio(values: Mapping[str, int]) -> tuple[float, int, int]:
        return _utilization(values, requests, target) if utilization else \
            _average(values, target)

    usage_ratio, percent, raw = ratio(usable)
    shown = percent if utilization else None
    scale_up_with_unready = bool(groups.unready) and usage_ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if abs(1.0 - usage_ratio) <= tolerance:
            return Recommendation(current, shown, raw)
        return Recommendation(math.ceil(usage_ratio * groups.ready), shown, raw)
    if groups.missing:
        for name in groups.missing:
            if usage_ratio < 1.0:
                usable[name] = requests.get(name, 0) * max(100, target) // 100 \
                    if utilization else target
            else:
                usable[name] = 0
    if scale_up_with_unready:
        for name in groups.unready:
            usable[name] = 0
    new_ratio, _p, _r = ratio(usable)
    if abs(1.0 - new_ratio) <= tolerance or (usage_ratio < 1.0 < new_ratio) or \
            (usage_ratio > 1.0 > new_ratio):
        return Recommendation(current, shown, raw)
    replicas = math.ceil(new_ratio * len(usable))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return Recommendation(current, shown, raw)
    return Recommendation(replicas, shown, raw)
