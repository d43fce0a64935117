"""The Job controller's decisions, without I/O: which pods count as finished, what a pod
failure policy says about a failed pod, how many pods should run, which indexes are left,
and the conditions Kubernetes' job controller writes (pkg/controller/job).

Everything here is a function of the Job and its pods, so the controller (job.py) stays
a sequence of reads and writes and these rules are tested on their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kybernetes.api.meta import is_being_deleted

Obj = dict[str, Any]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
INDEX_ENV = "JOB_COMPLETION_INDEX"
INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"

# Reasons and messages as pkg/controller/job and the batch API name them.
BACKOFF_LIMIT_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
POD_FAILURE_POLICY = "PodFailurePolicy"
MAX_FAILED_INDEXES_EXCEEDED = ("MaxFailedIndexesExceeded",
                               "Job has exceeded the specified maximal number of failed indexes")
FAILED_INDEXES = ("FailedIndexes", "Job has failed indexes")
SUSPENDED = ("JobSuspended", "Job suspended")
RESUMED = ("JobResumed", "Job resumed")

# Pod failure back-off: 10 s doubling per consecutive failure, at most 6 minutes.
DEFAULT_BACKOFF = 10.0
MAX_BACKOFF = 360.0


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def spec(job: Obj) -> Obj:
    return _d(job.get("spec"))


def status(job: Obj) -> Obj:
    return _d(job.get("status"))


def is_indexed(job: Obj) -> bool:
    return spec(job).get("completionMode") == "Indexed"


def has_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in (_d(pod.get("metadata")).get("finalizers") or ())


def phase(pod: Obj) -> str:
    return str(_d(pod.get("status")).get("phase") or "")


def finished_as(job: Obj, pod: Obj) -> str | None:
    """"Succeeded" or "Failed" when the pod is done for the Job's accounting, else None.

    A pod being deleted counts as failed (it never gets to Failed when its node is gone)
    unless podReplacementPolicy is Failed, as isPodFailed in Kubernetes."""
    current = phase(pod)
    if current in ("Succeeded", "Failed"):
        return current
    if spec(job).get("podReplacementPolicy") == "Failed":
        return None
    return "Failed" if is_being_deleted(pod) else None


def is_active(pod: Obj) -> bool:
    return phase(pod) not in ("Succeeded", "Failed") and not is_being_deleted(pod)


def is_terminating(pod: Obj) -> bool:
    return is_being_deleted(pod) and phase(pod) not in ("Succeeded", "Failed")


def pod_index(pod: Obj) -> int | None:
    """The completion index from the pod's annotation (or label), None when unusable."""
    meta = _d(pod.get("metadata"))
    value = _d(meta.get("annotations")).get(COMPLETION_INDEX)
    if value is None:
        value = _d(meta.get("labels")).get(COMPLETION_INDEX)
    try:
        index = int(str(value))
    except ValueError:
        return None
    return index if index >= 0 and str(index) == str(value) else None


def format_indexes(indexes: set[int]) -> str:
    """`1,3-5,7`: runs of three or more collapse to first-last (status.completedIndexes)."""
    ordered, parts, i = sorted(indexes), [], 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{ordered[i]}-{ordered[j]}")
        else:
            parts.extend(str(n) for n in ordered[i:j + 1])
        i = j + 1
    return ",".join(parts)


def parse_indexes(text: str | None, completions: int) -> set[int]:
    """The indexes in a completedIndexes string below `completions`."""
    out: set[int] = set()
    for part in (text or "").split(","):
        first, _, last = part.partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            continue
        out.update(range(max(low, 0), min(high, completions - 1) + 1))
    return out


def want_active(job: Obj, succeeded: int, active: int) -> int:
    """How many pods should be running now (manageJob's wantActive)."""
    parallelism = int(spec(job).get("parallelism") or 0)
    completions = spec(job).get("completions")
    if completions is None:
        return active if succeeded > 0 else parallelism
    return max(0, min(int(completions) - succeeded, parallelism))


def missing_indexes(completions: int, done: set[int], running: set[int], count: int) -> list[int]:
    """The lowest `count` indexes neither completed nor running."""
    out: list[int] = []
    for index in range(completions):
        if len(out) >= count:
            break
        if index not in done and index not in running:
            out.append(index)
    return out


def complete(job: Obj, succeeded: int, active: int, done_indexes: set[int]) -> bool:
    completions = spec(job).get("completions")
    if is_indexed(job):
        return completions is not None and len(done_indexes) >= int(completions)
    if completions is None:
        return succeeded > 0 and active == 0
    return succeeded >= int(completions)


@dataclass(frozen=True)
class PolicyVerdict:
    """What a pod failure policy decides for one failed pod."""

    action: str  # "Count" (also when no rule matches), "Ignore", "FailJob", "FailIndex"
    message: str = ""


def _exit_code_matches(requirement: Obj, statuses: list[Any]) -> Obj | None:
    values = set(_l(requirement.get("values")))
    name = requirement.get("containerName")
    for cs in statuses:
        cs = _d(cs)
        terminated = _d(_d(cs.get("state")).get("terminated"))
        code = terminated.get("exitCode")
        if not terminated or not code or (name is not None and cs.get("name") != name):
            continue
        if (code in values) == (requirement.get("operator") == "In"):
            return cs
    return None


def _condition_matches(patterns: list[Any], pod: Obj) -> Obj | None:
    for condition in _l(_d(pod.get("status")).get("conditions")):
        condition = _d(condition)
        for pattern in patterns:
            pattern = _d(pattern)
            if condition.get("type") == pattern.get("type") and \
                    condition.get("status") == pattern.get("status", "True"):
                return condition
    return None


def pod_failure_verdict(job: Obj, pod: Obj) -> PolicyVerdict:
    """matchPodFailurePolicy: the first rule matching the failed pod decides."""
    meta = _d(pod.get("metadata"))
    who = f"{meta.get('namespace')}/{meta.get('name')}"
    pod_status = _d(pod.get("status"))
    for i, rule in enumerate(_l(_d(spec(job).get("podFailurePolicy")).get("rules"))):
        rule = _d(rule)
        action = str(rule.get("action", ""))
        if rule.get("onExitCodes") is not None:
            requirement = _d(rule.get("onExitCodes"))
            cs = _exit_code_matches(requirement, _l(pod_status.get("containerStatuses"))) or \
                _exit_code_matches(requirement, _l(pod_status.get("initContainerStatuses")))
            if cs is None:
                continue
            code = _d(_d(cs.get("state")).get("terminated")).get("exitCode")
            message = (f"Container {cs.get('name')} for pod {who} failed with exit code {code} "
                       f"matching {action} rule at index {i}")
        else:
            condition = _condition_matches(_l(rule.get("onPodConditions")), pod)
            if condition is None:
                continue
            message = (f"Pod {who} has condition {condition.get('type')} matching {action} "
                       f"rule at index {i}")
        if action in ("Ignore", "FailJob", "FailIndex"):
            return PolicyVerdict(action, message if action == "FailJob" else "")
        return PolicyVerdict("Count")
    return PolicyVerdict("Count")


def restarts_past_limit(job: Obj, pods: list[Obj]) -> bool:
    """pastBackoffLimitOnFailure: with restartPolicy OnFailure the kubelet restarts
    containers in place, so their restarts count against backoffLimit."""
    template = _d(_d(spec(job).get("template")).get("spec"))
    if template.get("restartPolicy") != "OnFailure":
        return False
    restarts = sum(int(_d(cs).get("restartCount") or 0)
                   for pod in pods if phase(pod) in ("Running", "Pending")
                   for key in ("initContainerStatuses", "containerStatuses")
                   for cs in _l(_d(pod.get("status")).get(key)))
    limit = int(spec(job).get("backoffLimit", 6))
    return restarts > 0 if limit == 0 else restarts >= limit


def backoff_delay(consecutive_failures: int, base: float = DEFAULT_BACKOFF) -> float:
    """How long to wait before replacing a pod after `consecutive_failures` failures."""
    if consecutive_failures <= 0:
        return 0.0
    return min(base * 2 ** (consecutive_failures - 1), MAX_BACKOFF)


def condition(job: Obj, kind: str) -> Obj | None:
    for c in _l(status(job).get("conditions")):
        if _d(c).get("type") == kind:
            return _d(c)
    return None


def is_true(job: Obj, kind: str) -> bool:
    found = condition(job, kind)
    return found is not None and found.get("status") == "True"


def is_finished(job: Obj) -> bool:
    return is_true(job, "Complete") or is_true(job, "Failed")


def set_condition(conditions: list[Obj], kind: str, value: str, reason: str, message: str,
                  now: str) -> bool:
    """Add or change a condition in place; True when something changed. lastProbeTime and
    lastTransitionTime move only when the status does, as the job controller does."""
    for c in conditions:
        if c.get("type") == kind:
            if (c.get("status"), c.get("reason"), c.get("message")) == (value, reason, message):
                return False
            if c.get("status") != value:
                c["lastTransitionTime"] = now
                c["lastProbeTime"] = now
            c.update(status=value, reason=reason, message=message)
            return True
    conditions.append({"type": kind, "status": value, "lastProbeTime": now,
                       "lastTransitionTime": now, "reason": reason, "message": message})
    return True


def failure_target(job: Obj, *, failed: int, pods: list[Obj], policy_message: str | None,
                   past_deadline: bool) -> tuple[str, str] | None:
    """Why the Job fails now (reason, message), or None; a FailJob rule wins, then the
    back-off limit, then the deadline (the order of syncJob)."""
    if policy_message:
        return POD_FAILURE_POLICY, policy_message
    if failed > int(spec(job).get("backoffLimit", 6)) or restarts_past_limit(job, pods):
        return BACKOFF_LIMIT_EXCEEDED
    if past_deadline:
        return DEADLINE_EXCEEDED
    return None


def per_index(job: Obj) -> bool:
    """backoffLimitPerIndex applies (an Indexed Job that sets it)."""
    return is_indexed(job) and spec(job).get("backoffLimitPerIndex") is not None


def index_failures(pod: Obj) -> int:
    """The failures of the pod's index before this pod (its failure-count annotation)."""
    value = _d(_d(pod.get("metadata")).get("annotations")).get(INDEX_FAILURE_COUNT)
    try:
        return max(int(str(value)), 0)
    except ValueError:
        return 0


def index_fails(job: Obj, failed_pod: Obj, verdict: PolicyVerdict) -> bool:
    """Whether this failure ends the pod's index: a FailIndex rule, or more failures
    than backoffLimitPerIndex."""
    if verdict.action == "FailIndex":
        return True
    return index_failures(failed_pod) + 1 > int(spec(job).get("backoffLimitPerIndex") or 0)


def failed_indexes_verdict(job: Obj, done: set[int], failed: set[int]) -> tuple[str, str] | None:
    """With backoffLimitPerIndex: fail when more indexes failed than maxFailedIndexes, or
    when every index is done and some failed."""
    limit = spec(job).get("maxFailedIndexes")
    if limit is not None and len(failed) > int(limit):
        return MAX_FAILED_INDEXES_EXCEEDED
    completions = int(spec(job).get("completions") or 0)
    if failed and len(done | failed) >= completions:
        return FAILED_INDEXES
    return None
