"""Deployment arithmetic: hashes, fenceposts, surge, proportional scaling."""

from __future__ import annotations

import pytest

from kybernetes.controllers import rollout as ro
from kybernetes.controllers.scaling import proportional_targets


def deployment(replicas: int, surge: object = "25%", unavailable: object = "25%") -> dict:
    return {"metadata": {"name": "d", "generation": 1},
            "spec": {"replicas": replicas, "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}}}


def rs(name: str, replicas: int, *, created: str = "2026-01-01T00:00:00Z",
       available: int = 0, desired: int | None = None) -> dict:
    annotations = {ro.DESIRED_REPLICAS: str(desired)} if desired is not None else {}
    return {"metadata": {"name": name, "namespace": "ns", "creationTimestamp": created,
                         "annotations": annotations},
            "spec": {"replicas": replicas}, "status": {"availableReplicas": available}}


def test_hash_is_stable_safe_and_ignores_nulls() -> None:
    t: dict = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"image": "a"}]}}
    h = ro.template_hash(t)
    assert h == ro.template_hash({**t, "metadata": {**t["metadata"], "creationTimestamp": None}})
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789") and 1 <= len(h) <= 10
    assert ro.template_hash(t, 1) != h
    other = {**t, "spec": {"containers": [{"image": "b"}]}}
    assert ro.template_hash(other) != h


def test_equal_ignores_the_hash_label() -> None:
    a = {"metadata": {"labels": {"app": "x", ro.HASH_LABEL: "abc"}}, "spec": {}}
    b = {"metadata": {"labels": {"app": "x"}, "creationTimestamp": None}}
    assert ro.equal_ignore_hash(a, b)


@pytest.mark.parametrize("replicas, surge, unavailable, expected", [
    (10, "25%", "25%", (3, 2)),
    (4, "25%", "25%", (1, 1)),
    (3, 0, 0, (0, 1)),
    (5, 2, "0%", (2, 0)),
])
def test_fenceposts(replicas: int, surge: object, unavailable: object,
                    expected: tuple[int, int]) -> None:
    assert ro.fenceposts(deployment(replicas, surge, unavailable)) == expected


def test_new_replica_set_grows_within_max_surge() -> None:
    d = deployment(4, surge=1)
    old, new = rs("old", 4), rs("new", 0)
    assert ro.new_rs_new_replicas(d, [old, new], new) == 1
    assert ro.new_rs_new_replicas(d, [rs("old", 3), rs("new", 1)], rs("new", 1)) == 2


def test_status_and_completion() -> None:
    d = deployment(2)
    new = rs("new", 2)
    new["status"] = {"replicas": 2, "availableReplicas": 2, "readyReplicas": 2}
    status = ro.calculate_status(d, [new], new)
    assert status["updatedReplicas"] == 2 and status["unavailableReplicas"] == 0
    available = ro.condition(status, "Available")
    assert available is not None
    assert available["reason"] == "MinimumReplicasAvailable"
    assert ro.is_complete(d, status)


def test_single_active_replica_set_takes_the_new_size() -> None:
    d = deployment(7)
    assert proportional_targets(d, [rs("a", 0), rs("b", 3)], None) == {"ns/b": 7}


def test_scaling_mid_rollout_is_proportional() -> None:
    d = deployment(20, surge=2)  # allowed 22 pods
    old = rs("old", 6, created="2026-01-01T00:00:00Z", desired=10)
    new = rs("new", 5, created="2026-01-02T00:00:00Z", desired=10)
    targets = proportional_targets(d, [old, new], new)
    assert sum(targets.values()) == 22
    assert targets["ns/old"] > targets["ns/new"]
    shrink = proportional_targets(deployment(4, surge=0), [old, new], new)
    assert sum(shrink.values()) == 4 and all(v >= 0 for v in shrink.values())
