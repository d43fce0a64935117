"""Graceful node shutdown: the groups, each pod's grace and the final status."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kybernetes.kubelet.shutdown import (
    MESSAGE,
    GracePeriods,
    mark_terminated,
    pod_grace,
    shut_down,
)


class Worker:
    def __init__(self, name: str, *, priority: int = 0, grace: int | None = None,
                 log: list) -> None:
        spec: dict = {"priority": priority}
        if grace is not None:
            spec["terminationGracePeriodSeconds"] = grace
        self.pod = {"metadata": {"name": name}, "spec": spec}
        self.log = log

    async def shut_down(self, grace: float, reason) -> None:
        status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}
        reason(status)
        self.log.append((self.pod["metadata"]["name"], grace, status))


class Node:
    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers
        self.message = ""

    async def mark_shutting_down(self, message: str) -> list[Worker]:
        self.message = message
        return self.workers


def test_periods_must_leave_room_for_critical_pods() -> None:
    assert not GracePeriods().enabled
    with pytest.raises(ValueError):
        GracePeriods(10, 20)


def test_a_pods_own_shorter_grace_wins() -> None:
    assert pod_grace({"spec": {"terminationGracePeriodSeconds": 3}}, 20) == 3
    assert pod_grace({"spec": {"terminationGracePeriodSeconds": 30}}, 20) == 20
    assert pod_grace({"spec": {}}, 20) == 20


def test_final_status_is_kubes() -> None:
    status: dict[str, Any] = {"phase": "Running"}
    mark_terminated(status)
    assert (status["phase"], status["reason"], status["message"]) == (
        "Failed", "Terminated", MESSAGE)
    [cond] = status["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == (
        "DisruptionTarget", "True", "TerminationByKubelet")
    done = {"phase": "Succeeded"}
    mark_terminated(done)
    assert done["phase"] == "Succeeded"


def test_regular_pods_go_first_then_critical_ones() -> None:
    log: list = []
    node = Node([Worker("crit", priority=2_000_001_000, log=log),
                 Worker("web", log=log), Worker("quick", grace=1, log=log)])
    asyncio.run(shut_down(node, GracePeriods(30, 10)))
    assert node.message == "node is shutting down"
    assert [(name, grace) for name, grace, _ in log] == [("web", 20), ("quick", 1),
                                                         ("crit", 10)]
    assert all(s["phase"] == "Failed" and s["reason"] == "Terminated" for _, _, s in log)


def test_the_kubelet_keeps_conditions_it_does_not_own() -> None:
    from kybernetes.kubelet.status import keep_foreign_conditions

    status = {"conditions": [{"type": "Ready", "status": "False"}]}
    keep_foreign_conditions(status, {"conditions": [
        {"type": "Ready", "status": "True"},
        {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"}]})
    assert [(c["type"], c["status"]) for c in status["conditions"]] == [
        ("DisruptionTarget", "True"), ("Ready", "False")]
