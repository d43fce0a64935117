"""ResourceQuota and LimitRange against a real API server (admission) and the resource
quota controller; `kubectl create quota` / `describe quota` with the oldest and newest
kubectl."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from kybernetes.api import errors
from kybernetes.api.resources import CONFIGMAPS, LIMIT_RANGES, PODS, RESOURCE_QUOTAS
from kybernetes.client import ApiClient
from tests.integration.controllers.helpers import pod, running
from tests.support.apiserver import ApiServer
from tests.support.kubectl import KUBECTLS, Kubectl
from tests.support.poll import eventually


def quota(name: str, ns: str, hard: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": name, "namespace": ns}, "spec": {"hard": hard, **spec}}


def sized_pod(name: str, ns: str, resources: dict[str, Any], **spec: Any) -> dict[str, Any]:
    p = pod(name, {"app": "q"}, namespace=ns)
    p["spec"]["containers"][0]["resources"] = resources
    p["spec"].update(spec)
    return p


async def used(client: ApiClient, ns: str, name: str, want: dict[str, str]) -> dict:
    """Wait until the quota's status.used is `want` (and status.hard is set)."""
    async def check() -> dict | None:
        q = await client.get(RESOURCE_QUOTAS, name, namespace=ns)
        status = q.get("status") or {}
        return q if status.get("used") == want and status.get("hard") else None
    return await eventually(check, what=f"quota {name} used {want}")


async def test_pod_count_quota_refuses_with_kubes_message_and_follows_deletes(
        client: ApiClient, ns: str) -> None:
    async with running(client, "resourcequota"):
        await client.create(RESOURCE_QUOTAS, quota("pods", ns, {"pods": "2",
                                                               "count/configmaps": "1"}))
        await used(client, ns, "pods", {"pods": "0", "count/configmaps": "0"})
        await client.create(PODS, pod("a", {"app": "q"}, namespace=ns))
        await client.create(PODS, pod("b", {"app": "q"}, namespace=ns))
        # Admission charged both at once (no wait for the controller).
        q = await client.get(RESOURCE_QUOTAS, "pods", namespace=ns)
        assert q["status"]["used"]["pods"] == "2"
        with pytest.raises(errors.Forbidden) as refused:
            await client.create(PODS, pod("c", {"app": "q"}, namespace=ns))
        assert refused.value.message == (
            'pods "c" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, '
            "limited: pods=2")
        await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                         "metadata": {"name": "one", "namespace": ns}})
        with pytest.raises(errors.Forbidden) as refused:
            await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                             "metadata": {"name": "two", "namespace": ns}})
        assert "exceeded quota: pods, requested: count/configmaps=1, used: " \
               "count/configmaps=1, limited: count/configmaps=1" in refused.value.message
        # A delete gives the unit back (the controller's recount), then a create fits.
        await client.delete(PODS, "a", namespace=ns, grace_period_seconds=0)
        await used(client, ns, "pods", {"pods": "1", "count/configmaps": "1"})
        await client.create(PODS, pod("c", {"app": "q"}, namespace=ns))
        await used(client, ns, "pods", {"pods": "2", "count/configmaps": "1"})


async def test_concurrent_creates_never_pass_the_limit(client: ApiClient, ns: str) -> None:
    async with running(client, "resourcequota"):
        await client.create(RESOURCE_QUOTAS, quota("five", ns, {"count/configmaps": "5"}))
        await used(client, ns, "five", {"count/configmaps": "0"})

        async def create(i: int) -> bool:
            try:
                await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                                 "metadata": {"name": f"c{i}", "namespace": ns}})
                return True
            except errors.Forbidden:
                return False
        results = await asyncio.gather(*(create(i) for i in range(12)))
        assert sum(results) == 5
        await used(client, ns, "five", {"count/configmaps": "5"})


async def test_compute_quota_requires_requests_and_sums_them(client: ApiClient, ns: str
                                                             ) -> None:
    async with running(client, "resourcequota"):
        await client.create(RESOURCE_QUOTAS, quota("compute", ns, {
            "requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "2"}))
        await used(client, ns, "compute", {"requests.cpu": "0", "requests.memory": "0",
                                           "limits.cpu": "0"})
        with pytest.raises(errors.Forbidden) as refused:
            await client.create(PODS, sized_pod("bare", ns, {}))
        assert refused.value.message == (
            'pods "bare" is forbidden: failed quota: compute: must specify limits.cpu for: c; '
            "requests.cpu for: c; requests.memory for: c")
        small = {"requests": {"cpu": "600m", "memory": "512Mi"}, "limits": {"cpu": "1"}}
        await client.create(PODS, sized_pod("one", ns, small))
        with pytest.raises(errors.Forbidden) as refused:
            await client.create(PODS, sized_pod("two", ns, small))
        assert refused.value.message == (
            'pods "two" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, '
            "used: requests.cpu=600m, limited: requests.cpu=1")
        await used(client, ns, "compute", {"requests.cpu": "600m", "requests.memory": "512Mi",
                                           "limits.cpu": "1"})


async def test_scoped_quotas_count_only_the_pods_they_select(client: ApiClient, ns: str
                                                             ) -> None:
    async with running(client, "resourcequota"):
        await client.create(RESOURCE_QUOTAS, quota("best-effort", ns, {"pods": "1"},
                                                   scopes=["BestEffort"]))
        await client.create(RESOURCE_QUOTAS, quota("terminating", ns, {"pods": "5"},
                                                   scopes=["Terminating"]))
        await used(client, ns, "best-effort", {"pods": "0"})
        await used(client, ns, "terminating", {"pods": "0"})
        await client.create(PODS, sized_pod("be", ns, {}))
        await client.create(PODS, sized_pod("burst", ns, {"requests": {"cpu": "10m"}},
                                            activeDeadlineSeconds=60))
        with pytest.raises(errors.Forbidden, match="exceeded quota: best-effort"):
            await client.create(PODS, sized_pod("be2", ns, {}))
        await used(client, ns, "best-effort", {"pods": "1"})
        await used(client, ns, "terminating", {"pods": "1"})


async def test_quota_validation_is_kubes(client: ApiClient, ns: str) -> None:
    with pytest.raises(errors.Invalid) as bad:
        await client.create(RESOURCE_QUOTAS, quota("bad", ns, {"pods": "1.5", "bogus": "1",
                                                              "cpu": "-1"}))
    causes = {(c["field"], c["message"]) for c in bad.value.details["causes"]}
    assert ("spec.hard[pods]", 'Invalid value: "1.5": must be an integer') in causes
    assert ("spec.hard[bogus]", 'Invalid value: "bogus": must be a standard resource for '
            "quota") in causes
    assert ("spec.hard[cpu]", 'Invalid value: "-1": must be greater than or equal to 0') \
        in causes
    with pytest.raises(errors.Invalid, match="conflicting scopes"):
        await client.create(RESOURCE_QUOTAS, quota("c", ns, {"pods": "1"},
                                                   scopes=["BestEffort", "NotBestEffort"]))
    with pytest.raises(errors.Invalid, match="unsupported scope applied to resource"):
        await client.create(RESOURCE_QUOTAS, quota("c", ns, {"requests.cpu": "1"},
                                                   scopes=["BestEffort"]))


def _limit_range(ns: str, **item: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "LimitRange",
            "metadata": {"name": "limits", "namespace": ns},
            "spec": {"limits": [{"type": "Container", **item}]}}


async def test_limit_range_defaults_and_bounds(client: ApiClient, ns: str) -> None:
    lr = await client.create(LIMIT_RANGES, _limit_range(
        ns, min={"cpu": "100m"}, max={"cpu": "1", "memory": "1Gi"},
        defaultRequest={"memory": "64Mi"}))
    item = lr["spec"]["limits"][0]  # kube's defaulting: default = max, request = default
    assert item["default"] == {"cpu": "1", "memory": "1Gi"}
    assert item["defaultRequest"] == {"cpu": "1", "memory": "64Mi"}
    created = await client.create(PODS, sized_pod("defaulted", ns, {}))
    resources = created["spec"]["containers"][0]["resources"]
    assert resources == {"limits": {"cpu": "1", "memory": "1Gi"},
                         "requests": {"cpu": "1", "memory": "64Mi"}}
    assert created["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for "
        "container c")
    with pytest.raises(errors.Forbidden) as refused:
        await client.create(PODS, sized_pod("p", ns, {"requests": {"cpu": "50m"}}))
    assert refused.value.message == (
        'pods "p" is forbidden: minimum cpu usage per Container is 100m, but request is 50m')
    with pytest.raises(errors.Forbidden) as refused:
        await client.create(PODS, sized_pod("big", ns, {"limits": {"cpu": "2",
                                                                   "memory": "2Gi"}}))
    assert refused.value.message == (
        'pods "big" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, '
        "maximum memory usage per Container is 1Gi, but limit is 2Gi]")
    with pytest.raises(errors.Invalid) as bad:
        await client.create(LIMIT_RANGES, {**_limit_range(ns, min={"cpu": "2"},
                                                          max={"cpu": "1"}),
                                           "metadata": {"name": "bad", "namespace": ns}})
    assert "min value 2 is greater than max value 1" in bad.value.message


@pytest.mark.parametrize("binary", [k for k in KUBECTLS if k != "kubectl"] or KUBECTLS)
async def test_kubectl_create_describe_get_quota(client: ApiClient, ns: str, binary: str,
                                                 shared_apiserver: ApiServer,
                                                 tmp_path: Path) -> None:
    kubectl = Kubectl(binary, shared_apiserver, tmp_path)
    async with running(client, "resourcequota"):
        await asyncio.to_thread(kubectl, "-n", ns, "create", "quota", "q",
                                "--hard=pods=2,requests.cpu=1,limits.memory=1Gi",
                                "--scopes=NotTerminating")
        await used(client, ns, "q", {"pods": "0", "requests.cpu": "0", "limits.memory": "0"})
        table = await asyncio.to_thread(kubectl, "-n", ns, "get", "quota")
        assert table.split("\n")[0].split() == ["NAME", "AGE", "REQUEST", "LIMIT"]
        assert "pods: 0/2, requests.cpu: 0/1" in table and "limits.memory: 0/1Gi" in table
        described = await asyncio.to_thread(kubectl, "-n", ns, "describe", "quota", "q")
        assert "Scopes:     NotTerminating" in described
        lines = [line.split() for line in described.splitlines()]
        assert ["pods", "0", "2"] in lines and ["requests.cpu", "0", "1"] in lines
