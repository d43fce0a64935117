"""PodDisruptionBudgets end to end: the disruption controller's status, the eviction
subresource's refusals, `kubectl drain|cordon|uncordon` — on a real API server with the
controller manager's controllers, the scheduler and fake-runtime kubelets in-test."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kybernetes.api import errors
from kybernetes.api.resources import (
    DEPLOYMENTS,
    NODES,
    POD_DISRUPTION_BUDGETS,
    PODS,
    REPLICATION_CONTROLLERS,
)
from kybernetes.client import ApiClient
from kybernetes.kubelet.config import KubeletConfig
from kybernetes.kubelet.hollow import HollowNodes
from kybernetes.scheduler.config import parse_config
from kybernetes.scheduler.scheduler import Scheduler
from kybernetes.tasks import cancel_and_wait
from tests.integration.controllers.helpers import pods_of, rc, running
from tests.integration.controllers.test_deployment import deployment
from tests.support.apiserver import ApiServer
from tests.support.kubectl import KUBECTLS, Kubectl
from tests.support.poll import eventually

CONTROLLERS = ("disruption", "replicationcontroller", "replicaset", "deployment",
               "garbagecollector")
# The newest versioned kubectl (kubectl.1.33: protobuf bodies), and the oldest (1.27).
NEWEST = next((k for k in reversed(KUBECTLS) if k != "kubectl"), KUBECTLS[-1])
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
_prefixes = itertools.count()


@contextlib.asynccontextmanager
async def cluster(client: ApiClient, root: Path, nodes: int = 2) -> AsyncIterator[list[str]]:
    """Controllers, a scheduler and `nodes` fake-runtime kubelets; their node names."""
    prefix = f"pdb{next(_prefixes)}"
    template = KubeletConfig(node_name="template", runtime="fake", root_dir=root,
                             node_ip="127.0.0.1", lease_seconds=1, sync_seconds=1)
    hollow = HollowNodes(client, template, count=nodes, prefix=prefix)
    scheduler = Scheduler(client, parse_config({}))
    task = None
    try:
        await asyncio.wait_for(hollow.start(), 30)
        await asyncio.wait_for(scheduler.start(), 10)
        task = asyncio.create_task(scheduler.run())
        async with running(client, *CONTROLLERS):
            yield list(hollow.kubelets)
    finally:
        await cancel_and_wait(task)
        await scheduler.aclose()
        await hollow.aclose()
        for name in hollow.kubelets:
            with contextlib.suppress(errors.ApiError):
                await client.delete(NODES, name)


def pdb(name: str, ns: str, selector: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"matchLabels": selector}, **spec}}


async def status_of(client: ApiClient, name: str, ns: str) -> dict[str, Any]:
    return (await client.get(POD_DISRUPTION_BUDGETS, name, namespace=ns)).get("status") or {}


async def wait_status(client: ApiClient, name: str, ns: str, **wanted: Any) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        status = await status_of(client, name, ns)
        return status if all(status.get(k) == v for k, v in wanted.items()) else None
    return await eventually(check, within=30, what=f"PDB {name} status {wanted}")


async def ready_pods(client: ApiClient, selector: str, ns: str, count: int) -> list[dict]:
    async def check() -> list[dict] | None:
        pods = [p for p in await pods_of(client, selector, ns) if any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (p.get("status") or {}).get("conditions") or ())]
        return pods if len(pods) == count else None
    return await eventually(check, within=30, what=f"{count} ready pods {selector}")


async def evict(client: ApiClient, pod: dict[str, Any]) -> Any:
    meta = pod["metadata"]
    body = {"apiVersion": "policy/v1", "kind": "Eviction",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]}}
    return await client.request("POST", PODS.path(meta["namespace"], meta["name"], "eviction"),
                                body=body)


async def test_budget_status_and_evictions(client: ApiClient, ns: str, tmp_path: Path,
                                           shared_apiserver: ApiServer) -> None:
    async with cluster(client, tmp_path):
        await client.create(REPLICATION_CONTROLLERS, rc("web", 2, namespace=ns))
        pods = await ready_pods(client, "app=web", ns, 2)
        await client.create(POD_DISRUPTION_BUDGETS, pdb("web", ns, {"app": "web"},
                                                        minAvailable=2))
        status = await wait_status(client, "web", ns, currentHealthy=2, desiredHealthy=2,
                                   expectedPods=2, disruptionsAllowed=0, observedGeneration=1)
        [cond] = status["conditions"]
        assert (cond["type"], cond["status"], cond["reason"]) == (
            "DisruptionAllowed", "False", "InsufficientPods")

        kubectl = Kubectl(NEWEST, shared_apiserver, tmp_path)
        out = (await kubectl.arun("get", "pdb", "-n", ns)).stdout
        header, row = out.splitlines()
        assert header.split() == ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED",
                                  "DISRUPTIONS", "AGE"]
        assert row.split()[:4] == ["web", "2", "N/A", "0"]

        with pytest.raises(errors.TooManyRequests) as refused:
            await evict(client, pods[0])
        assert refused.value.message == VIOLATION
        assert refused.value.details["causes"] == [{
            "reason": "DisruptionBudget",
            "message": "The disruption budget web needs 2 healthy pods and has 2 currently"}]

        await client.patch(REPLICATION_CONTROLLERS, "web", {"spec": {"replicas": 3}},
                           namespace=ns)
        await wait_status(client, "web", ns, currentHealthy=3, expectedPods=3,
                          disruptionsAllowed=1)
        await evict(client, pods[0])
        after = await status_of(client, "web", ns)
        assert after["disruptionsAllowed"] == 0
        with contextlib.suppress(errors.NotFound):  # the fake kubelet may be done already
            gone = await client.get(PODS, pods[0]["metadata"]["name"], namespace=ns)
            assert gone["metadata"].get("deletionTimestamp")
            target = [c for c in gone["status"]["conditions"] if c["type"] == "DisruptionTarget"]
            assert [c["reason"] for c in target] == ["EvictionByEvictionAPI"], gone["status"]
        # the controller replaces the pod and the budget recovers
        status = await wait_status(client, "web", ns, currentHealthy=3, disruptionsAllowed=1)
        assert not status.get("disruptedPods")


async def test_percent_budgets_use_the_deployments_scale(client: ApiClient, ns: str,
                                                         tmp_path: Path) -> None:
    async with cluster(client, tmp_path, nodes=1):
        await client.create(DEPLOYMENTS, deployment("api", ns, 4))
        pods = await ready_pods(client, "app=api", ns, 4)
        await client.create(POD_DISRUPTION_BUDGETS, pdb("api", ns, {"app": "api"},
                                                        maxUnavailable="30%"))
        # 30% of 4 rounds up to 2 unavailable: 2 must stay healthy
        await wait_status(client, "api", ns, expectedPods=4, desiredHealthy=2,
                          currentHealthy=4, disruptionsAllowed=2)
        await client.create(POD_DISRUPTION_BUDGETS, pdb("api-half", ns, {"app": "api"},
                                                        minAvailable="50%"))
        await wait_status(client, "api-half", ns, expectedPods=4, desiredHealthy=2)
        with pytest.raises(errors.ApiError) as refused:
            await evict(client, pods[0])
        assert refused.value.code == 500
        assert refused.value.message == ("This pod has more than one PodDisruptionBudget, "
                                         "which the eviction subresource does not support.")
        with pytest.raises(errors.Invalid) as invalid:
            await client.create(POD_DISRUPTION_BUDGETS, pdb("both", ns, {"app": "api"},
                                                            minAvailable=1,
                                                            maxUnavailable="101%"))
        fields = {c["field"] for c in invalid.value.details["causes"]}
        assert fields == {"spec", "spec.maxUnavailable"}


async def test_drain_waits_for_the_budget(client: ApiClient, ns: str, tmp_path: Path,
                                          shared_apiserver: ApiServer) -> None:
    async with cluster(client, tmp_path, nodes=2) as nodes:
        await client.create(REPLICATION_CONTROLLERS, rc("db", 2, namespace=ns))
        pods = await ready_pods(client, "app=db", ns, 2)
        node = pods[0]["spec"]["nodeName"]
        others = [n for n in nodes if n != node]
        kubectl = Kubectl(NEWEST, shared_apiserver, tmp_path)
        await kubectl.arun("create", "poddisruptionbudget", "db", "-n", ns,
                           "--selector=app=db", "--min-available=2")
        await wait_status(client, "db", ns, currentHealthy=2, disruptionsAllowed=0)

        drain = ("drain", node, "--ignore-daemonsets", "--delete-emptydir-data")
        done = await kubectl.arun(*drain, "--timeout=7s", check=False)
        assert done.returncode != 0 and VIOLATION in done.stderr, done
        assert (await client.get(NODES, node))["spec"].get("unschedulable") is True

        await client.patch(POD_DISRUPTION_BUDGETS, "db", {"spec": {"minAvailable": 1}},
                           namespace=ns)
        await wait_status(client, "db", ns, observedGeneration=2, disruptionsAllowed=1)
        done = await kubectl.arun(*drain, "--timeout=90s", within=120)
        assert f"node/{node} drained" in done.stdout, done
        moved = await ready_pods(client, "app=db", ns, 2)
        assert {p["spec"]["nodeName"] for p in moved} <= set(others)
        done = await kubectl.arun("uncordon", node)
        assert f"node/{node} uncordoned" in done.stdout, done


@pytest.mark.parametrize("binary", sorted({KUBECTLS[0], NEWEST}))
async def test_cordon_and_uncordon(client: ApiClient, binary: str,
                                   shared_apiserver: ApiServer, tmp_path: Path) -> None:
    name = f"cordon-{binary.replace('.', '-')}"
    kubectl = Kubectl(binary, shared_apiserver, tmp_path)
    await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    try:
        done = await kubectl.arun("cordon", name)
        assert f"node/{name} cordoned" in done.stdout, done
        node = await client.get(NODES, name)
        assert node["spec"]["unschedulable"] is True
        done = await kubectl.arun("get", "node", name, check=False)
        assert "SchedulingDisabled" in done.stdout, done
        done = await kubectl.arun("uncordon", name)
        assert f"node/{name} uncordoned" in done.stdout, done
        assert not (await client.get(NODES, name))["spec"].get("unschedulable")
    finally:
        await client.delete(NODES, name)
