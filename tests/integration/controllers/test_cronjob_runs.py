"""A CronJob's Job really runs: cronjob controller (settable clock) + job controller + a
hollow node (fake runtime; pods annotated `fake.kyb.io/exit` exit on their own). The
Job completes, and the CronJob sees it: SawCompletedJob, lastSuccessfulTime, no active."""

from __future__ import annotations

from datetime import timedelta

from kybernetes.api.meta import parse_time
from kybernetes.api.resources import CRONJOBS
from kybernetes.client import ApiClient
from tests.integration.controllers.test_cronjob import Clock, controller_at, jobs_of, reasons
from tests.integration.controllers.test_job import (  # noqa: F401 - fixtures shared
    client,
    controllers,
    job,
    ns,
    server,
)
from tests.support.poll import eventually


async def test_the_scheduled_job_runs_to_completion(client: ApiClient, ns: str) -> None:  # noqa: F811
    template = job("unused", ns, exit="0.2")
    cj = {"apiVersion": "batch/v1", "kind": "CronJob",
          "metadata": {"name": "tick", "namespace": ns},
          "spec": {"schedule": "*/1 * * * *", "jobTemplate": {"spec": template["spec"]}}}
    made = await client.create(CRONJOBS, cj)
    created = parse_time(made["metadata"]["creationTimestamp"])
    assert created is not None
    clock = Clock(created + timedelta(seconds=61))
    async with controllers(client), controller_at(client, clock):
        async def done() -> bool:
            fresh = await client.get(CRONJOBS, "tick", namespace=ns)
            status = fresh.get("status") or {}
            return bool(status.get("lastSuccessfulTime")) and not status.get("active") and \
                len(await jobs_of(client, ns, "tick")) == 1
        await eventually(done, within=60, interval=0.3, what="the Job completed and seen")
        assert {"SuccessfulCreate", "SawCompletedJob"} <= set(await reasons(client, ns, "tick"))
