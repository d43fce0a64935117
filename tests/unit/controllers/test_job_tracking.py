"""The job controller's pure decisions: finished pods, indexes, wantActive, pod failure
policies, the back-off and conditions."""

from __future__ import annotations

from typing import Any

from kybernetes.controllers import job_tracking as jt


def _job(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "j", "namespace": "ns"},
            "spec": {"parallelism": 1, "backoffLimit": 6,
                     "template": {"spec": {"restartPolicy": "Never"}}, **spec}}


def _pod(phase: str = "Running", *, deleting: bool = False, index: str | None = None,
         **status: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p", "namespace": "ns"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    if index is not None:
        meta["annotations"] = {jt.COMPLETION_INDEX: index}
    return {"metadata": meta, "status": {"phase": phase, **status}}


def test_finished_pods_and_replacement_policy() -> None:
    job = _job(podReplacementPolicy="TerminatingOrFailed")
    assert jt.finished_as(job, _pod("Succeeded")) == "Succeeded"
    assert jt.finished_as(job, _pod("Failed")) == "Failed"
    assert jt.finished_as(job, _pod("Running")) is None
    assert jt.finished_as(job, _pod("Running", deleting=True)) == "Failed"
    assert jt.finished_as(_job(podReplacementPolicy="Failed"),
                          _pod("Running", deleting=True)) is None


def test_indexes() -> None:
    assert jt.format_indexes({1, 3, 4, 5, 7}) == "1,3-5,7"
    assert jt.format_indexes({0, 1}) == "0,1"
    assert jt.format_indexes(set()) == ""
    assert jt.parse_indexes("1,3-5,7,9-20", 10) == {1, 3, 4, 5, 7, 9}
    assert jt.parse_indexes("x,2", 5) == {2}
    assert jt.pod_index(_pod(index="3")) == 3
    assert jt.pod_index(_pod(index="03")) is None and jt.pod_index(_pod()) is None
    assert jt.missing_indexes(5, {0, 2}, {1}, 2) == [3, 4]


def test_want_active_and_complete() -> None:
    assert jt.want_active(_job(completions=5, parallelism=3), succeeded=4, active=1) == 1
    assert jt.want_active(_job(completions=5, parallelism=3), succeeded=0, active=0) == 3
    assert jt.want_active(_job(parallelism=3), succeeded=0, active=0) == 3
    assert jt.want_active(_job(parallelism=3), succeeded=1, active=2) == 2
    assert jt.complete(_job(completions=2), 2, 1, set())
    assert not jt.complete(_job(parallelism=2), 1, 1, set())
    assert jt.complete(_job(parallelism=2), 1, 0, set())
    assert jt.complete(_job(completions=2, completionMode="Indexed"), 0, 0, {0, 1})


def test_pod_failure_policy_verdicts() -> None:
    job = _job(podFailurePolicy={"rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget",
                                                  "status": "True"}]},
        {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In",
                                              "values": [42]}},
        {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1, 2]}}]})
    exited: dict[str, Any] = {
        "containerStatuses": [{"name": "main", "state": {"terminated": {"exitCode": 42}}}]}
    assert jt.pod_failure_verdict(job, _pod("Failed", **exited)) == jt.PolicyVerdict(
        "FailJob", "Container main for pod ns/p failed with exit code 42 matching FailJob rule "
                   "at index 1")
    disrupted: dict[str, Any] = {
        "conditions": [{"type": "DisruptionTarget", "status": "True"}], **exited}
    assert jt.pod_failure_verdict(job, _pod("Failed", **disrupted)).action == "Ignore"
    one: dict[str, Any] = {
        "containerStatuses": [{"name": "main", "state": {"terminated": {"exitCode": 1}}}]}
    assert jt.pod_failure_verdict(job, _pod("Failed", **one)).action == "Count"


def test_failure_target_order_and_restarts() -> None:
    job = _job(backoffLimit=1)
    assert jt.failure_target(job, failed=2, pods=[], policy_message="m",
                             past_deadline=True) == ("PodFailurePolicy", "m")
    assert jt.failure_target(job, failed=2, pods=[], policy_message=None,
                             past_deadline=True) == jt.BACKOFF_LIMIT_EXCEEDED
    assert jt.failure_target(job, failed=1, pods=[], policy_message=None,
                             past_deadline=True) == jt.DEADLINE_EXCEEDED
    on_failure = _job(backoffLimit=2, template={"spec": {"restartPolicy": "OnFailure"}})
    restarted = _pod("Running", containerStatuses=[{"restartCount": 2}])
    assert jt.restarts_past_limit(on_failure, [restarted])
    assert not jt.restarts_past_limit(job, [restarted])
    assert jt.backoff_delay(0) == 0 and jt.backoff_delay(1) == 10 and jt.backoff_delay(3) == 40
    assert jt.backoff_delay(30) == jt.MAX_BACKOFF


def test_set_condition_moves_transition_time_only_on_status_change() -> None:
    conditions: list[dict[str, Any]] = []
    assert jt.set_condition(conditions, "Suspended", "True", *jt.SUSPENDED, "t1")
    assert not jt.set_condition(conditions, "Suspended", "True", *jt.SUSPENDED, "t2")
    assert jt.set_condition(conditions, "Suspended", "False", *jt.RESUMED, "t3")
    assert conditions == [{"type": "Suspended", "status": "False", "lastProbeTime": "t3",
                           "lastTransitionTime": "t3", "reason": "JobResumed",
                           "message": "Job resumed"}]


def test_per_index_failures() -> None:
    job = _job(completionMode="Indexed", completions=3, backoffLimitPerIndex=1)
    assert jt.per_index(job) and not jt.per_index(_job(backoffLimitPerIndex=1))
    first = _pod("Failed", index="0")
    second = _pod("Failed", index="0")
    second["metadata"]["annotations"][jt.INDEX_FAILURE_COUNT] = "1"
    assert not jt.index_fails(job, first, jt.PolicyVerdict("Count"))
    assert jt.index_fails(job, second, jt.PolicyVerdict("Count"))
    assert jt.index_fails(job, first, jt.PolicyVerdict("FailIndex"))
    assert jt.failed_indexes_verdict(job, {0, 1}, set()) is None
    assert jt.failed_indexes_verdict(job, {0, 1}, {2}) == jt.FAILED_INDEXES
    assert jt.failed_indexes_verdict(job, {0}, {2}) is None
    assert jt.failed_indexes_verdict({**job, "spec": {**job["spec"], "maxFailedIndexes": 0}},
                                     set(), {2}) == jt.MAX_FAILED_INDEXES_EXCEEDED
