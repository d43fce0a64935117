"""The Job controller (kube name `job`): runs a Job's pods to completion.

As Kubernetes' job controller with tracking by finalizers, a sync is level-triggered:

1. read the Job (gone: take the tracking finalizer off its pods so they can go);
2. claim its pods; every pod it creates carries `batch.kubernetes.io/job-tracking`;
3. account for finished pods in two writes, so no pod is counted twice or lost when the
   controller stops half-way: their uids go to status.uncountedTerminatedPods (write),
   their finalizers come off (parallel patches in the background, so that replacements
   are created meanwhile and the next sync need not wait for them), then a later sync
   moves them into succeeded/failed/completedIndexes;
   a pod failure policy may Ignore a failed pod (not counted) or FailJob;
4. decide: suspended (delete active pods, Suspended condition), failing (FailureTarget
   for a FailJob rule, the back-off limit or activeDeadlineSeconds; active pods deleted;
   Failed once none is left), succeeding (SuccessCriteriaMet, then Complete with
   completionTime), or create pods up to parallelism (Indexed: the lowest missing
   indexes, with JOB_COMPLETION_INDEX from the pod's annotation through the downward API)
   after the failure back-off (10 s doubling, at most 6 min);
5. write status through the status subresource when it changed.

Expectations keep a slow watch from making it create or count twice; pod events are
batched per Job for a moment so that many pods finishing cost one status write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from kybernetes.api import errors
from kybernetes.api.labels import Selector, from_label_selector
from kybernetes.api.meta import (
    controller_ref,
    is_pod_ready,
    now_rfc3339,
    object_key,
    owner_reference,
    parse_time,
)
from kybernetes.api.resources import JOBS, PODS
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers import job_tracking as jt
from kybernetes.controllers import pod_control
from kybernetes.controllers.adoption import Claimer
from kybernetes.controllers.base import Controller, Obj, deep_copy, meta
from kybernetes.controllers.expectations import Expectations
from kybernetes.controllers.replication import slow_start_batch
from kybernetes.tasks import cancel_and_wait, spawn

log = logging.getLogger("kybernetes.controllers.job")

INDEX = "job-controller-uid"
BATCH_PERIOD = 0.1  # pod events of one Job within this window make one sync
MAX_PODS_PER_SYNC = 500


def _controller_uid(pod: Obj) -> list[str]:
    ref = controller_ref(pod)
    return [str(ref.get("uid"))] if ref and ref.get("kind") == "Job" else []


def _job_key(pod: Obj) -> str | None:
    ref = controller_ref(pod)
    if not ref or ref.get("kind") != "Job":
        return None
    return f"{meta(pod).get('namespace')}/{ref.get('name')}"


def _uid(obj: Obj) -> str:
    return str(meta(obj).get("uid") or "")


class JobController(Controller):
    """Keeps every Job's pods running until enough of them succeeded, or it fails."""

    name = "job"
    component = "job-controller"
    default_workers = 5

    def __init__(self, client: ApiClient, informers: InformerFactory, *,
                 backoff_base: float = jt.DEFAULT_BACKOFF) -> None:
        super().__init__(client, informers)
        self.backoff_base = backoff_base
        self.expectations = Expectations()
        # Pods whose finalizer this controller removed, until the informer shows it.
        self.finalizers_removed: dict[str, set[str]] = {}
        # Pods whose finalizer is being removed (a patch in flight), per Job.
        self.finalizers_removing: dict[str, set[str]] = {}
        self._removals: set[asyncio.Task[None]] = set()
        # Consecutive counted failures and when the last was counted (the back-off).
        self.failures: dict[str, tuple[int, float]] = {}
        # The resourceVersion of the last status written, so a stale cache is not used.
        self.written: dict[str, int] = {}
        self.jobs = informers.get(JOBS)
        self.pods = informers.get(PODS)
        self.pods.add_index(INDEX, _controller_uid)
        self.jobs.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                              on_delete=self.enqueue)
        self.pods.add_handler(on_add=self._pod_added, on_update=self._pod_updated,
                              on_delete=self._pod_deleted)

    # -- handlers ---------------------------------------------------------------------

    def _pod_added(self, pod: Obj) -> None:
        key = _job_key(pod)
        if key is None:
            return
        job = self.jobs.get(key)
        if job is not None and _uid(job) == controller_ref(pod).get("uid"):  # type: ignore[union-attr]
            self.expectations.creation_observed(key)
        self.queue.add_after(key, BATCH_PERIOD)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        for pod in (old, new):
            key = _job_key(pod)
            if key is not None:
                if not jt.has_finalizer(new):
                    self.finalizers_removed.get(key, set()).discard(_uid(new))
                self.queue.add_after(key, BATCH_PERIOD)

    def _pod_deleted(self, pod: Obj) -> None:
        key = _job_key(pod)
        if key is None:
            return
        self.expectations.deletion_observed(key, object_key(pod))
        self.finalizers_removed.get(key, set()).discard(_uid(pod))
        self.queue.add_after(key, BATCH_PERIOD)

    # -- sync -------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        job = self.jobs.get(key)
        if job is None:
            for cache in (self.expectations,):
                cache.delete(key)
            self.finalizers_removed.pop(key, None)
            self.finalizers_removing.pop(key, None)
            self.failures.pop(key, None)
            self.written.pop(key, None)
            await self._release_orphans(key)
            return
        if int(meta(job).get("resourceVersion") or 0) < self.written.get(key, 0):
            try:  # our last status write is newer than the cache: read it back
                job = await self.client.get(JOBS, meta(job)["name"],
                                            namespace=meta(job).get("namespace"))
            except errors.NotFound:
                return
        try:
            selector = from_label_selector(jt.spec(job).get("selector"))
        except errors.ApiError as e:
            self.event(job, "Warning", "InvalidSelector", str(e))
            return
        if selector.empty:
            self.event(job, "Warning", "InvalidSelector", "Job has an empty selector")
            return
        pods = await self._claim(job, selector)
        await _JobSync(self, key, job, pods).run()

    async def _claim(self, job: Obj, selector: Selector) -> list[Obj]:
        namespace = meta(job).get("namespace") or ""
        owned = self.pods.by_index(INDEX, _uid(job))
        orphans = [p for p in self.pods.list(namespace) if controller_ref(p) is None]
        return await Claimer(self.client, owner_resource=JOBS, owner=job, selector=selector,
                             resource=PODS).claim(owned + orphans)

    async def _release_orphans(self, key: str) -> None:
        """Pods of a Job that is gone lose the tracking finalizer, so they can be deleted."""
        namespace, _, name = key.partition("/")
        pods = [p for p in self.pods.list(namespace)
                if jt.has_finalizer(p) and (controller_ref(p) or {}).get("kind") == "Job"
                and (controller_ref(p) or {}).get("name") == name]
        await asyncio.gather(*(self.remove_finalizer(p) for p in pods), return_exceptions=True)

    async def run(self, workers: int | None = None) -> None:
        try:
            await super().run(workers)
        finally:
            await cancel_and_wait(*self._removals)

    # -- pod writes -------------------------------------------------------------------

    def remove_finalizers_soon(self, key: str, pods: list[Obj]) -> None:
        """Take the tracking finalizer off `pods` (already on record in the Job's
        uncountedTerminatedPods) in the background, all at once as kube's parallel
        patches: the sync goes on creating replacements meanwhile, and the Job is synced
        again when they are off, to move them into the counters."""
        if not pods:
            return
        removing = self.finalizers_removing.setdefault(key, set())
        removing.update(_uid(p) for p in pods)
        task = spawn(self._remove_finalizers(key, pods, removing),
                     name=f"job-finalizers-{key}")
        self._removals.add(task)
        task.add_done_callback(self._removals.discard)

    async def _remove_finalizers(self, key: str, pods: list[Obj], removing: set[str]) -> None:
        try:
            results = await asyncio.gather(*(self.remove_finalizer(p) for p in pods))
        finally:
            removing.difference_update(_uid(p) for p in pods)
        removed = self.finalizers_removed.get(key)
        for pod, ok in zip(pods, results, strict=True):
            cached = self.pods.get(object_key(pod))  # until the informer shows it off
            if ok and removed is not None and cached is not None and \
                    _uid(cached) == _uid(pod) and jt.has_finalizer(cached):
                removed.add(_uid(pod))
        if all(results):
            self.queue.add_after(key, BATCH_PERIOD)
        else:
            self.queue.add_rate_limited(key)

    async def remove_finalizer(self, pod: Obj) -> bool:
        """Take the tracking finalizer off (a strategic merge patch, as kube's controller
        sends: other finalizers stay); True when it is off (or the pod is gone)."""
        name, namespace = meta(pod)["name"], meta(pod).get("namespace")
        patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": [jt.TRACKING_FINALIZER]}}
        try:
            await self.client.patch(PODS, name, patch, namespace=namespace,
                                    patch_type="strategic")
        except errors.NotFound:
            return True
        except errors.ApiError as e:
            log.info("removing the job-tracking finalizer failed",
                     extra={"pod": f"{namespace}/{name}", "error": str(e)})
            return False
        return True

    def pod_from_template(self, job: Obj, index: int | None,
                          index_failures: int | None = None) -> Obj:
        """A new pod of the Job: its template, the tracking finalizer, and for an Indexed
        Job the index (annotation, label, hostname, JOB_COMPLETION_INDEX)."""
        template = jt.spec(job).get("template") or {}
        tmeta = template.get("metadata") or {}
        name = meta(job)["name"]
        labels = dict(tmeta.get("labels") or {})
        annotations = dict(tmeta.get("annotations") or {})
        pod_spec = deep_copy(template.get("spec") or {})
        generate = f"{name}-"
        if index is not None:
            annotations[jt.COMPLETION_INDEX] = labels[jt.COMPLETION_INDEX] = str(index)
            if index_failures is not None:
                annotations[jt.INDEX_FAILURE_COUNT] = str(index_failures)
            generate = f"{name}-{index}-"
            pod_spec.setdefault("hostname", f"{name}-{index}")
            for container in (*(pod_spec.get("initContainers") or ()),
                              *(pod_spec.get("containers") or ())):
                env = container.setdefault("env", [])
                if not any(e.get("name") == jt.INDEX_ENV for e in env):
                    env.append({"name": jt.INDEX_ENV, "valueFrom": {"fieldRef": {
                        "fieldPath": f"metadata.annotations['{jt.COMPLETION_INDEX}']"}}})
        pod_meta: Obj = {"generateName": generate, "namespace": meta(job).get("namespace"),
                         "labels": labels, "ownerReferences": [owner_reference(job)],
                         "finalizers": [*(tmeta.get("finalizers") or ()),
                                        jt.TRACKING_FINALIZER]}
        if annotations:
            pod_meta["annotations"] = annotations
        return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": pod_spec}

    async def create_pod(self, job: Obj, index: int | None,
                         index_failures: int | None = None) -> None:
        await pod_control.create_pod(self.client, self, job,
                                     self.pod_from_template(job, index, index_failures))

    async def delete_pod(self, job: Obj, pod: Obj, key: str) -> None:
        """Delete a pod the Job no longer wants; not counted as a failure (its finalizer
        comes off first)."""
        if jt.has_finalizer(pod) and await self.remove_finalizer(pod):
            self.finalizers_removed.setdefault(key, set()).add(_uid(pod))
        await pod_control.delete_pod(self.client, self, self.expectations, job, pod, key)

    async def write_status(self, key: str, job: Obj, status: Obj) -> Obj:
        updated = deep_copy(job)
        updated["status"] = status
        result = await self.client.update_status(JOBS, updated)
        self.written[key] = int(meta(result).get("resourceVersion") or 0)
        return result


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _clean(status: Obj) -> Obj:
    """The status as Kubernetes serializes it: zero counters and empty lists left out,
    ready/terminating and uncountedTerminatedPods always there."""
    out = {k: v for k, v in status.items()
           if v not in (None, "", [], 0) or k in ("ready", "terminating", "failedIndexes")}
    uncounted = {k: v for k, v in (status.get("uncountedTerminatedPods") or {}).items() if v}
    out["uncountedTerminatedPods"] = uncounted
    return out


class _JobSync:
    """One sync of one Job: the steps of the module docstring, over a private status."""

    def __init__(self, ctl: JobController, key: str, job: Obj, pods: list[Obj]) -> None:
        self.ctl, self.key, self.job, self.pods = ctl, key, job, pods
        self.status: Obj = deep_copy(jt.status(job))
        self.now = now_rfc3339()
        self.removed = ctl.finalizers_removed.setdefault(key, set())
        self.removing = ctl.finalizers_removing.setdefault(key, set())
        self.completions = jt.spec(job).get("completions")

    @property
    def conditions(self) -> list[Obj]:
        conditions: list[Obj] = self.status.setdefault("conditions", [])
        return conditions

    def _uncounted(self) -> tuple[list[str], list[str]]:
        uncounted = self.status.setdefault("uncountedTerminatedPods", {})
        return (uncounted.setdefault("succeeded", []), uncounted.setdefault("failed", []))

    async def run(self) -> None:
        if jt.is_finished(self.job):
            await self._release_all()
            await self._write()
            return
        ignored, policy_message = self._record_finished()
        active = [p for p in self.pods if jt.is_active(p)]
        terminating = [p for p in self.pods if jt.is_terminating(p)]
        self.status["active"] = len(active)
        self.status["ready"] = sum(1 for p in active if is_pod_ready(p))
        self.status["terminating"] = len(terminating)
        suspended = jt.spec(self.job).get("suspend") is True
        self._suspend_or_resume(suspended)
        target = self._failure_target(policy_message, suspended)
        complete = target is None and self._complete(active)
        # Replacements need not wait for the accounting: the totals already count the
        # pods in uncountedTerminatedPods, and expectations cover the pods created.
        work = [self._count_finished(ignored)]
        if target is None and not complete and not suspended:
            work.append(self._manage(active, terminating))
        results = await asyncio.gather(*work, return_exceptions=True)
        if target is not None:
            await self._fail(target, active, terminating)
        elif complete:
            await self._succeed(active, terminating)
        elif suspended:
            await self._delete(active)
        await self._write()
        error = next((r for r in results if isinstance(r, BaseException)), None)
        if error is not None:
            raise error

    # 3. accounting ---------------------------------------------------------------------

    def _record_finished(self) -> tuple[list[Obj], str | None]:
        """Put pods that finished since the last sync in uncountedTerminatedPods; the
        failed pods a policy Ignores (not counted), and the message of a FailJob rule."""
        self._move_counted({_uid(p): p for p in self.pods})
        succeeded, failed = self._uncounted()
        seen = set(succeeded) | set(failed)
        has_policy = jt.spec(self.job).get("podFailurePolicy") is not None
        policy_message: str | None = None
        ignored: list[Obj] = []
        new_succeeded, new_failed = len(succeeded), len(failed)
        for pod in self.pods:
            uid = _uid(pod)
            if not jt.has_finalizer(pod) or uid in self.removed or uid in seen:
                continue
            outcome = jt.finished_as(self.job, pod)
            if outcome == "Succeeded":
                succeeded.append(uid)
            elif outcome == "Failed":
                verdict = jt.pod_failure_verdict(self.job, pod) if has_policy and \
                    jt.phase(pod) == "Failed" else jt.PolicyVerdict("Count")
                if verdict.action == "Ignore":
                    ignored.append(pod)
                    continue
                policy_message = policy_message or (verdict.message or None)
                failed.append(uid)
                index = jt.pod_index(pod)
                if jt.per_index(self.job) and index is not None and \
                        jt.index_fails(self.job, pod, verdict):
                    self.status["failedIndexes"] = jt.format_indexes(
                        self._failed_indexes() | {index})
        if policy_message:
            jt.set_condition(self.conditions, "FailureTarget", "True", jt.POD_FAILURE_POLICY,
                             policy_message, self.now)
        self._note_backoff(len(succeeded) - new_succeeded, len(failed) - new_failed)
        return ignored, policy_message

    def _note_backoff(self, succeeded: int, failed: int) -> None:
        """kube's backoff record, kept when pods are first seen finished (so the
        replacement a sync makes for a failed pod already waits): a success clears
        the consecutive failures, failures add to them and restart the clock."""
        count, _ = self.ctl.failures.get(self.key, (0, 0.0))
        if succeeded:
            count = 0
            self.ctl.failures.pop(self.key, None)
        if failed:
            self.ctl.failures[self.key] = (count + failed, time.monotonic())

    def _uncounted_changed(self) -> bool:
        before = _d(jt.status(self.job).get("uncountedTerminatedPods"))
        succeeded, failed = self._uncounted()
        return set(succeeded) != set(before.get("succeeded") or ()) or \
            set(failed) != set(before.get("failed") or ())

    async def _count_finished(self, ignored: list[Obj]) -> None:
        """Record the finished pods' uids in the Job's status, then start taking their
        finalizers off (and those of ignored pods). They are counted (moved from the uids
        to the counters) by the write of a later sync, once the finalizer is off: a uid is
        always on record while its pod still has the finalizer, so no pod is counted twice
        or lost."""
        if self._uncounted_changed():
            await self._write()
        succeeded, failed = self._uncounted()
        by_uid = {_uid(p): p for p in self.pods}
        targets = [by_uid[u] for u in (*succeeded, *failed) if u in by_uid
                   and jt.has_finalizer(by_uid[u]) and u not in self.removed] + ignored
        self.ctl.remove_finalizers_soon(self.key, [p for p in targets
                                                   if _uid(p) not in self.removing
                                                   and self._still_tracked(p)])

    def _still_tracked(self, pod: Obj) -> bool:
        """The pod has the finalizer in the cache now: a removal that ended while this
        sync waited may show there and not in the sync's own (older) list of pods."""
        live = self.ctl.pods.get(object_key(pod))
        return live is not None and _uid(live) == _uid(pod) and jt.has_finalizer(live)

    def _move_counted(self, by_uid: dict[str, Obj]) -> None:
        """Uids whose finalizer is off leave uncountedTerminatedPods for the counters."""
        succeeded, failed = self._uncounted()
        done = self._done_indexes()

        def off(uid: str) -> bool:
            pod = by_uid.get(uid)
            return pod is None or uid in self.removed or not jt.has_finalizer(pod)
        new_succeeded = [u for u in succeeded if off(u)]
        new_failed = [u for u in failed if off(u)]
        if jt.is_indexed(self.job) and self.completions is not None:
            for uid in new_succeeded:
                index = jt.pod_index(by_uid.get(uid) or {})
                if index is not None and index < int(self.completions):
                    done.add(index)
            self.status["completedIndexes"] = jt.format_indexes(done)
            self.status["succeeded"] = len(done)
        else:
            self.status["succeeded"] = int(self.status.get("succeeded") or 0) + len(new_succeeded)
        self.status["failed"] = int(self.status.get("failed") or 0) + len(new_failed)
        succeeded[:] = [u for u in succeeded if u not in new_succeeded]
        failed[:] = [u for u in failed if u not in new_failed]

    def _failed_indexes(self) -> set[int]:
        """Indexes out of retries (backoffLimitPerIndex, FailIndex); never run again."""
        if not jt.per_index(self.job) or self.completions is None:
            return set()
        return jt.parse_indexes(self.status.get("failedIndexes"), int(self.completions))

    def _done_indexes(self) -> set[int]:
        if not jt.is_indexed(self.job) or self.completions is None:
            return set()
        return jt.parse_indexes(self.status.get("completedIndexes"), int(self.completions))

    def _totals(self) -> tuple[int, int]:
        """Succeeded and failed, counting pods still in uncountedTerminatedPods."""
        succeeded, failed = self._uncounted()
        return (int(self.status.get("succeeded") or 0) + len(succeeded),
                int(self.status.get("failed") or 0) + len(failed))

    # 4. decisions --------------------------------------------------------------------

    def _suspend_or_resume(self, suspended: bool) -> None:
        current = jt.condition(self.job, "Suspended")
        if suspended:
            if jt.set_condition(self.conditions, "Suspended", "True", *jt.SUSPENDED, self.now):
                self.ctl.event(self.job, "Normal", "Suspended", "Job suspended")
            return
        if current is not None and current.get("status") == "True":
            jt.set_condition(self.conditions, "Suspended", "False", *jt.RESUMED, self.now)
            self.ctl.event(self.job, "Normal", "Resumed", "Job resumed")
            self.status["startTime"] = self.now
        self.status.setdefault("startTime", self.now)

    def _failure_target(self, policy_message: str | None,
                        suspended: bool) -> tuple[str, str] | None:
        existing = jt.condition({"status": self.status}, "FailureTarget")
        if existing is not None and existing.get("status") == "True":
            return str(existing.get("reason")), str(existing.get("message"))
        _, failed = self._totals()
        target = jt.failure_target(self.job, failed=failed, pods=self.pods,
                                   policy_message=policy_message,
                                   past_deadline=not suspended and self._past_deadline())
        if target is None and jt.per_index(self.job):
            self.status.setdefault("failedIndexes", "")
            target = jt.failed_indexes_verdict(self.job, self._done_indexes(),
                                               self._failed_indexes())
        return target

    def _past_deadline(self) -> bool:
        deadline = jt.spec(self.job).get("activeDeadlineSeconds")
        start = parse_time(self.status.get("startTime"))
        if deadline is None or start is None:
            return False
        left = start.timestamp() + int(deadline) - time.time()
        if left > 0:
            self.ctl.queue.add_after(self.key, left + 0.05)
            return False
        return True

    async def _fail(self, target: tuple[str, str], active: list[Obj],
                    terminating: list[Obj]) -> None:
        jt.set_condition(self.conditions, "FailureTarget", "True", *target, self.now)
        await self._delete(active)
        succeeded, failed = self._uncounted()
        if not active and not terminating and not succeeded and not failed:
            if jt.set_condition(self.conditions, "Failed", "True", *target, self.now):
                self.ctl.event(self.job, "Warning", *target)

    def _complete(self, active: list[Obj]) -> bool:
        if jt.is_true({"status": self.status}, "SuccessCriteriaMet"):
            return True
        succeeded, _ = self._totals()
        return jt.complete(self.job, succeeded, len(active), self._done_indexes())

    async def _succeed(self, active: list[Obj], terminating: list[Obj]) -> None:
        jt.set_condition(self.conditions, "SuccessCriteriaMet", "True", *jt.COMPLETIONS_REACHED,
                         self.now)
        await self._delete(active)
        succeeded, failed = self._uncounted()
        if not active and not terminating and not succeeded and not failed:
            jt.set_condition(self.conditions, "Complete", "True", *jt.COMPLETIONS_REACHED,
                             self.now)
            self.status["completionTime"] = self.now
            self.ctl.event(self.job, "Normal", "Completed", "Job completed")

    async def _delete(self, pods: list[Obj]) -> None:
        pods = pods[:MAX_PODS_PER_SYNC]
        if not pods:
            return
        self.ctl.expectations.expect_deletions(self.key, [object_key(p) for p in pods])
        results = await asyncio.gather(*(self.ctl.delete_pod(self.job, p, self.key)
                                         for p in pods), return_exceptions=True)
        error = next((r for r in results if isinstance(r, Exception)), None)
        if error is not None:
            raise error

    async def _manage(self, active: list[Obj], terminating: list[Obj]) -> None:
        if not self.ctl.expectations.satisfied(self.key):
            return
        succeeded, _ = self._totals()
        want = jt.want_active(self.job, succeeded, len(active))
        if len(active) > want:
            await self._delete(self._excess(active, len(active) - want))
            return
        occupying = len(active)
        if jt.spec(self.job).get("podReplacementPolicy") == "Failed":
            occupying += len(terminating)
        count = min(want - occupying, MAX_PODS_PER_SYNC)
        if count <= 0:
            return
        failures, at = self.ctl.failures.get(self.key, (0, 0.0))
        wait = jt.backoff_delay(failures, self.ctl.backoff_base) - (time.monotonic() - at)
        if failures and wait > 0:
            self.ctl.queue.add_after(self.key, wait)
            return
        indexes: list[int | None] = [None] * count
        if jt.is_indexed(self.job) and self.completions is not None:
            running = {i for p in active + (terminating if occupying > len(active) else [])
                       if (i := jt.pod_index(p)) is not None}
            done = self._done_indexes() | self._uncounted_indexes() | self._failed_indexes()
            indexes = list(jt.missing_indexes(int(self.completions), done, running, count))
        if not indexes:
            return
        self.ctl.expectations.expect_creations(self.key, len(indexes))
        queue = list(indexes)
        by_index = self._index_failures() if jt.per_index(self.job) else {}
        # Slow start (1, 2, 4, ...) finds a failing template with one request; once the
        # Job's pods are known to be created fine, replacements go out in one batch.
        initial = len(queue) if self.pods else 1
        created, error = await slow_start_batch(
            len(queue), lambda: self._create(queue.pop(0), by_index), initial=initial)
        for _ in range(len(indexes) - created):
            self.ctl.expectations.creation_observed(self.key)
        if error is not None:
            raise error

    async def _create(self, index: int | None, failures: dict[int, int]) -> None:
        count = failures.get(index, 0) if index is not None and jt.per_index(self.job) \
            else None
        await self.ctl.create_pod(self.job, index, count)

    def _index_failures(self) -> dict[int, int]:
        """Failures so far per index: the newest failed pod's count plus its own failure."""
        out: dict[int, int] = {}
        for pod in self.pods:
            index = jt.pod_index(pod)
            if index is not None and jt.finished_as(self.job, pod) == "Failed":
                out[index] = max(out.get(index, 0), jt.index_failures(pod) + 1)
        return out

    def _uncounted_indexes(self) -> set[int]:
        succeeded, _ = self._uncounted()
        by_uid = {_uid(p): p for p in self.pods}
        return {i for u in succeeded if (i := jt.pod_index(by_uid.get(u) or {})) is not None}

    def _excess(self, active: list[Obj], count: int) -> list[Obj]:
        """Pods to delete when too many run: duplicates of an index or indexes already
        done first, then pending before running, newest first."""
        seen: set[int] = set()
        done = self._done_indexes()

        def rank(pod: Obj) -> tuple[int, int, str]:
            index = jt.pod_index(pod)
            duplicate = index is not None and (index in done or index in seen)
            if index is not None:
                seen.add(index)
            return (0 if duplicate else 1, 0 if jt.phase(pod) == "Pending" else 1,
                    str(meta(pod).get("creationTimestamp") or ""))
        ranked = [(rank(p), p) for p in active]
        ranked.sort(key=lambda item: (item[0][0], item[0][1], _neg(item[0][2])))
        return [p for _, p in ranked[:count]]

    async def _release_all(self) -> None:
        """A finished Job keeps no finalizer on its pods."""
        pods = [p for p in self.pods if jt.has_finalizer(p) and _uid(p) not in self.removed]
        results = await asyncio.gather(*(self.ctl.remove_finalizer(p) for p in pods))
        self.removed.update(_uid(p) for p, ok in zip(pods, results, strict=True) if ok)
        self.status["active"] = sum(1 for p in self.pods if jt.is_active(p))
        self.status["ready"] = sum(1 for p in self.pods if jt.is_active(p) and is_pod_ready(p))
        self.status["terminating"] = sum(1 for p in self.pods if jt.is_terminating(p))

    # 5. status -----------------------------------------------------------------------

    async def _write(self) -> None:
        status = _clean(self.status)
        if status == _clean(jt.status(self.job)):
            return
        try:
            self.job = await self.ctl.write_status(self.key, self.job, status)
        except errors.NotFound:
            return
        self.status = deep_copy(status)


def _neg(text: str) -> Any:
    """Sort newest first: invert a timestamp string."""
    return tuple(-ord(c) for c in text)
