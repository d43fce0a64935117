"""The cronjob controller (kube's cronjob-controller v2): Jobs on a schedule.

For each CronJob, at each scheduled time: a Job named `<cronjob>-<minutes since
epoch>` from the jobTemplate (labels and annotations copied, the
`batch.kubernetes.io/cronjob-scheduled-timestamp` annotation, a controller owner
reference), subject to suspend, startingDeadlineSeconds and concurrencyPolicy
(Allow, Forbid: skip while one runs, Replace: delete the running ones first).
Finished Jobs beyond the history limits are deleted oldest first; status.active,
lastScheduleTime and lastSuccessfulTime follow the Jobs. After a sync the key is
re-queued for the next scheduled time, so nothing polls. The clock (`now`) is
injectable for tests. Events and their texts are Kubernetes'.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kybernetes.api import cron, errors
from kybernetes.api.meta import controller_ref, now_rfc3339, parse_time, split_key
from kybernetes.api.resources import CRONJOBS, JOBS
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers.base import Controller, Obj, deep_copy, live_controller, meta
from kybernetes.controllers.cronjob_times import (
    MANY_MISSED,
    InvalidSchedule,
    format_schedule,
    job_name,
    most_recent_schedule_time,
    next_requeue_delay,
)

log = logging.getLogger("kybernetes.controllers.cronjob")
SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
Clock = Callable[[], datetime]


def finished_condition(job: Obj) -> str | None:
    """`Complete` or `Failed` when the Job has that condition True."""
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return None


def job_reference(job: Obj) -> Obj:
    m = meta(job)
    return {"kind": "Job", "namespace": m.get("namespace"), "name": m.get("name"),
            "uid": m.get("uid"), "apiVersion": "batch/v1",
            "resourceVersion": m.get("resourceVersion")}


def job_from_template(cj: Obj, scheduled: datetime) -> Obj:
    """getJobFromTemplate2: the Job a CronJob makes for one scheduled time."""
    m, spec = meta(cj), cj.get("spec") or {}
    template = spec.get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    annotations = dict(tmeta.get("annotations") or {})
    zone = cron.load_zone(str(spec.get("timeZone") or ""))
    annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = cron.format_rfc3339(scheduled.astimezone(zone))
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {
            "name": job_name(cj, scheduled), "namespace": m.get("namespace"),
            "labels": dict(tmeta.get("labels") or {}), "annotations": annotations,
            "ownerReferences": [{"apiVersion": CRONJOBS.api_version, "kind": CRONJOBS.kind,
                                 "name": m.get("name"), "uid": m.get("uid"),
                                 "controller": True, "blockOwnerDeletion": True}]},
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def _start_time_key(job: Obj) -> tuple[int, str, str]:
    """byJobStartTime: Jobs with a start time first, oldest first, then by name."""
    start = (job.get("status") or {}).get("startTime")
    parsed = parse_time(start)
    return (0 if parsed else 1, parsed.isoformat() if parsed else "", str(meta(job).get("name")))


class CronJobController(Controller):
    name = "cronjob"
    component = "cronjob-controller"
    default_workers = 5

    def __init__(self, client: ApiClient, informers: InformerFactory, *,
                 now: Clock = lambda: datetime.now(UTC)) -> None:
        super().__init__(client, informers)
        self.now = now
        self.cronjobs = informers.get(CRONJOBS)
        self.jobs = informers.get(JOBS)
        self.cronjobs.add_handler(on_add=self.enqueue, on_update=self._cronjob_updated,
                                  on_delete=self.enqueue)
        self.jobs.add_handler(on_add=self._job_changed,
                              on_update=self._job_updated,
                              on_delete=self._job_changed)

    # -- handlers -------------------------------------------------------------------

    def _owner(self, job: Obj) -> Obj | None:
        return live_controller(job, CRONJOBS.kind, self.cronjobs)

    def _job_changed(self, job: Obj) -> None:
        if (cj := self._owner(job)) is not None:
            self.enqueue(cj)

    def _job_updated(self, old: Obj, new: Obj) -> None:
        if controller_ref(old) != controller_ref(new):
            self._job_changed(old)
        self._job_changed(new)

    def _cronjob_updated(self, old: Obj, new: Obj) -> None:
        """A new schedule or zone: wake at its next time; anything else: now."""
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        if (old_spec.get("schedule"), old_spec.get("timeZone")) == (
                new_spec.get("schedule"), new_spec.get("timeZone")):
            self.enqueue(new)
            return
        try:
            schedule = cron.parse_standard(format_schedule(new))
        except cron.CronError:
            self.event(new, "Warning", "UnParseableCronJobSchedule",
                       f"unparseable schedule for cronjob: {new_spec.get('schedule')}")
            return
        self.enqueue_after(new, max(0.0, next_requeue_delay(new, self.now(), schedule)))

    # -- sync -----------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.cronjobs.get(key)
        if cached is None:
            return
        namespace, name = split_key(key)
        jobs = [j for j in self.jobs.list(namespace)
                if (ref := controller_ref(j)) is not None and ref.get("name") == name]
        cj = deep_copy(cached)
        cj.setdefault("apiVersion", CRONJOBS.api_version)
        cj.setdefault("kind", CRONJOBS.kind)
        changed = await self._cleanup_finished(cj, jobs)
        requeue: float | None = None
        failure: Exception | None = None
        try:
            requeue, synced = await self._sync_cronjob(cj, jobs)
            changed = changed or synced
        except errors.Conflict:
            raise
        except Exception as e:  # status first, then the retry (as kube)
            failure = e
        if changed:
            await self.client.update_status(CRONJOBS, cj)
        if requeue is not None:
            self.queue.add_after(key, max(0.0, requeue))
        elif failure is not None:
            raise failure

    async def _sync_cronjob(self, cj: Obj, jobs: list[Obj]) -> tuple[float | None, bool]:
        """syncCronJob: the active list, then at most one new Job; (requeue, changed)."""
        now = self.now()
        status = cj.setdefault("status", {})
        spec = cj.get("spec") or {}
        changed = False
        children = set()
        for job in jobs:
            uid = meta(job).get("uid")
            children.add(uid)
            active = self._in_active(cj, uid)
            finished = finished_condition(job)
            if not active and finished is None:
                fresh = await self.client.get(CRONJOBS, meta(cj)["name"],
                                              namespace=meta(cj).get("namespace"))
                if self._in_active(fresh, uid):
                    cj.clear()
                    cj.update(fresh)
                    status = cj.setdefault("status", {})
                    continue
                self.event(cj, "Warning", "UnexpectedJob",
                           f"Saw a job that the controller did not create or forgot: "
                           f"{meta(job).get('name')}")
            elif finished is not None:
                if active:
                    self._remove_active(cj, uid)
                    self.event(cj, "Normal", "SawCompletedJob",
                               f"Saw completed job: {meta(job).get('name')}, condition: {finished}")
                    changed = True
                if finished == "Complete":
                    done = (job.get("status") or {}).get("completionTime")
                    last = parse_time(status.get("lastSuccessfulTime"))
                    done_at = parse_time(done)
                    if done and (last is None or (done_at is not None and done_at > last)):
                        status["lastSuccessfulTime"] = done
                        changed = True
        for ref in list(status.get("active") or ()):
            if ref.get("uid") in children:
                continue
            try:
                await self.client.get(JOBS, ref.get("name"), namespace=ref.get("namespace"))
            except errors.NotFound:
                self.event(cj, "Normal", "MissingJob",
                           f"Active job went missing: {ref.get('name')}")
                self._remove_active(cj, ref.get("uid"))
                changed = True
        if meta(cj).get("deletionTimestamp"):
            return None, changed
        zone = spec.get("timeZone")
        if zone is not None:
            try:
                cron.load_zone(str(zone))
            except cron.CronError as e:
                self.event(cj, "Warning", "UnknownTimeZone", f'invalid timeZone: "{zone}": {e}')
                return None, changed
        if spec.get("suspend") is True:
            return None, changed
        if "TZ" in str(spec.get("schedule") or ""):
            self.event(cj, "Warning", "UnsupportedSchedule",
                       f'CRON_TZ or TZ used in schedule "{spec.get("schedule")}" is not officially '
                       "supported, see https://kubernetes.io/docs/concepts/workloads/controllers/"
                       "cron-jobs/ for more details")
        try:
            schedule = cron.parse_standard(format_schedule(cj))
        except cron.CronError as e:
            self.event(cj, "Warning", "UnparseableSchedule",
                       f'unparseable schedule: "{spec.get("schedule")}" : {e}')
            return None, changed
        try:
            recent = most_recent_schedule_time(cj, now, schedule, include_deadline=True)
        except InvalidSchedule as e:
            self.event(cj, "Warning", "InvalidSchedule",
                       f"invalid schedule: {spec.get('schedule')} : {e}")
            return None, changed
        scheduled = recent.time
        if scheduled is None or scheduled > now:
            return next_requeue_delay(cj, now, schedule), changed
        if recent.missed == MANY_MISSED:
            self.event(cj, "Warning", "TooManyMissedTimes",
                       "too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
                       "or check clock skew")
            log.info("too many missed times", extra={"cronjob": meta(cj).get("name")})
        deadline = spec.get("startingDeadlineSeconds")
        if isinstance(deadline, int) and (now - scheduled).total_seconds() > deadline:
            self.event(cj, "Warning", "MissSchedule", "Missed scheduled time to start a job: "
                       + scheduled.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"))
            return next_requeue_delay(cj, now, schedule), changed
        name = job_name(cj, scheduled)
        last_scheduled = parse_time(status.get("lastScheduleTime"))
        if any(a.get("name") == name for a in status.get("active") or ()) or \
                last_scheduled == scheduled:
            return next_requeue_delay(cj, now, schedule), changed
        if spec.get("concurrencyPolicy") == "Forbid" and status.get("active"):
            self.event(cj, "Normal", "JobAlreadyActive", "Not starting job because prior "
                       "execution is running and concurrency policy is Forbid")
            return next_requeue_delay(cj, now, schedule), changed
        if spec.get("concurrencyPolicy") == "Replace":
            for ref in list(status.get("active") or ()):
                try:
                    job = await self.client.get(JOBS, ref.get("name"),
                                                namespace=ref.get("namespace"))
                except errors.ApiError as e:
                    self.event(cj, "Warning", "FailedGet", f"Get job: {e}")
                    raise
                if not await self._delete_job(cj, job):
                    raise RuntimeError(f"could not replace job {ref.get('namespace')}/"
                                       f"{ref.get('name')}")
                changed = True
        request = job_from_template(cj, scheduled)
        try:
            created = await self.client.create(JOBS, request)
            self.event(cj, "Normal", "SuccessfulCreate", f"Created job {name}")
        except errors.AlreadyExists:
            created = await self.client.get(JOBS, name, namespace=meta(cj).get("namespace"))
            ref = controller_ref(created)
            if ref is None or ref.get("uid") != meta(cj).get("uid") or \
                    self._in_active(cj, meta(created).get("uid")):
                return None, changed
            log.info("job already exists", extra={"cronjob": meta(cj).get("name"), "job": name})
        except errors.ApiError as e:
            if "is being terminated" not in str(e):
                self.event(cj, "Warning", "FailedCreate", f"Error creating job: {e}")
            raise
        status.setdefault("active", []).append(job_reference(created))
        status["lastScheduleTime"] = now_rfc3339(scheduled)
        return next_requeue_delay(cj, now, schedule), True

    async def _cleanup_finished(self, cj: Obj, jobs: list[Obj]) -> bool:
        """cleanupFinishedJobs: keep the newest N succeeded and M failed Jobs."""
        spec = cj.get("spec") or {}
        changed = False
        for condition, key in (("Complete", "successfulJobsHistoryLimit"),
                               ("Failed", "failedJobsHistoryLimit")):
            limit = spec.get(key)
            if not isinstance(limit, int):
                continue
            done = sorted((j for j in jobs if finished_condition(j) == condition),
                          key=_start_time_key)
            for job in done[:max(0, len(done) - limit)]:
                changed = await self._delete_job(cj, job) or changed
        return changed

    async def _delete_job(self, cj: Obj, job: Obj) -> bool:
        """deleteJob: the Job (its pods in the background) and its active entry."""
        m = meta(job)
        try:
            await self.client.delete(JOBS, m["name"], namespace=m.get("namespace"),
                                     propagation_policy="Background")
        except errors.NotFound:
            pass
        except errors.ApiError as e:
            self.event(cj, "Warning", "FailedDelete", f"Deleted job: {e}")
            log.warning("could not delete job", extra={"job": m.get("name"), "error": str(e)})
            return False
        self._remove_active(cj, m.get("uid"))
        self.event(cj, "Normal", "SuccessfulDelete", f"Deleted job {m.get('name')}")
        return True

    @staticmethod
    def _in_active(cj: Obj, uid: Any) -> bool:
        return any(a.get("uid") == uid for a in (cj.get("status") or {}).get("active") or ())

    @staticmethod
    def _remove_active(cj: Obj, uid: Any) -> None:
        status = cj.setdefault("status", {})
        status["active"] = [a for a in status.get("active") or () if a.get("uid") != uid]
