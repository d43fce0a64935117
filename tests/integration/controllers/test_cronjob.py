"""CronJobs against a real API server and the cronjob controller, with real kubectl.

The schedule is `*/1 * * * *`, so a test waits for real minute boundaries (up to
~70 s each); one test drives several CronJobs through the same two minutes
(Forbid, Replace, Allow with history limit 0, suspended). This test plays the Job
controller: it marks Jobs finished by writing their status.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kybernetes.api import errors
from kybernetes.api.meta import now_rfc3339, parse_time
from kybernetes.api.resources import CRONJOBS, EVENTS, JOBS
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers.cronjob import CronJobController
from tests.integration.controllers.helpers import running
from tests.support.apiserver import ApiServer
from tests.support.kubectl import Kubectl
from tests.support.poll import eventually

MINUTE = 75.0  # one schedule period plus slack for a loaded machine


def cronjob(name: str, ns: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"schedule": "*/1 * * * *", **spec,
                     "jobTemplate": {"metadata": {"labels": {"cron": name}},
                                     "spec": {"template": {"spec": {
                                         "restartPolicy": "OnFailure",
                                         "containers": [{"name": "c", "image": "busybox"}]}}}}}}


async def jobs_of(client: ApiClient, ns: str, cj: str) -> list[dict[str, Any]]:
    items = (await client.list(JOBS, namespace=ns))["items"]
    return sorted((j for j in items if any(r.get("name") == cj for r in
                                          j["metadata"].get("ownerReferences") or ())),
                  key=lambda j: j["metadata"]["name"])


async def reasons(client: ApiClient, ns: str, cj: str) -> list[str]:
    items = (await client.list(EVENTS, namespace=ns))["items"]
    return [e["reason"] for e in items if e["involvedObject"].get("name") == cj]


async def recorded(client: ApiClient, ns: str, cj: str, reason: str) -> None:
    """Events are posted in the background: wait for one rather than race it."""
    async def seen() -> bool:
        return reason in await reasons(client, ns, cj)
    await eventually(seen, within=15, interval=0.2, what=f"a {reason} event on {cj}")


async def finish(client: ApiClient, job: dict[str, Any], condition: str = "Complete") -> None:
    fresh = await client.get(JOBS, job["metadata"]["name"], namespace=job["metadata"]["namespace"])
    now = now_rfc3339()
    status = fresh.setdefault("status", {})
    status["startTime"] = status.get("startTime") or now
    if condition == "Complete":
        status["completionTime"] = now
        status["succeeded"] = 1
        status["conditions"] = [
            {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": now},
            {"type": "Complete", "status": "True", "lastTransitionTime": now}]
    else:
        status["failed"] = 1
        status["conditions"] = [
            {"type": "FailureTarget", "status": "True", "lastTransitionTime": now},
            {"type": "Failed", "status": "True", "lastTransitionTime": now}]
    await client.update_status(JOBS, fresh)


async def test_policies_history_and_suspend_over_two_minutes(client: ApiClient, ns: str) -> None:
    async with running(client, "cronjob"):
        for name, spec in (("forbid", {"concurrencyPolicy": "Forbid"}),
                           ("replace", {"concurrencyPolicy": "Replace"}),
                           ("keep0", {"successfulJobsHistoryLimit": 0}),
                           ("paused", {"suspend": True})):
            await client.create(CRONJOBS, cronjob(name, ns, **spec))

        async def first_jobs() -> bool:
            return all([len(await jobs_of(client, ns, n)) == 1
                        for n in ("forbid", "replace", "keep0")])
        await eventually(first_jobs, within=MINUTE, interval=0.5, what="the first Jobs")
        [job] = await jobs_of(client, ns, "forbid")
        meta = job["metadata"]
        minutes = int(meta["name"].rsplit("-", 1)[1])
        stamp = meta["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        assert stamp == now_rfc3339(datetime.fromtimestamp(minutes * 60, UTC))
        assert meta["labels"]["cron"] == "forbid"
        [owner] = meta["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("CronJob", "forbid", True)
        forbid = await client.get(CRONJOBS, "forbid", namespace=ns)
        assert [a["name"] for a in forbid["status"]["active"]] == [meta["name"]]
        assert forbid["status"]["lastScheduleTime"] == stamp
        await recorded(client, ns, "forbid", "SuccessfulCreate")
        assert await jobs_of(client, ns, "paused") == []

        # keep0: a finished Job leaves the active list and, with a limit of 0, is deleted.
        [kept] = await jobs_of(client, ns, "keep0")
        await finish(client, kept)

        async def keep0_done() -> bool:
            cj = await client.get(CRONJOBS, "keep0", namespace=ns)
            return not cj["status"].get("active") and bool(cj["status"].get(
                "lastSuccessfulTime")) and await jobs_of(client, ns, "keep0") == []
        await eventually(keep0_done, within=20, interval=0.3, what="keep0's Job cleaned up")
        # As in Kubernetes, the history cleanup runs first: the Job is deleted (and leaves
        # the active list) before it could be reported as seen completed.
        await recorded(client, ns, "keep0", "SuccessfulDelete")

        # The next minute: Replace swaps its Job, Forbid refuses a second one.
        [replaced] = await jobs_of(client, ns, "replace")

        async def replaced_once() -> bool:
            names = [j["metadata"]["name"] for j in await jobs_of(client, ns, "replace")]
            return len(names) == 1 and names[0] != replaced["metadata"]["name"]
        await eventually(replaced_once, within=MINUTE, interval=0.5, what="Replace's new Job")
        await recorded(client, ns, "replace", "SuccessfulDelete")

        async def forbidden() -> bool:
            return "JobAlreadyActive" in await reasons(client, ns, "forbid")
        await eventually(forbidden, within=15, interval=0.3, what="JobAlreadyActive")
        assert [j["metadata"]["name"] for j in await jobs_of(client, ns, "forbid")] == \
            [meta["name"]]
        assert await jobs_of(client, ns, "paused") == []


class Clock:
    """A settable clock for the controller: its decisions without waiting for minutes."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextlib.asynccontextmanager
async def controller_at(client: ApiClient, clock: Clock) -> AsyncIterator[CronJobController]:
    informers = InformerFactory(client)
    controller = CronJobController(client, informers, now=clock)
    await informers.start()
    await informers.wait_synced()
    task = asyncio.create_task(controller.run())
    try:
        yield controller
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await informers.aclose()


async def test_a_late_controller_runs_only_the_latest_missed_time(client: ApiClient,
                                                                  ns: str) -> None:
    made = await client.create(CRONJOBS, cronjob("late", ns, concurrencyPolicy="Forbid"))
    created = parse_time(made["metadata"]["creationTimestamp"])
    assert created is not None
    clock = Clock(created + timedelta(hours=3, seconds=30))
    latest = clock.now.replace(second=0)
    async with controller_at(client, clock) as controller:
        async def one_job() -> list[dict[str, Any]]:
            return await jobs_of(client, ns, "late")
        [job] = await eventually(one_job, within=15, interval=0.2, what="the catch-up Job")
        assert job["metadata"]["name"] == f"late-{int(latest.timestamp()) // 60}"

        async def too_many() -> bool:
            return "TooManyMissedTimes" in await reasons(client, ns, "late")
        await eventually(too_many, within=10, interval=0.2, what="TooManyMissedTimes")
        fresh = await client.get(CRONJOBS, "late", namespace=ns)
        assert fresh["status"]["lastScheduleTime"] == now_rfc3339(latest)

        # One minute on, the Job still runs: Forbid skips this time.
        clock.now += timedelta(minutes=1)
        controller.enqueue(fresh)

        async def skipped() -> bool:
            return "JobAlreadyActive" in await reasons(client, ns, "late")
        await eventually(skipped, within=10, interval=0.2, what="JobAlreadyActive")
        assert len(await jobs_of(client, ns, "late")) == 1

        # Finished: the next minute runs again, and lastSuccessfulTime is set.
        await finish(client, job)
        clock.now += timedelta(minutes=1)
        controller.enqueue(fresh)

        async def second() -> bool:
            cj = await client.get(CRONJOBS, "late", namespace=ns)
            return len(await jobs_of(client, ns, "late")) == 2 and \
                bool(cj["status"].get("lastSuccessfulTime"))
        await eventually(second, within=10, interval=0.2, what="the next Job")


@pytest.fixture
def kubectl_for(shared_apiserver: ApiServer, tmp_path: Path) -> Any:
    return lambda binary: Kubectl(binary, shared_apiserver, tmp_path)


@pytest.mark.parametrize("binary", ["kubectl.1.27", "kubectl.1.33"])
async def test_kubectl_create_get_and_job_from_cronjob(client: ApiClient, ns: str,
                                                       kubectl_for: Any, binary: str) -> None:
    k = kubectl_for(binary)
    await asyncio.to_thread(k, "create", "cronjob", "nightly", "-n", ns, "--image=busybox",
                            "--schedule=0 3 * * *", "--", "echo", "hi")
    cj = await client.get(CRONJOBS, "nightly", namespace=ns)
    assert cj["spec"]["concurrencyPolicy"] == "Allow"
    assert (cj["spec"]["suspend"], cj["spec"]["successfulJobsHistoryLimit"],
            cj["spec"]["failedJobsHistoryLimit"]) == (False, 3, 1)
    template = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert template["restartPolicy"] == "OnFailure"
    assert template["containers"][0]["command"] == ["echo", "hi"]
    out = await asyncio.to_thread(k, "get", "cj", "-n", ns)
    header, row = out.splitlines()[:2]
    assert header.split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE",
                              "LAST", "SCHEDULE", "AGE"]
    assert row.split()[:9] == ["nightly", "0", "3", "*", "*", "*", "<none>", "False", "0"]
    await asyncio.to_thread(k, "create", "job", "manual", "--from=cronjob/nightly", "-n", ns)
    job = await client.get(JOBS, "manual", namespace=ns)
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["ownerReferences"][0]["name"] == "nightly"
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]


@pytest.mark.parametrize(("spec", "message"), [
    ({"schedule": "bad"},
     'spec.schedule: Invalid value: "bad": expected exactly 5 fields, found 1: [bad]'),
    ({"schedule": "61 * * * *"},
     'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61'),
    ({"schedule": "TZ=UTC * * * * *"},
     "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
    ({"timeZone": "Mars/Olympus"},
     'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus'),
    ({"startingDeadlineSeconds": -1},
     "spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0"),
    ({"concurrencyPolicy": "Sometimes"},
     'spec.concurrencyPolicy: Unsupported value: "Sometimes"'),
])
async def test_invalid_cronjobs_are_422(client: ApiClient, ns: str, spec: dict[str, Any],
                                        message: str) -> None:
    with pytest.raises(errors.ApiError) as info:
        await client.create(CRONJOBS, cronjob("bad", ns, **spec))
    assert info.value.code == 422
    assert message in str(info.value)


async def test_long_names_and_time_zones(client: ApiClient, ns: str) -> None:
    with pytest.raises(errors.ApiError) as info:
        await client.create(CRONJOBS, cronjob("x" * 53, ns))
    assert "must be no more than 52 characters" in str(info.value)
    made = await client.create(CRONJOBS, cronjob("zoned", ns, timeZone="Europe/Berlin",
                                                 schedule="@daily"))
    assert made["spec"]["timeZone"] == "Europe/Berlin"
