"""The TTL-after-finished controller (kube name `ttl-after-finished-controller`): a
finished Job (Complete or Failed) with spec.ttlSecondsAfterFinished is deleted that many
seconds after it finished, as pkg/controller/ttlafterfinished does it: the finish time is
the condition's lastTransitionTime, the Job is read again from the API server before the
delete (its TTL may have changed), and the delete is Foreground with the Job's uid as a
precondition, so its pods go first and a new Job of the same name is never touched."""

from __future__ import annotations

import logging
import time

from kybernetes.api import errors
from kybernetes.api.meta import is_being_deleted, parse_time
from kybernetes.api.resources import JOBS
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers import job_tracking as jt
from kybernetes.controllers.base import Controller, Obj, meta

log = logging.getLogger("kybernetes.controllers.ttl_after_finished")


def expires_in(job: Obj, now: float) -> float | None:
    """Seconds until the Job may be deleted (<= 0: now), None when it never expires."""
    ttl = jt.spec(job).get("ttlSecondsAfterFinished")
    if ttl is None or is_being_deleted(job):
        return None
    finished = next((c for kind in ("Complete", "Failed")
                     if (c := jt.condition(job, kind)) and c.get("status") == "True"), None)
    if finished is None:
        return None
    at = parse_time(finished.get("lastTransitionTime"))
    if at is None:
        return None
    return at.timestamp() + int(ttl) - now


class TtlAfterFinishedController(Controller):
    """Deletes finished Jobs whose time to live is over."""

    name = "ttl-after-finished-controller"
    component = "ttl-after-finished-controller"

    def __init__(self, client: ApiClient, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.jobs = informers.get(JOBS)
        self.jobs.add_handler(on_add=self._seen, on_update=lambda old, new: self._seen(new))

    def _seen(self, job: Obj) -> None:
        if expires_in(job, time.time()) is not None:
            self.enqueue(job)

    async def sync(self, key: str) -> None:
        job = self.jobs.get(key)
        if job is None or (left := expires_in(job, time.time())) is None:
            return
        if left > 0:
            self.queue.add_after(key, left)
            return
        namespace, name = meta(job).get("namespace"), meta(job)["name"]
        try:
            fresh = await self.client.get(JOBS, name, namespace=namespace)
        except errors.NotFound:
            return
        left = expires_in(fresh, time.time())
        if left is None:
            return
        if left > 0:
            self.queue.add_after(key, left)
            return
        try:
            await self.client.delete(JOBS, name, namespace=namespace,
                                     propagation_policy="Foreground",
                                     preconditions={"uid": meta(fresh).get("uid")})
        except (errors.NotFound, errors.Conflict):
            return
        log.info("deleted a finished job after its TTL", extra={"job": key})
