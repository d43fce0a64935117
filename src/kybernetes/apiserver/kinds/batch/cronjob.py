"""batch/v1 CronJobs: Kubernetes' defaults, validation (schedule through robfig/cron's
rules, IANA time zones, the jobTemplate held to a Job's rules), a status subresource and
`kubectl get cronjobs`' columns."""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

from kybernetes.api import cron, defaults, job_validation
from kybernetes.api import resources as r
from kybernetes.api.field_errors import ErrorList, as_dict, as_list
from kybernetes.api.labels import label_selector_string
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, TableSpec, builtin_schema
from kybernetes.apiserver.kinds.strategy import StatusStrategy

Obj = dict[str, Any]

# The controller names a Job `<cronjob>-<minutes since epoch>` (11 characters more) and a
# Job name is a DNS-1035 label of at most 63.
MAX_NAME_LENGTH = 63 - 11
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
_ZONE_PART = re.compile(r"[A-Za-z.\-_0-9+]{1,14}")


def cronjob_defaults(cj: Obj) -> None:
    """SetDefaults_CronJob, plus the pod defaults of the jobTemplate's pod template."""
    spec = cj.get("spec")
    if not isinstance(spec, dict):
        spec = cj["spec"] = {}
    if not spec.get("concurrencyPolicy"):
        spec["concurrencyPolicy"] = "Allow"
    for key, value in (("suspend", False), ("successfulJobsHistoryLimit", 3),
                       ("failedJobsHistoryLimit", 1)):
        if spec.get(key) is None:
            spec[key] = value
    template = as_dict(as_dict(as_dict(spec.get("jobTemplate")).get("spec")).get("template"))
    if isinstance(template.get("spec"), dict):
        defaults.pod_spec_defaults(template["spec"])


def validate_schedule(errs: ErrorList, schedule: str, *, allow_tz: bool,
                      time_zone: str | None, path: str = "spec.schedule") -> None:
    """validateScheduleFormat: robfig's ParseStandard, and no TZ= (spec.timeZone instead)."""
    try:
        cron.parse_standard(schedule)
    except cron.CronError as e:
        errs.invalid(path, schedule, str(e))
    if allow_tz and "TZ" in schedule and time_zone is not None:
        errs.invalid(path, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule")
    elif not allow_tz and "TZ" in schedule:
        errs.invalid(path, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field "
                                     "instead")


def validate_time_zone(errs: ErrorList, zone: Any, path: str = "spec.timeZone") -> None:
    """validateTimeZone: IANA naming rules, not `Local`, and present in the database."""
    if zone is None:
        return
    if not isinstance(zone, str) or zone == "":
        errs.invalid(path, zone, "timeZone must be nil or non-empty string")
        return
    for part in zone.split("/"):
        if part in (".", "..") or part.startswith("-") or not _ZONE_PART.fullmatch(part):
            errs.invalid(path, zone, f"unknown time zone {zone}")
            return
    if zone.lower() == "local":
        errs.invalid(path, zone, "timeZone must be an explicit time zone as defined in "
                                 "https://www.iana.org/time-zones")
    try:
        cron.load_zone(zone)
    except cron.CronError as e:
        errs.invalid(path, zone, str(e))


def _validate_spec(errs: ErrorList, spec: Obj, old_spec: Obj | None) -> None:
    schedule = spec.get("schedule")
    zone = spec.get("timeZone")
    if not schedule:
        errs.required("spec.schedule")
    elif isinstance(schedule, str):
        allow_tz = old_spec is not None and "TZ" in str(old_spec.get("schedule") or "")
        validate_schedule(errs, schedule, allow_tz=allow_tz,
                          time_zone=zone if isinstance(zone, str) else None)
    errs.non_negative("spec.startingDeadlineSeconds", spec.get("startingDeadlineSeconds"))
    if old_spec is None or old_spec.get("timeZone") != zone:
        validate_time_zone(errs, zone)
    policy = spec.get("concurrencyPolicy")
    if not policy:
        errs.required("spec.concurrencyPolicy")
    elif policy not in CONCURRENCY_POLICIES:
        errs.not_supported("spec.concurrencyPolicy", policy, CONCURRENCY_POLICIES)
    template_spec = as_dict(as_dict(spec.get("jobTemplate")).get("spec"))
    job_validation.validate_job_spec(errs, template_spec, "spec.jobTemplate.spec")
    if template_spec.get("selector") is not None:
        errs.invalid("spec.jobTemplate.spec.selector", template_spec["selector"],
                     "`selector` will be auto-generated")
    if template_spec.get("manualSelector") is True:
        errs.not_supported("spec.jobTemplate.spec.manualSelector", True, ("nil", "false"))
    for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        errs.non_negative(f"spec.{key}", spec.get(key))


def validate_cronjob(errs: ErrorList, cj: Obj, old: Obj | None) -> None:
    """ValidateCronJobCreate / ValidateCronJobUpdate (metadata is checked for every kind)."""
    old_spec = as_dict(old.get("spec")) if old is not None else None
    _validate_spec(errs, as_dict(cj.get("spec")), old_spec)
    name = str(as_dict(cj.get("metadata")).get("name") or "")
    if old is None and len(name) > MAX_NAME_LENGTH:
        errs.invalid("metadata.name", name, f"must be no more than {MAX_NAME_LENGTH} characters")


def _bool_ptr(value: Any) -> str:
    if value is None:
        return "<unset>"
    return "True" if value else "False"


def _print_cronjob(cj: Obj, now: _dt.datetime) -> list[Any]:
    spec, status = as_dict(cj.get("spec")), as_dict(cj.get("status"))
    job_spec = as_dict(as_dict(spec.get("jobTemplate")).get("spec"))
    containers = as_list(as_dict(as_dict(job_spec.get("template")).get("spec")).get("containers"))
    last = status.get("lastScheduleTime")
    selector = job_spec.get("selector")
    try:
        selector_text = label_selector_string(as_dict(selector)) or "<none>" \
            if selector is not None else "<none>"
    except Exception:  # a malformed stored selector prints, never fails
        selector_text = "<error>"
    zone = spec.get("timeZone")
    return [as_dict(cj.get("metadata")).get("name", ""), spec.get("schedule", ""),
            zone if zone is not None else "<none>", _bool_ptr(spec.get("suspend")),
            len(as_list(status.get("active"))),
            tables.since(last, now) if last else "<none>",
            tables.since(as_dict(cj.get("metadata")).get("creationTimestamp"), now),
            ",".join(str(as_dict(c).get("name", "")) for c in containers),
            ",".join(str(as_dict(c).get("image", "")) for c in containers), selector_text]


_S = "string"
TABLE = TableSpec((tables.NAME, ("Schedule", _S, 0), ("Timezone", _S, 0),
                   ("Suspend", "boolean", 0), ("Active", "integer", 0),
                   ("Last Schedule", _S, 0), tables.AGE, ("Containers", _S, 1),
                   ("Images", _S, 1), ("Selector", _S, 1)), _print_cronjob)

DEFINITION = KindDefinition(
    resource=r.CRONJOBS,
    schema=builtin_schema("io.k8s.api.batch.v1.CronJob"),
    openapi_name="io.k8s.api.batch.v1.CronJob",
    defaults=cronjob_defaults,
    validate=validate_cronjob,
    strategy=StatusStrategy({}, tracks_generation=True),
    table=TABLE,
    field_selectors={},
)
