"""The HPA's replica calculator and behavior (pure), with kube's examples
(pkg/controller/podautoscaler replica_calculator_test.go, the HPA docs' algorithm)."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.controllers import hpa_behavior as hb
from kybernetes.controllers import replica_calculator as rc

NOW = 1_750_000_000.0  # 2025, long after the pods started
LONG_AGO = "2020-01-01T00:00:00Z"


def pod(name: str, *, request: str | None = "1000m", phase: str = "Running",
        ready: str = "True") -> dict[str, Any]:
    resources = {"requests": {"cpu": request}} if request else {}
    return {"metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "resources": resources}]},
            "status": {"phase": phase, "startTime": LONG_AGO, "conditions": [
                {"type": "Ready", "status": ready, "lastTransitionTime": LONG_AGO}]}}


def usage(**millis: int) -> dict[str, rc.PodMetric]:
    return {name: rc.PodMetric(v, NOW, 10.0) for name, v in millis.items()}


@pytest.mark.parametrize(("current", "levels", "target", "expected", "utilization"), [
    (3, [300, 500, 700], 30, 5, 50),  # TestReplicaCalcScaleUp
    (5, [100, 300, 500, 250, 250], 50, 3, 28),  # TestReplicaCalcScaleDown
    (3, [1050, 1000, 950], 100, 3, 100),  # within the 10% tolerance
    (1, [2000], 50, 4, 200),  # 200% of request against 50%: four times the pods
])
def test_utilization(current: int, levels: list[int], target: int, expected: int,
                     utilization: int) -> None:
    pods = [pod(f"p{i}") for i in range(len(levels))]
    metrics = usage(**{f"p{i}": v for i, v in enumerate(levels)})
    got = rc.resource_replicas(current, target, pods, metrics, "cpu", utilization=True,
                               now=NOW)
    assert (got.replicas, got.utilization) == (expected, utilization)


def test_average_value_target() -> None:
    pods = [pod("a"), pod("b")]
    got = rc.resource_replicas(2, 200, pods, usage(a=400, b=400), "cpu", utilization=False,
                               now=NOW)
    assert (got.replicas, got.raw) == (4, 400)


def test_missing_metrics_count_as_zero_on_scale_up() -> None:
    # 90% on the one pod with a metric, the other taken as 0: 45% against 50 -> no change
    got = rc.resource_replicas(2, 50, [pod("a"), pod("b")], usage(a=900), "cpu",
                               utilization=True, now=NOW)
    assert got.replicas == 2


def test_missing_metrics_count_as_their_request_on_scale_down() -> None:
    # 10% on three pods, the fourth taken at 100%: (300 + 1000) / 4000 = 32.5% of 50
    got = rc.resource_replicas(4, 50, [pod(n) for n in "abcd"], usage(a=100, b=100, c=100),
                               "cpu", utilization=True, now=NOW)
    assert got.replicas == 3


def test_unready_pods_count_as_zero_on_scale_up() -> None:
    pods = [pod("a"), pod("b", phase="Pending")]
    # 300% on the ready pod alone; with the Pending one at 0: 150% of 50 -> 3 x 2 pods
    got = rc.resource_replicas(2, 50, pods, usage(a=3000), "cpu", utilization=True, now=NOW)
    assert got.replicas == 6


def test_a_pod_ready_too_recently_for_a_full_window_is_unready() -> None:
    fresh = pod("b")
    stamp = "2025-06-15T15:06:35Z"  # 5 s before NOW's reading: the 10 s window misses it
    fresh["status"]["startTime"] = fresh["status"]["conditions"][0]["lastTransitionTime"] = stamp
    assert rc.group_pods([pod("a"), fresh], usage(a=1, b=1), "cpu", 1_750_000_000.0).unready \
        == {"b"}


def test_utilization_needs_a_request_in_every_container() -> None:
    with pytest.raises(rc.MetricError, match="missing request for cpu in container c of Pod b"):
        rc.resource_replicas(2, 50, [pod("a"), pod("b", request=None)], usage(a=1, b=1), "cpu",
                             utilization=True, now=NOW)


def test_no_pods_and_no_metrics_are_errors() -> None:
    with pytest.raises(rc.MetricError, match="no pods returned by selector"):
        rc.resource_replicas(1, 50, [], {}, "cpu", utilization=True, now=NOW)
    with pytest.raises(rc.MetricError, match="did not receive metrics for targeted pods"):
        rc.resource_replicas(1, 50, [pod("a", phase="Pending")], {}, "cpu", utilization=True,
                             now=NOW)


# -- behavior ----------------------------------------------------------------------------


@pytest.mark.parametrize(("current", "desired", "high", "behavior", "expected", "reason"), [
    # kube's default scale-up: the larger of +4 pods and +100% per 15 s
    (1, 10, 20, None, 5, "ScaleUpLimit"),
    (6, 20, 20, None, 12, "ScaleUpLimit"),
    (4, 10, 6, None, 6, "TooManyReplicas"),
    (3, 5, 10, None, 5, None),
    # a 1 pod per minute policy
    (3, 8, 10, {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}},
     4, "ScaleUpLimit"),
    (5, 5, 10, {"scaleUp": {"selectPolicy": "Disabled"}}, 5, None),
])
def test_scale_up_rates(current: int, desired: int, high: int, behavior: Any, expected: int,
                        reason: str | None) -> None:
    out = hb.normalize(hb.History(), current, desired, 1, high, behavior, NOW)
    assert out.replicas == expected
    assert (out.limited[0] if out.limited else None) == reason


def test_scale_down_is_stabilized_over_the_window() -> None:
    history = hb.History(recommendations=[(NOW - 100, 5)])
    out = hb.normalize(history, 5, 1, 1, 10, None, NOW)  # default window 300 s
    assert (out.replicas, out.stabilized) == (5, "ScaleDownStabilized")
    out = hb.normalize(history, 5, 1, 1, 10, None, NOW + 301)
    assert out.replicas == 1 and history.recommendations[-1] == (NOW + 301, 1)


def test_scale_down_policies_count_recent_events() -> None:
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 0, "policies": [
        {"type": "Percent", "value": 50, "periodSeconds": 60}]}}
    assert hb.normalize(hb.History(), 5, 1, 1, 10, behavior, NOW).replicas == 2  # floor 2.5
    # 2 removed 30 s ago: the period started at 7, so 3 may go at most (7 * 50% = 3.5 -> 3)
    history = hb.History(events=[hb.ScaleEvent(-2, NOW - 30)])
    out = hb.normalize(history, 5, 1, 1, 10, behavior, NOW)
    assert (out.replicas, out.limited and out.limited[0]) == (3, "ScaleDownLimit")
    out = hb.normalize(hb.History(), 5, 1, 3, 10, behavior | {"scaleDown": {
        "stabilizationWindowSeconds": 0, "policies": [
            {"type": "Pods", "value": 10, "periodSeconds": 60}]}}, NOW)
    assert (out.replicas, out.limited and out.limited[0]) == (3, "TooFewReplicas")


def test_scale_up_stabilization_takes_the_lowest_recent_recommendation() -> None:
    behavior = {"scaleUp": {"stabilizationWindowSeconds": 60}}
    history = hb.History(recommendations=[(NOW - 30, 3)])
    out = hb.normalize(history, 2, 6, 1, 10, behavior, NOW)
    assert (out.replicas, out.stabilized) == (3, "ScaleUpStabilized")
