"""The eviction's check-and-decrement of a PodDisruptionBudget (pure part)."""

from __future__ import annotations

import pytest

from kybernetes.api.errors import Forbidden, TooManyRequests
from kybernetes.apiserver.eviction import can_ignore_budget, decrement


def pdb(allowed: int, *, generation: int = 1, observed: int = 1) -> dict:
    return {"metadata": {"name": "web", "generation": generation},
            "status": {"disruptionsAllowed": allowed, "currentHealthy": 3, "desiredHealthy": 2,
                       "expectedPods": 3, "observedGeneration": observed}}


def test_spends_one_disruption_and_records_the_pod() -> None:
    new = decrement(pdb(1), "p1", dry_run=False, now="2026-01-01T00:00:00Z")
    assert new["status"]["disruptionsAllowed"] == 0
    assert new["status"]["disruptedPods"] == {"p1": "2026-01-01T00:00:00Z"}
    assert new["status"]["conditions"][0]["reason"] == "InsufficientPods"


def test_dry_run_records_nothing() -> None:
    new = decrement(pdb(2), "p1", dry_run=True)
    assert new["status"]["disruptionsAllowed"] == 1 and "disruptedPods" not in new["status"]


def test_no_disruption_left_is_429_with_kubes_cause() -> None:
    with pytest.raises(TooManyRequests) as e:
        decrement(pdb(0), "p1", dry_run=False)
    status = e.value.to_status()
    assert status["code"] == 429 and status["reason"] == "TooManyRequests"
    assert status["message"] == ("Cannot evict pod as it would violate the pod's disruption "
                                 "budget.")
    assert status["details"] == {"causes": [{
        "reason": "DisruptionBudget",
        "message": "The disruption budget web needs 2 healthy pods and has 3 currently"}]}


def test_unobserved_generation_asks_to_retry() -> None:
    with pytest.raises(TooManyRequests) as e:
        decrement(pdb(1, generation=2), "p1", dry_run=False)
    assert e.value.details["retryAfterSeconds"] == 10
    assert "is still being processed by the server" in e.value.details["causes"][0]["message"]


def test_negative_budget_is_forbidden() -> None:
    with pytest.raises(Forbidden) as e:
        decrement(pdb(-1), "p1", dry_run=False)
    assert e.value.message == ('poddisruptionbudget.policy "web" is forbidden: pdb disruptions '
                               "allowed is negative")


@pytest.mark.parametrize(("phase", "deleting", "expected"), [
    ("Running", False, False), ("Pending", False, True), ("Succeeded", False, True),
    ("Failed", False, True), ("Running", True, True)])
def test_which_pods_skip_the_budget(phase, deleting, expected) -> None:
    meta = {"deletionTimestamp": "2026-01-01T00:00:00Z"} if deleting else {}
    assert can_ignore_budget({"metadata": meta, "status": {"phase": phase}}) is expected
