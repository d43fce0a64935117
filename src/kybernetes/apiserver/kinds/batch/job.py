"""batch/v1 Jobs: Kubernetes' defaults, the generated selector and pod labels, validation
(api/job_validation.py), a status subresource, and `kubectl get jobs`' columns."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from kybernetes.api import defaults, job_validation
from kybernetes.api import resources as r
from kybernetes.api.errors import BadRequest
from kybernetes.api.field_errors import as_dict, as_list
from kybernetes.api.fields import field_getter
from kybernetes.api.labels import label_selector_string
from kybernetes.api.meta import parse_time
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, TableSpec, builtin_schema
from kybernetes.apiserver.kinds.strategy import StatusStrategy

Obj = dict[str, Any]
MAX_INT32 = 2**31 - 1


def job_defaults(job: Obj) -> None:
    """SetDefaults_Job (and the pod template's own defaults)."""
    spec = job.get("spec")
    if not isinstance(spec, dict):
        spec = job["spec"] = {}
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    template = spec.get("template")
    labels = as_dict(template.get("metadata")).get("labels") if isinstance(template, dict) \
        else None
    meta = job.get("metadata")
    if isinstance(labels, dict) and labels and isinstance(meta, dict) and not meta.get("labels"):
        meta["labels"] = dict(labels)
    if spec.get("completionMode") is None:
        spec["completionMode"] = "NonIndexed"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    policy = spec.get("podFailurePolicy")
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if policy is not None else "TerminatingOrFailed"
    for rule in as_list(as_dict(policy).get("rules")):
        for pattern in as_list(as_dict(rule).get("onPodConditions")):
            if isinstance(pattern, dict):
                pattern.setdefault("status", "True")
    if isinstance(template, dict):
        pod_spec = template.get("spec")
        if not isinstance(pod_spec, dict):
            pod_spec = template["spec"] = {}
        defaults.pod_spec_defaults(pod_spec)


class JobStrategy(StatusStrategy):
    """PrepareForCreate: a generated selector (unless manualSelector) and its pod labels;
    a delete that names no propagation orphans the pods, as batch/v1 always did."""

    default_propagation = "Orphan"
    delete_warning = ("child pods are preserved by default when jobs are deleted; set "
                      "propagationPolicy=Background to remove them or set "
                      "propagationPolicy=Orphan to suppress this warning")

    def __init__(self) -> None:
        super().__init__({}, tracks_generation=True)

    def prepare_for_create(self, obj: Obj) -> None:
        spec, meta = as_dict(obj.get("spec")), as_dict(obj.get("metadata"))
        if spec.get("manualSelector") is True or not isinstance(spec.get("template"), dict):
            return
        uid, name = str(meta.get("uid", "")), str(meta.get("name", ""))
        template_meta = spec["template"].get("metadata")
        if not isinstance(template_meta, dict):
            template_meta = spec["template"]["metadata"] = {}
        labels = template_meta.get("labels")
        if not isinstance(labels, dict):
            labels = template_meta["labels"] = {}
        # Kubernetes keeps a user's conflicting value (validation then refuses it).
        for key, value in ((job_validation.CONTROLLER_UID_LABEL, uid),
                           (job_validation.LEGACY_CONTROLLER_UID_LABEL, uid),
                           (job_validation.JOB_NAME_LABEL, name),
                           (job_validation.LEGACY_JOB_NAME_LABEL, name)):
            labels.setdefault(key, value)
        if spec.get("selector") is None:
            spec["selector"] = {"matchLabels": {job_validation.CONTROLLER_UID_LABEL: uid}}
        # Kubernetes copies the template's labels to a Job without labels when it reads
        # the Job back (defaulting on decode), so a stored Job shows them at once.
        if not meta.get("labels"):
            meta["labels"] = dict(labels)


def _has_condition(job: Obj, kind: str) -> bool:
    return any(as_dict(c).get("type") == kind and as_dict(c).get("status") == "True"
               for c in as_list(as_dict(job.get("status")).get("conditions")))


def job_status_text(job: Obj) -> str:
    """printJob's STATUS (Kubernetes 1.33)."""
    for kind in ("Complete", "Failed"):
        if _has_condition(job, kind):
            return kind
    if as_dict(job.get("metadata")).get("deletionTimestamp"):
        return "Terminating"
    for kind in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if _has_condition(job, kind):
            return kind
    return "Running"


def _completions(job: Obj) -> str:
    spec, status = as_dict(job.get("spec")), as_dict(job.get("status"))
    succeeded = status.get("succeeded") or 0
    parallelism = spec.get("parallelism")
    if spec.get("completions") is not None:
        return f"{succeeded}/{spec['completions']}"
    if isinstance(parallelism, int) and parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def _duration(job: Obj, now: _dt.datetime) -> str:
    status = as_dict(job.get("status"))
    start = parse_time(status.get("startTime"))
    if start is None:
        return ""
    end = parse_time(status.get("completionTime")) or now
    return tables.human_duration((end - start).total_seconds())


def _print_job(job: Obj, now: _dt.datetime) -> list[Any]:
    spec = as_dict(job.get("spec"))
    containers = as_list(as_dict(as_dict(spec.get("template")).get("spec")).get("containers"))
    try:
        selector = label_selector_string(as_dict(spec.get("selector"))) or "<none>"
    except BadRequest:  # a malformed stored selector prints, never fails
        selector = "<error>"
    return [as_dict(job.get("metadata")).get("name", ""), job_status_text(job), _completions(job),
            _duration(job, now), tables.since(as_dict(job.get("metadata")).get(
                "creationTimestamp"), now),
            ",".join(str(as_dict(c).get("name", "")) for c in containers),
            ",".join(str(as_dict(c).get("image", "")) for c in containers), selector]


_S = "string"
TABLE = TableSpec((tables.NAME, ("Status", _S, 0), ("Completions", _S, 0), ("Duration", _S, 0),
                   tables.AGE, ("Containers", _S, 1), ("Images", _S, 1), ("Selector", _S, 1)),
                  _print_job, descriptions={"Status": "Status of the job.",
                                            "Duration": "Time required to complete the job."})

DEFINITION = KindDefinition(
    resource=r.JOBS,
    schema=builtin_schema("io.k8s.api.batch.v1.Job"),
    openapi_name="io.k8s.api.batch.v1.Job",
    defaults=job_defaults,
    validate=job_validation.validate_job,
    strategy=JobStrategy(),
    table=TABLE,
    field_selectors={"status.successful": field_getter("status", "succeeded", default="0")},
)
