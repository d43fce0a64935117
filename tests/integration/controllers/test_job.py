"""The job and ttl-after-finished controllers against a real API server and a hollow node
(`kyb hollow-nodes`, fake runtime: pods annotated `fake.kyb.io/exit` exit on their own
with the code asked for): completions and parallelism, Indexed, the back-off limit,
activeDeadlineSeconds, suspend and resume, pod failure policies, the TTL, and
`kubectl wait --for=condition=complete` with the oldest and newest kubectl."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from kybernetes.api.resources import EVENTS, JOBS, NAMESPACES, NODES, PODS
from kybernetes.client import ApiClient
from kybernetes.controllers.job import JobController
from tests.integration.controllers.helpers import running
from tests.support.apiserver import ApiServer, connected
from tests.support.kubectl import KUBECTLS, Kubectl
from tests.support.poll import eventually
from tests.support.procs import Proc

NODE = "jobnode-0"
_names = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """One API server and one hollow node for the module (nodes are cluster-scoped)."""
    tmp = tmp_path_factory.mktemp("jobs")
    srv = ApiServer(tmp / "apiserver").start()
    node = None
    try:
        node = Proc.kyb("hollow-nodes", "--kubeconfig", str(srv.kubeconfig), "--count", "1",
                        "--name-prefix", "jobnode", "--lease-seconds", "2",
                        log_path=tmp / "hollow.log").start()
        yield srv
    finally:
        if node is not None:
            node.stop()
        srv.stop()


@pytest.fixture
async def client(server: ApiServer) -> AsyncIterator[ApiClient]:
    async with connected(server) as api:
        await eventually(lambda: _node_ready(api), within=60, what="hollow node Ready")
        yield api


@pytest.fixture
async def ns(client: ApiClient) -> str:
    name = f"job{next(_names)}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                     "metadata": {"name": name}})
    return name


@contextlib.asynccontextmanager
async def controllers(client: ApiClient, *extra: str) -> AsyncIterator[JobController]:
    async with running(client, "job", *extra) as manager:
        job_controller = manager.controllers["job"]
        assert isinstance(job_controller, JobController)
        job_controller.backoff_base = 0.2  # kube's 10 s would make these tests slow
        yield job_controller


async def _node_ready(client: ApiClient) -> bool:
    nodes = (await client.list(NODES))["items"]
    return any(n["metadata"]["name"] == NODE and any(
        c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
        for n in nodes)


def job(name: str, ns: str, *, exit: str | None = "0.2", restart: str = "Never",
        **spec: Any) -> dict[str, Any]:
    template_meta = {"annotations": {"fake.kyb.io/exit": exit}} if exit else {}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": ns},
            "spec": {**spec, "template": {"metadata": template_meta, "spec": {
                "nodeName": NODE, "restartPolicy": restart,
                "containers": [{"name": "main", "image": "busybox"}]}}}}


async def _get(client: ApiClient, ns: str, name: str) -> dict[str, Any]:
    return await client.get(JOBS, name, namespace=ns)


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == kind),
                None)


async def _until_condition(client: ApiClient, ns: str, name: str, kind: str,
                           within: float = 40) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        found = await _get(client, ns, name)
        cond = _condition(found, kind)
        return found if cond and cond["status"] == "True" else None
    got: dict[str, Any] = await eventually(check, within=within, what=f"job {name} {kind}")
    return got


async def _pods(client: ApiClient, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await client.list(PODS, namespace=ns))["items"]
    return items


async def _reasons(client: ApiClient, ns: str) -> list[str]:
    return [e["reason"] for e in (await client.list(EVENTS, namespace=ns))["items"]
            if e["involvedObject"]["kind"] == "Job"]


async def test_completions_with_parallelism(client: ApiClient, ns: str) -> None:
    async with controllers(client):
        await client.create(JOBS, job("work", ns, completions=4, parallelism=2))
        done = await _until_condition(client, ns, "work", "Complete")
    status = done["status"]
    assert status["succeeded"] == 4 and "failed" not in status
    assert status["ready"] == 0 and status["terminating"] == 0
    assert status["uncountedTerminatedPods"] == {}
    assert status["startTime"] <= status["completionTime"]
    kinds = [(c["type"], c["reason"], c["message"]) for c in status["conditions"]]
    assert kinds == [("SuccessCriteriaMet", "CompletionsReached",
                      "Reached expected number of succeeded pods"),
                     ("Complete", "CompletionsReached",
                      "Reached expected number of succeeded pods")]
    pods = await _pods(client, ns)
    assert len(pods) == 4 and all(p["status"]["phase"] == "Succeeded" for p in pods)
    assert all(not p["metadata"].get("finalizers") for p in pods)
    ref = pods[0]["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["controller"], ref["blockOwnerDeletion"]) == (
        "Job", "work", True, True)
    assert pods[0]["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "work"
    reasons = await eventually(lambda: _reasons(client, ns), what="events")
    assert reasons.count("SuccessfulCreate") >= 1 and "Completed" in reasons


async def test_indexed_job_gives_each_pod_its_index(client: ApiClient, ns: str) -> None:
    async with controllers(client):
        await client.create(JOBS, job("idx", ns, completions=3, parallelism=3,
                                      completionMode="Indexed"))
        done = await _until_condition(client, ns, "idx", "Complete")
    assert done["status"]["completedIndexes"] == "0-2" and done["status"]["succeeded"] == 3
    by_index = {}
    for pod in await _pods(client, ns):
        index = pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
        assert pod["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == index
        assert pod["metadata"]["name"].startswith(f"idx-{index}-")
        assert pod["spec"]["hostname"] == f"idx-{index}"
        env = pod["spec"]["containers"][0]["env"]
        assert env == [{"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
            "apiVersion": "v1",
            "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}}]
        by_index[index] = pod
    assert sorted(by_index) == ["0", "1", "2"]


async def test_backoff_limit_exceeded(client: ApiClient, ns: str) -> None:
    async with controllers(client):
        await client.create(JOBS, job("crash", ns, exit="0.1:1", backoffLimit=1))
        failed = await _until_condition(client, ns, "crash", "Failed")
    status = failed["status"]
    assert status["failed"] == 2 and "succeeded" not in status
    cond = _condition(failed, "Failed")
    assert cond is not None and (cond["reason"], cond["message"]) == (
        "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    assert _condition(failed, "FailureTarget") is not None
    assert "completionTime" not in status
    assert "BackoffLimitExceeded" in await eventually(lambda: _reasons(client, ns),
                                                      what="events")


async def test_a_failed_pod_is_replaced_after_the_back_off(client: ApiClient, ns: str) -> None:
    """kube waits backoff (10 s, doubling) after a failure before the replacement, from the
    sync that first sees the pod failed: the pods' creations are that far apart."""
    async with controllers(client) as job_controller:
        job_controller.backoff_base = 2.0
        await client.create(JOBS, job("again", ns, exit="0.1:1", backoffLimit=1))
        await _until_condition(client, ns, "again", "Failed")
    created = sorted(datetime.fromisoformat(p["metadata"]["creationTimestamp"])
                     for p in await _pods(client, ns))
    assert len(created) == 2
    assert (created[1] - created[0]).total_seconds() >= 2  # whole seconds: at least 2.1 s


async def test_active_deadline_exceeded_deletes_pods(client: ApiClient, ns: str) -> None:
    async with controllers(client):
        await client.create(JOBS, job("slow", ns, exit=None, activeDeadlineSeconds=2,
                                      parallelism=2, completions=2))
        await eventually(lambda: _count_running(client, ns, 2), within=20, what="2 running")
        failed = await _until_condition(client, ns, "slow", "Failed")
        cond = _condition(failed, "Failed")
        assert cond is not None and (cond["reason"], cond["message"]) == (
            "DeadlineExceeded", "Job was active longer than specified deadline")
        assert failed["status"].get("active", 0) == 0
        await eventually(lambda: _no_pods(client, ns), within=40, what="pods deleted")


async def _count_running(client: ApiClient, ns: str, count: int) -> bool:
    return sum(1 for p in await _pods(client, ns)
               if p["status"].get("phase") == "Running") == count


async def _no_pods(client: ApiClient, ns: str) -> bool:
    return not await _pods(client, ns)


async def test_suspend_and_resume(client: ApiClient, ns: str) -> None:
    async with controllers(client):
        await client.create(JOBS, job("sus", ns, exit=None, suspend=True, parallelism=2,
                                      completions=2))
        suspended = await _until_condition(client, ns, "sus", "Suspended")
        cond = _condition(suspended, "Suspended")
        assert cond is not None and (cond["reason"], cond["message"]) == (
            "JobSuspended", "Job suspended")
        assert not await _pods(client, ns) and "startTime" not in suspended["status"]
        await client.patch(JOBS, "sus", {"spec": {"suspend": False}}, namespace=ns)
        await eventually(lambda: _count_running(client, ns, 2), within=20, what="2 running")
        resumed = await _get(client, ns, "sus")
        cond = _condition(resumed, "Suspended")
        assert cond is not None and (cond["status"], cond["reason"]) == ("False", "JobResumed")
        assert resumed["status"]["startTime"]
        await client.patch(JOBS, "sus", {"spec": {"suspend": True}}, namespace=ns)
        await _until_condition(client, ns, "sus", "Suspended")
        await eventually(lambda: _no_pods(client, ns), within=40, what="pods deleted")
        again = await _get(client, ns, "sus")
        assert "failed" not in again["status"]  # pods the Job deletes are not failures
    reasons = await _reasons(client, ns)
    assert "Suspended" in reasons and "Resumed" in reasons


async def test_pod_failure_policy_fail_job(client: ApiClient, ns: str) -> None:
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {
        "containerName": "main", "operator": "In", "values": [42]}}]}
    async with controllers(client):
        await client.create(JOBS, job("pfp", ns, exit="0.1:42", backoffLimit=6,
                                      podFailurePolicy=policy))
        failed = await _until_condition(client, ns, "pfp", "Failed")
    cond = _condition(failed, "Failed")
    pod = (await _pods(client, ns))[0]["metadata"]["name"]
    assert cond is not None and cond["reason"] == "PodFailurePolicy"
    assert cond["message"] == (f"Container main for pod {ns}/{pod} failed with exit code 42 "
                               "matching FailJob rule at index 0")
    assert failed["status"]["failed"] == 1


async def test_pod_failure_policy_ignore_does_not_count(client: ApiClient, ns: str) -> None:
    policy = {"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In",
                                                             "values": [42]}}]}
    async with controllers(client):
        await client.create(JOBS, job("ign", ns, exit="0.1:42", backoffLimit=0,
                                      podFailurePolicy=policy))
        await eventually(lambda: _failed_pods(client, ns, 3), within=40, what="3 failed pods")
        got = await _get(client, ns, "ign")
        assert "failed" not in got["status"] and _condition(got, "Failed") is None


async def _failed_pods(client: ApiClient, ns: str, count: int) -> bool:
    return sum(1 for p in await _pods(client, ns) if p["status"].get("phase") == "Failed") \
        >= count


async def test_ttl_after_finished_deletes_the_job_and_its_pods(client: ApiClient,
                                                              ns: str) -> None:
    async with controllers(client, "ttl-after-finished-controller", "garbagecollector"):
        await client.create(JOBS, job("ttl", ns, ttlSecondsAfterFinished=1))
        await _until_condition(client, ns, "ttl", "Complete")

        async def gone() -> bool:
            return not (await client.list(JOBS, namespace=ns))["items"] and \
                not await _pods(client, ns)
        await eventually(gone, within=40, what="job and pods deleted")


@pytest.mark.parametrize("binary", [k for k in KUBECTLS if k != "kubectl"])
async def test_kubectl_wait_describe_and_get(client: ApiClient, ns: str, server: ApiServer,
                                             tmp_path: Path, binary: str) -> None:
    kubectl = Kubectl(binary, server, tmp_path)
    async with controllers(client):
        await client.create(JOBS, job("w", ns, completions=2))
        # In a thread: the controller runs on this event loop meanwhile.
        out = await asyncio.to_thread(kubectl, "wait", "--for=condition=complete", "job/w",
                                      "-n", ns, "--timeout=60s")
        assert out.strip() == "job.batch/w condition met"
    rows = [line.split() for line in kubectl("get", "jobs", "-n", ns).splitlines()]
    assert rows[1][:3] == ["w", "Complete", "2/2"]
    described = kubectl("describe", "job", "w", "-n", ns)
    assert "Pods Statuses:" in described and "2 Succeeded" in described
    assert "Completed" in described


async def test_deleted_job_lets_its_running_pods_go(client: ApiClient, ns: str) -> None:
    """Background delete (kubectl's): the garbage collector deletes the pods and the job
    controller takes the tracking finalizer off pods whose Job is gone."""
    async with controllers(client, "garbagecollector"):
        await client.create(JOBS, job("gone", ns, exit=None, parallelism=2, completions=2))
        await eventually(lambda: _count_running(client, ns, 2), within=20, what="2 running")
        await client.delete(JOBS, "gone", namespace=ns, propagation_policy="Background")
        await eventually(lambda: _no_pods(client, ns), within=60, what="pods deleted")


async def test_backoff_limit_per_index(client: ApiClient, ns: str) -> None:
    async with controllers(client):
        await client.create(JOBS, job("per", ns, exit="0.1:1", completionMode="Indexed",
                                      completions=2, parallelism=2, backoffLimitPerIndex=1))
        failed = await _until_condition(client, ns, "per", "Failed")
    cond = _condition(failed, "Failed")
    assert cond is not None and (cond["reason"], cond["message"]) == (
        "FailedIndexes", "Job has failed indexes")
    assert failed["status"]["failedIndexes"] == "0,1" and failed["status"]["failed"] == 4
    counts = sorted((p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"],
                     p["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"])
                    for p in await _pods(client, ns))
    assert counts == [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1")]


async def test_max_failed_indexes_exceeded(client: ApiClient, ns: str) -> None:
    async with controllers(client):
        await client.create(JOBS, job("maxf", ns, exit="0.1:1", completionMode="Indexed",
                                      completions=3, parallelism=1, backoffLimitPerIndex=0,
                                      maxFailedIndexes=0))
        failed = await _until_condition(client, ns, "maxf", "Failed")
    cond = _condition(failed, "Failed")
    assert cond is not None and (cond["reason"], cond["message"]) == (
        "MaxFailedIndexesExceeded",
        "Job has exceeded the specified maximal number of failed indexes")
    assert failed["status"]["failedIndexes"] == "0"
