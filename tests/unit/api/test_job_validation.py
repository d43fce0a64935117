"""Job defaults, the generated selector and validation, with kube's paths and wording."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from kybernetes.api.field_errors import ErrorList
from kybernetes.api.job_validation import validate_job
from kybernetes.apiserver.kinds.batch.job import DEFINITION, job_defaults, job_status_text

UID = "0c3b1c1e-1111-4222-8333-944455556666"


def _job(**spec: Any) -> dict[str, Any]:
    job = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": "j", "namespace": "default", "uid": UID},
           "spec": {"template": {"spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "c", "image": "busybox"}]}},
                    **spec}}
    job_defaults(job)
    DEFINITION.strategy.prepare_for_create(job)
    return job


def _messages(job: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    errs = ErrorList()
    validate_job(errs, job, old)
    return [f"{path}: {message}" for path, _, message in errs.causes]


def test_defaults_as_kube() -> None:
    job = _job()
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed" and spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    only_parallelism = _job(parallelism=3)["spec"]
    assert "completions" not in only_parallelism and only_parallelism["parallelism"] == 3
    per_index = _job(completionMode="Indexed", completions=2, backoffLimitPerIndex=1)["spec"]
    assert per_index["backoffLimit"] == 2**31 - 1
    policy = _job(podFailurePolicy={"rules": [{"action": "Ignore", "onPodConditions": [
        {"type": "DisruptionTarget"}]}]})["spec"]
    assert policy["podReplacementPolicy"] == "Failed"
    assert policy["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"] == "True"
    assert _messages(_job()) == []


def test_generated_selector_must_match_and_template_labels_must_be_ours() -> None:
    job = _job()
    job["spec"]["template"]["metadata"]["labels"]["job-name"] = "other"
    assert "spec.template.metadata.labels[job-name]: Invalid value: " in _messages(job)[0]
    job = _job(selector={"matchLabels": {"app": "x"}})
    job["spec"]["template"]["metadata"]["labels"]["app"] = "x"
    assert _messages(job) == ['spec.selector: Invalid value: {"matchLabels":{"app":"x"}}: '
                              "`selector` not auto-generated"]
    manual = _job(manualSelector=True, selector={"matchLabels": {"app": "x"}})
    assert _messages(manual) == ['spec.template.metadata.labels: Invalid value: '
                                 'map[string]string{}: '
                                 "`selector` does not match template `labels`"]


def test_spec_rules() -> None:
    assert _messages(_job(parallelism=-1)) == [
        "spec.parallelism: Invalid value: -1: must be greater than or equal to 0"]
    always = _job()
    always["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    assert _messages(always) == [
        'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']
    assert _messages(_job(completionMode="Indexed", completions=None, parallelism=2)) == [
        "spec.completions: Required value: when completion mode is Indexed"]
    assert _messages(_job(maxFailedIndexes=1)) == [
        "spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified",
        "spec.maxFailedIndexes: Invalid value: 1: requires indexed completion mode"]
    long_name = _job(completionMode="Indexed", completions=10)
    long_name["metadata"]["name"] = "x" * 62
    assert "will not able to create pod with invalid DNS label" in _messages(long_name)[-1]


def test_pod_failure_policy_rules() -> None:
    on_failure = _job(podFailurePolicy={"rules": [
        {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [0, 3, 2, 2]}},
        {"action": "Nope", "onExitCodes": {"containerName": "x", "operator": "In",
                                           "values": [1]},
         "onPodConditions": [{"type": "DisruptionTarget"}]},
        {"action": "Ignore"}]})
    on_failure["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    assert _messages(on_failure) == [
        "spec.podFailurePolicy.rules[0].action: Invalid value: \"FailIndex\": requires the "
        "backoffLimitPerIndex to be set",
        "spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 "
        "for the In operator",
        "spec.podFailurePolicy.rules[0].onExitCodes.values[3]: Duplicate value: 2",
        "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: [0,3,2,2]: must be "
        "ordered",
        'spec.podFailurePolicy.rules[1].action: Unsupported value: "Nope": supported values: '
        '"Count", "FailIndex", "FailJob", "Ignore"',
        'spec.podFailurePolicy.rules[1].onExitCodes.containerName: Invalid value: "x": must be '
        "one of the container or initContainer names in the pod template",
        "spec.podFailurePolicy.rules[1]: Invalid value: specifying both OnExitCodes and "
        "OnPodConditions is not supported",
        "spec.podFailurePolicy.rules[2]: Invalid value: specifying one of OnExitCodes and "
        "OnPodConditions is required",
        'spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is '
        "supported when podFailurePolicy is specified"]


def test_updates() -> None:
    old = _job()
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx"
    new["spec"]["completions"] = 4
    messages = _messages(new, old)
    assert messages[0] == "spec.completions: Invalid value: 4: field is immutable"
    assert messages[1].startswith("spec.template: Invalid value: ")
    assert messages[1].endswith(": field is immutable")
    elastic = _job(completionMode="Indexed", completions=2, parallelism=2)
    grown = copy.deepcopy(elastic)
    grown["spec"]["completions"] = grown["spec"]["parallelism"] = 5
    assert _messages(grown, elastic) == []
    grown["spec"]["parallelism"] = 4
    assert _messages(grown, elastic) == [
        "spec.completions: Invalid value: 5: can only be modified in tandem with "
        "spec.parallelism"]
    suspended = _job(suspend=True)
    moved = copy.deepcopy(suspended)
    moved["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    moved["spec"]["template"]["metadata"]["annotations"] = {"a": "b"}
    assert _messages(moved, suspended) == []
    suspended["status"] = {"startTime": "2026-01-01T00:00:00Z"}
    assert _messages(moved, suspended)[0].endswith("field is immutable")


def test_table_status_and_completions() -> None:
    now = dt.datetime(2026, 1, 1, 0, 1, tzinfo=dt.UTC)
    job = _job(parallelism=3, completions=None)
    job["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    job["status"] = {"succeeded": 1, "startTime": "2026-01-01T00:00:00Z",
                     "completionTime": "2026-01-01T00:00:07Z",
                     "conditions": [{"type": "Complete", "status": "True"}]}
    del job["spec"]["completions"]
    row = DEFINITION.table.printer(job, now)
    assert row[:5] == ["j", "Complete", "1/1 of 3", "7s", "60s"]
    assert job_status_text({"status": {"conditions": [
        {"type": "Suspended", "status": "True"}]}}) == "Suspended"
    assert job_status_text({"metadata": {"deletionTimestamp": "x"}}) == "Terminating"
