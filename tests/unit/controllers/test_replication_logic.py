"""Pure parts of the replica controllers: ordering, expectations, slow start."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from kybernetes.controllers.expectations import Expectations
from kybernetes.controllers.pod_ordering import pods_to_delete
from kybernetes.controllers.replication import slow_start_batch

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def _ts(seconds_ago: float) -> str:
    return (NOW - dt.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name: str, *, node: str | None = "n1", phase: str = "Running", ready: bool = True,
        age: float = 1000, ready_for: float = 900, restarts: int = 0) -> dict:
    conditions = [{"type": "Ready", "status": "True" if ready else "False",
                   "lastTransitionTime": _ts(ready_for)}]
    return {"metadata": {"name": name, "creationTimestamp": _ts(age)},
            "spec": {"nodeName": node} if node else {},
            "status": {"phase": phase, "conditions": conditions,
                       "containerStatuses": [{"restartCount": restarts}]}}


def names(pods: list[dict]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def test_scale_down_deletes_least_valuable_first() -> None:
    pods = [
        pod("running-ready-old"),
        pod("unassigned", node=None, phase="Pending", ready=False),
        pod("pending", phase="Pending", ready=False),
        pod("unknown", phase="Unknown", ready=False),
        pod("running-not-ready", ready=False),
        pod("running-ready-new", age=10, ready_for=5),
    ]
    assert names(pods_to_delete(pods, pods, 6, NOW)) == [
        "unassigned", "pending", "unknown", "running-not-ready", "running-ready-new",
        "running-ready-old"]


def test_doubled_up_and_restarts_break_ties() -> None:
    pods = [pod("alone", node="a"), pod("crowded-1", node="b"), pod("crowded-2", node="b"),
            pod("restarts", node="c", restarts=5)]
    order = names(pods_to_delete(pods, pods, 4, NOW))
    assert set(order[:2]) == {"crowded-1", "crowded-2"}
    assert order[2:] == ["restarts", "alone"]


def test_deletion_cost_annotation_is_respected() -> None:
    cheap = pod("cheap")
    cheap["metadata"]["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": "-10"}
    dear = pod("dear", age=1, ready_for=1)
    dear["metadata"]["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": "100"}
    assert names(pods_to_delete([dear, cheap], [dear, cheap], 1, NOW)) == ["cheap"]


def test_expectations_block_until_observed() -> None:
    e = Expectations()
    assert e.satisfied("rc")
    e.expect_creations("rc", 2)
    assert not e.satisfied("rc")
    e.creation_observed("rc")
    assert not e.satisfied("rc")
    e.creation_observed("rc")
    assert e.satisfied("rc")
    e.expect_deletions("rc", ["ns/a", "ns/b"])
    e.deletion_observed("rc", "ns/a")
    e.deletion_observed("rc", "ns/a")  # seen twice (update, then delete): counted once
    assert not e.satisfied("rc")
    e.deletion_observed("rc", "ns/b")
    assert e.satisfied("rc")


def test_expectations_expire() -> None:
    e = Expectations(timeout=0.0)
    e.expect_creations("rc", 5)
    assert e.satisfied("rc")


async def test_slow_start_doubles_and_stops_at_a_failing_batch() -> None:
    batches: list[int] = []
    in_flight = 0

    async def ok() -> None:
        nonlocal in_flight
        in_flight += 1
        await asyncio.sleep(0)
        if not batches or batches[-1] < 0:
            batches.append(0)
        in_flight -= 1

    done, error = await slow_start_batch(10, ok)
    assert (done, error) == (10, None)

    calls = 0

    async def fails_after_three() -> None:
        nonlocal calls
        calls += 1
        if calls > 3:
            raise RuntimeError("quota")

    done, error = await slow_start_batch(100, fails_after_three)
    assert done == 3 and isinstance(error, RuntimeError)
    assert calls == 7  # batches of 1, 2, then 4 (which fails): the rest never tried


@pytest.mark.parametrize("count", [0, 1, 7])
async def test_slow_start_counts(count: int) -> None:
    calls = 0

    async def fn() -> None:
        nonlocal calls
        calls += 1

    assert await slow_start_batch(count, fn) == (count, None)
    assert calls == count
