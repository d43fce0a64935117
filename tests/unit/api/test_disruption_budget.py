"""PodDisruptionBudget arithmetic, as kube's disruption controller computes it."""

from __future__ import annotations

import pytest

from kybernetes.api import disruption_budget as b
from kybernetes.api.meta import now_rfc3339


def pod(name: str, *, ready: bool = True, deleting: bool = False) -> dict:
    meta: dict = {"name": name}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "status": {"conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}}


@pytest.mark.parametrize(("value", "total", "expected"), [
    (3, 10, 3), ("50%", 5, 3), ("50%", 4, 2), ("1%", 10, 1), ("0%", 10, 0), ("100%", 7, 7),
    ("34%", 3, 2), ("33%", 3, 1)])
def test_percentages_round_up(value, total, expected) -> None:
    assert b.scaled_value(value, total) == expected


def test_bad_percent_is_an_error() -> None:
    with pytest.raises(ValueError):
        b.scaled_value("half", 4)


def test_desired_healthy_min_available_and_max_unavailable() -> None:
    # minAvailable percent rounds up: 50% of 5 expected = 3 healthy needed
    assert b.desired_healthy({"minAvailable": "50%"}, 5) == 3
    assert b.desired_healthy({"minAvailable": 2}, 5) == 2
    # maxUnavailable percent rounds up too: 30% of 5 = 2 may go, 3 must stay
    assert b.desired_healthy({"maxUnavailable": "30%"}, 5) == 3
    assert b.desired_healthy({"maxUnavailable": 1}, 3) == 2
    assert b.desired_healthy({"maxUnavailable": 5}, 3) == 0  # never negative
    assert b.desired_healthy({}, 3) == 0


def test_which_budgets_need_the_controllers_scale() -> None:
    assert not b.uses_scale({"minAvailable": 2})
    assert b.uses_scale({"minAvailable": "50%"})
    assert b.uses_scale({"maxUnavailable": 0})


def test_disruptions_allowed() -> None:
    assert b.Budget(3, 2, 3).disruptions_allowed == 1
    assert b.Budget(2, 2, 3).disruptions_allowed == 0
    assert b.Budget(1, 2, 3).disruptions_allowed == 0
    assert b.Budget(3, 0, 0).disruptions_allowed == 0  # no pods expected: safe


def test_healthy_pods_leave_out_deleting_unready_and_just_evicted() -> None:
    now = b.now_seconds()
    pods = [pod("a"), pod("b", ready=False), pod("c", deleting=True), pod("d"), pod("e")]
    recent = now_rfc3339()
    assert b.current_healthy(pods, {}, now) == 3
    assert b.current_healthy(pods, {"d": recent}, now) == 2
    # an eviction older than the deletion timeout no longer counts
    assert b.current_healthy(pods, {"d": "2000-01-01T00:00:00Z"}, now) == 3


def test_disrupted_pods_map_keeps_only_pending_deletions() -> None:
    now = b.now_seconds()
    recent = now_rfc3339()
    pods = [pod("a"), pod("b", deleting=True), pod("c")]
    kept, overdue, recheck = b.live_disruptions(
        pods, {"a": recent, "b": recent, "c": "2000-01-01T00:00:00Z", "gone": recent}, now)
    assert kept == {"a": recent} and overdue == ["c"]
    assert recheck is not None and now < recheck <= now + b.DELETION_TIMEOUT


def test_allowed_condition_keeps_its_transition_time() -> None:
    status = b.with_allowed_condition({"disruptionsAllowed": 1, "observedGeneration": 2},
                                      now="2026-01-01T00:00:00Z")
    [cond] = status["conditions"]
    assert cond == {"type": "DisruptionAllowed", "status": "True", "observedGeneration": 2,
                    "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": "SufficientPods",
                    "message": ""}
    status["disruptionsAllowed"] = 2
    b.with_allowed_condition(status, now="2026-02-02T00:00:00Z")
    assert status["conditions"][0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    status["disruptionsAllowed"] = 0
    b.with_allowed_condition(status, now="2026-03-03T00:00:00Z")
    assert status["conditions"][0]["reason"] == "InsufficientPods"
    assert status["conditions"][0]["lastTransitionTime"] == "2026-03-03T00:00:00Z"
