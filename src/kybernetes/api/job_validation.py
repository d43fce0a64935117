"""Validation of batch/v1 Jobs (pkg/apis/batch/validation), with Kubernetes' paths and
wording: the generated selector, the spec's counts and modes, the pod failure policy,
the pod template (restartPolicy OnFailure or Never) and what an update may change.

`validate_job_spec` is also what a CronJob's jobTemplate is held to.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from kybernetes.api import meta as names
from kybernetes.api.errors import BadRequest
from kybernetes.api.field_errors import (
    ErrorList,
    Obj,
    as_dict,
    as_list,
    label_selector_errors,
    validate_labels,
)
from kybernetes.api.labels import from_label_selector
from kybernetes.api.pod_validation import validate_pod_spec

CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"

MAX_PARALLELISM_INDEXED = 100_000
MAX_FAILED_INDEXES = 100_000
COMPLETIONS_SOFT_LIMIT = 100_000
PARALLELISM_LIMIT_HIGH_COMPLETIONS = 10_000
MAX_FAILED_INDEXES_HIGH_COMPLETIONS = 10_000
MAX_POD_FAILURE_POLICY_RULES = 20
MAX_ON_EXIT_CODES_VALUES = 255
MAX_ON_POD_CONDITIONS = 20

_ACTIONS = ("Count", "FailIndex", "FailJob", "Ignore")
_OPERATORS = ("In", "NotIn")
_CONDITION_STATUSES = ("False", "True", "Unknown")
_REPLACEMENT_POLICIES = ("Failed", "TerminatingOrFailed")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _indexed(spec: Obj) -> bool:
    return spec.get("completionMode") == "Indexed"


def _has_label(errs: ErrorList, template_meta: Obj, key: str, expected: str) -> None:
    """ValidateHasLabel on the pod template's labels."""
    labels = as_dict(template_meta.get("labels"))
    path = f"spec.template.metadata.labels[{key}]"
    if key not in labels:
        errs.required(path, expected)
    elif labels[key] != expected:
        errs.invalid(path, labels, f"must be '{expected}'")


def _validate_generated_selector(errs: ErrorList, job: Obj) -> None:
    spec, meta = as_dict(job.get("spec")), as_dict(job.get("metadata"))
    if spec.get("manualSelector") is True or not spec.get("selector"):
        return
    uid, name = str(meta.get("uid") or ""), str(meta.get("name") or "")
    if not uid:
        errs.required("metadata.uid")
    template_meta = as_dict(as_dict(spec.get("template")).get("metadata"))
    expected = {LEGACY_CONTROLLER_UID_LABEL: uid, LEGACY_JOB_NAME_LABEL: name,
                CONTROLLER_UID_LABEL: uid, JOB_NAME_LABEL: name}
    for key, value in expected.items():
        _has_label(errs, template_meta, key, value)
    try:
        if not from_label_selector(spec["selector"]).matches(expected):
            errs.invalid("spec.selector", spec["selector"], "`selector` not auto-generated")
    except BadRequest:
        pass  # reported by the selector's own validation


def _validate_on_exit_codes(errs: ErrorList, req: Obj, path: str, containers: set[str]) -> None:
    operator = req.get("operator")
    if not operator:
        errs.required(f"{path}.operator", 'valid values: ["In" "NotIn"]')
    elif operator not in _OPERATORS:
        errs.not_supported(f"{path}.operator", operator, _OPERATORS)
    name = req.get("containerName")
    if name is not None and name not in containers:
        errs.invalid(f"{path}.containerName", name,
                     "must be one of the container or initContainer names in the pod template")
    values = as_list(req.get("values"))
    if not values:
        errs.invalid(f"{path}.values", values, "at least one value is required")
    elif len(values) > MAX_ON_EXIT_CODES_VALUES:
        errs.too_many(f"{path}.values", len(values), MAX_ON_EXIT_CODES_VALUES)
    seen: set[Any] = set()
    for j, value in enumerate(values):
        if operator == "In" and value == 0:
            errs.invalid(f"{path}.values[{j}]", value, "must not be 0 for the In operator")
        if value in seen:
            errs.duplicate(f"{path}.values[{j}]", value)
        seen.add(value)
    if any(isinstance(a, int) and isinstance(b, int) and a > b
           for a, b in itertools.pairwise(values)):
        errs.invalid(f"{path}.values", values, "must be ordered")


def _validate_on_pod_conditions(errs: ErrorList, patterns: list[Any], path: str) -> None:
    if len(patterns) > MAX_ON_POD_CONDITIONS:
        errs.too_many(path, len(patterns), MAX_ON_POD_CONDITIONS)
    for j, pattern in enumerate(patterns):
        pattern, p = as_dict(pattern), f"{path}[{j}]"
        kind = str(pattern.get("type") or "")
        if not kind:
            errs.required(f"{p}.type", "name part must be non-empty")
        else:
            errs.each(f"{p}.type", kind, names.is_qualified_name(kind))
        status = pattern.get("status")
        if not status:
            errs.required(f"{p}.status", 'valid values: ["False" "True" "Unknown"]')
        elif status not in _CONDITION_STATUSES:
            errs.not_supported(f"{p}.status", status, _CONDITION_STATUSES)


def _validate_pod_failure_policy(errs: ErrorList, spec: Obj, path: str) -> None:
    rules = as_list(as_dict(spec.get("podFailurePolicy")).get("rules"))
    if len(rules) > MAX_POD_FAILURE_POLICY_RULES:
        errs.too_many(f"{path}.rules", len(rules), MAX_POD_FAILURE_POLICY_RULES)
    pod_spec = as_dict(as_dict(spec.get("template")).get("spec"))
    containers = {str(as_dict(c).get("name")) for key in ("containers", "initContainers")
                  for c in as_list(pod_spec.get(key))}
    for i, rule in enumerate(rules):
        rule, p = as_dict(rule), f"{path}.rules[{i}]"
        action = rule.get("action")
        if not action:
            errs.required(f"{p}.action", 'valid values: ["Count" "FailIndex" "FailJob" "Ignore"]')
        elif action == "FailIndex":
            if spec.get("backoffLimitPerIndex") is None:
                errs.invalid(f"{p}.action", action, "requires the backoffLimitPerIndex to be set")
        elif action not in _ACTIONS:
            errs.not_supported(f"{p}.action", action, _ACTIONS)
        on_exit, on_conditions = rule.get("onExitCodes"), as_list(rule.get("onPodConditions"))
        if on_exit is not None:
            _validate_on_exit_codes(errs, as_dict(on_exit), f"{p}.onExitCodes", containers)
        if on_conditions:
            _validate_on_pod_conditions(errs, on_conditions, f"{p}.onPodConditions")
        if on_exit is not None and on_conditions:
            errs.causes.append((p, "FieldValueInvalid", "Invalid value: specifying both "
                                "OnExitCodes and OnPodConditions is not supported"))
        if on_exit is None and not on_conditions:
            errs.causes.append((p, "FieldValueInvalid", "Invalid value: specifying one of "
                                "OnExitCodes and OnPodConditions is required"))


def _validate_indexed(errs: ErrorList, spec: Obj, path: str) -> None:
    completions, parallelism = _int(spec.get("completions")), _int(spec.get("parallelism"))
    max_failed, per_index = _int(spec.get("maxFailedIndexes")), spec.get("backoffLimitPerIndex")
    if spec.get("completions") is None:
        errs.required(f"{path}.completions", "when completion mode is Indexed")
    if parallelism is not None and parallelism > MAX_PARALLELISM_INDEXED:
        errs.invalid(f"{path}.parallelism", parallelism,
                     f"must be less than or equal to {MAX_PARALLELISM_INDEXED} when completion "
                     "mode is Indexed")
    if completions is not None and max_failed is not None and max_failed > completions:
        errs.invalid(f"{path}.maxFailedIndexes", max_failed,
                     "must be less than or equal to completions")
    if max_failed is not None and max_failed > MAX_FAILED_INDEXES:
        errs.invalid(f"{path}.maxFailedIndexes", max_failed,
                     f"must be less than or equal to {MAX_FAILED_INDEXES}")
    if completions is not None and completions > COMPLETIONS_SOFT_LIMIT and per_index is not None:
        high = (f"when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff "
                "limit per index")
        if max_failed is None:
            errs.required(f"{path}.maxFailedIndexes",
                          f"must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}")
        if parallelism is not None and parallelism > PARALLELISM_LIMIT_HIGH_COMPLETIONS:
            errs.invalid(f"{path}.parallelism", parallelism, "must be less than or equal to "
                         f"{PARALLELISM_LIMIT_HIGH_COMPLETIONS} {high}")
        if max_failed is not None and max_failed > MAX_FAILED_INDEXES_HIGH_COMPLETIONS:
            errs.invalid(f"{path}.maxFailedIndexes", max_failed, "must be less than or equal to "
                         f"{MAX_FAILED_INDEXES_HIGH_COMPLETIONS} {high}")


def validate_job_spec(errs: ErrorList, spec: Any, path: str = "spec") -> None:
    """validateJobSpec: everything but the selector (a CronJob's jobTemplate too)."""
    spec = as_dict(spec)
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit",
                "ttlSecondsAfterFinished", "backoffLimitPerIndex", "maxFailedIndexes"):
        errs.non_negative(f"{path}.{key}", spec.get(key))
    if spec.get("maxFailedIndexes") is not None and spec.get("backoffLimitPerIndex") is None:
        errs.required(f"{path}.backoffLimitPerIndex", "when maxFailedIndexes is specified")
    mode = spec.get("completionMode")
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        errs.not_supported(f"{path}.completionMode", mode, ("NonIndexed", "Indexed"))
    if _indexed(spec):
        _validate_indexed(errs, spec, path)
    else:
        for key in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if spec.get(key) is not None:
                errs.invalid(f"{path}.{key}", spec[key], "requires indexed completion mode")
    if spec.get("podFailurePolicy") is not None:
        _validate_pod_failure_policy(errs, spec, f"{path}.podFailurePolicy")
    replacement = spec.get("podReplacementPolicy")
    if replacement is not None:
        allowed = ("Failed",) if spec.get("podFailurePolicy") is not None \
            else _REPLACEMENT_POLICIES
        if replacement not in allowed:
            errs.not_supported(f"{path}.podReplacementPolicy", replacement, allowed)
    template = spec.get("template")
    if not isinstance(template, dict):
        errs.required(f"{path}.template")
        return
    validate_labels(errs, as_dict(template.get("metadata")).get("labels"),
                    f"{path}.template.metadata.labels")
    validate_pod_spec(errs, template.get("spec"), f"{path}.template.spec")
    policy = as_dict(template.get("spec")).get("restartPolicy")
    policy_path = f"{path}.template.spec.restartPolicy"
    if policy in (None, "", "Always"):
        errs.required(policy_path, 'valid values: "OnFailure", "Never"')
    elif policy not in ("OnFailure", "Never"):
        errs.not_supported(policy_path, policy, ("OnFailure", "Never"))
    elif spec.get("podFailurePolicy") is not None and policy != "Never":
        errs.invalid(policy_path, policy, 'only "Never" is supported when podFailurePolicy is '
                                          "specified")


def _validate_selector(errs: ErrorList, spec: Obj) -> None:
    """ValidateJobSpec's selector part: required, well formed, matching the template."""
    selector = spec.get("selector")
    if selector is None:
        errs.required("spec.selector")
        return
    errs.causes.extend(label_selector_errors(selector, "spec.selector"))
    labels = as_dict(as_dict(as_dict(spec.get("template")).get("metadata")).get("labels"))
    try:
        matches = from_label_selector(as_dict(selector)).matches(labels)
    except BadRequest:
        return
    if not matches:
        errs.invalid("spec.template.metadata.labels", labels,
                     "`selector` does not match template `labels`")


def _validate_completions_update(errs: ErrorList, spec: Obj, old: Obj) -> None:
    """Completions are immutable but for an Indexed Job scaled with parallelism (elastic)."""
    new_c, old_c = spec.get("completions"), old.get("completions")
    if new_c == old_c:
        return
    if not _indexed(spec):
        errs.immutable("spec.completions", new_c, old_c)
    elif new_c is not None and new_c != spec.get("parallelism"):
        errs.invalid("spec.completions", new_c,
                     "can only be modified in tandem with spec.parallelism")


def _scheduling_mutable(old_job: Obj) -> bool:
    """A suspended Job that never started may change its pods' scheduling directives."""
    return as_dict(old_job.get("spec")).get("suspend") is True and \
        not as_dict(old_job.get("status")).get("startTime")


def _validate_template_update(errs: ErrorList, spec: Obj, old_job: Obj) -> None:
    template = as_dict(spec.get("template"))
    old_template = copy.deepcopy(as_dict(as_dict(old_job.get("spec")).get("template")))
    if _scheduling_mutable(old_job):
        pod, old_pod = as_dict(template.get("spec")), old_template.setdefault("spec", {})
        affinity, old_affinity = pod.get("affinity"), old_pod.get("affinity")
        if affinity is None and isinstance(old_affinity, dict):
            rest = {k: v for k, v in old_affinity.items() if k != "nodeAffinity"}
            old_pod["affinity"] = rest or None
        elif isinstance(affinity, dict):
            rest = {k: v for k, v in as_dict(old_affinity).items() if k != "nodeAffinity"}
            if "nodeAffinity" in affinity:
                rest["nodeAffinity"] = affinity["nodeAffinity"]
            old_pod["affinity"] = rest
        if old_pod.get("affinity") is None:
            old_pod.pop("affinity", None)
        for key in ("nodeSelector", "tolerations", "schedulingGates"):
            old_pod.pop(key, None)
            if key in pod:
                old_pod[key] = pod[key]
        old_meta, meta = old_template.setdefault("metadata", {}), as_dict(template.get("metadata"))
        for key in ("annotations", "labels"):
            old_meta.pop(key, None)
            if key in meta:
                old_meta[key] = meta[key]
    if template != old_template:
        errs.invalid("spec.template", template, "field is immutable")


def validate_job(errs: ErrorList, job: Obj, old: Obj | None) -> None:
    """ValidateJob / ValidateJobUpdate (metadata is checked for every kind)."""
    spec = as_dict(job.get("spec"))
    if old is None:
        _validate_generated_selector(errs, job)
    validate_job_spec(errs, spec)
    _validate_selector(errs, spec)
    if old is None:
        completions, name = _int(spec.get("completions")), as_dict(job.get("metadata")).get("name")
        if _indexed(spec) and completions and name:
            hostname = f"{name}-{completions - 1}"
            if names.is_dns1123_label(hostname):
                errs.invalid("metadata.name", name, "will not able to create pod with invalid "
                             f"DNS label: {hostname}")
        return
    old_spec = as_dict(old.get("spec"))
    _validate_completions_update(errs, spec, old_spec)
    errs.immutable("spec.selector", spec.get("selector"), old_spec.get("selector"))
    _validate_template_update(errs, spec, old)
    for key in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex"):
        errs.immutable(f"spec.{key}", spec.get(key), old_spec.get(key))
    validate_job_status(errs, as_dict(job.get("status")))


def validate_job_status(errs: ErrorList, status: Obj) -> None:
    """validateJobStatus: counts non-negative, uncounted pods unique and non-empty."""
    for key in ("active", "succeeded", "failed", "ready", "terminating"):
        errs.non_negative(f"status.{key}", status.get(key))
    uncounted, seen = as_dict(status.get("uncountedTerminatedPods")), set()
    for key in ("succeeded", "failed"):
        for i, uid in enumerate(as_list(uncounted.get(key))):
            p = f"status.uncountedTerminatedPods.{key}[{i}]"
            if not uid:
                errs.invalid(p, uid, "must not be empty")
            elif uid in seen:
                errs.duplicate(p, uid)
            seen.add(uid)
