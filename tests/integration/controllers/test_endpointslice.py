"""The EndpointSlice controller against a real API server; `kubectl get endpointslices`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from kybernetes.api.resources import ENDPOINT_SLICES, PODS, SERVICES
from kybernetes.client import ApiClient
from tests.integration.controllers.helpers import pod, running, set_pod_status
from tests.support.apiserver import ApiServer
from tests.support.kubectl import KUBECTLS, Kubectl
from tests.support.poll import eventually

SERVICE_LABEL = "kubernetes.io/service-name"


def service(name: str, ns: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name},
                     "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}}


async def slices(client: ApiClient, ns: str, name: str) -> list[dict[str, Any]]:
    return (await client.list(ENDPOINT_SLICES, namespace=ns,
                              label_selector=f"{SERVICE_LABEL}={name}"))["items"]


def conditions(items: list[dict[str, Any]]) -> dict[str, dict[str, bool]]:
    return {ep["targetRef"]["name"]: ep["conditions"] for s in items
            for ep in s.get("endpoints") or []}


async def test_slices_follow_pods_ready_and_terminating(client: ApiClient, ns: str) -> None:
    async with running(client, "endpointslice"):
        svc = await client.create(SERVICES, service("web", ns))
        # No pods yet: one placeholder slice, no endpoints.
        placeholder = await eventually(lambda: _one(client, ns), what="a placeholder slice")
        assert placeholder["endpoints"] == [] and placeholder["addressType"] == "IPv4"
        a = await client.create(PODS, pod("a", {"app": "web"}, node="n1", namespace=ns))
        b = await client.create(PODS, pod("b", {"app": "web"}, node="n1", namespace=ns))
        a["spec"]["terminationGracePeriodSeconds"] = 30
        await set_pod_status(client, a, ready=True, ip="10.1.0.5")
        await set_pod_status(client, b, ready=False, ip="10.1.0.6")
        ready = {"ready": True, "serving": True, "terminating": False}
        unready = {"ready": False, "serving": False, "terminating": False}

        async def both() -> list[dict[str, Any]] | None:
            items = await slices(client, ns, "web")
            ok = conditions(items) == {"a": ready, "b": unready} and len(items) == 1
            return items if ok else None
        [s] = await eventually(both, what="a slice with a ready and an unready endpoint")
        assert s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == \
            "endpointslice-controller.k8s.io"
        assert s["metadata"]["ownerReferences"] == [{
            "apiVersion": "v1", "kind": "Service", "name": "web",
            "uid": svc["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
        assert s["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
        endpoint = next(ep for ep in s["endpoints"] if ep["targetRef"]["name"] == "a")
        assert endpoint["addresses"] == ["10.1.0.5"] and endpoint["nodeName"] == "n1"

        # A terminating pod stays, serving but not ready (kube's terminating endpoints).
        await client.delete(PODS, "a", namespace=ns, grace_period_seconds=30)

        async def terminating() -> bool:
            got = conditions(await slices(client, ns, "web"))
            return got.get("a") == {"ready": False, "serving": True, "terminating": True}
        await eventually(terminating, what="a terminating endpoint")
        await client.delete(PODS, "a", namespace=ns, grace_period_seconds=0)
        await client.delete(PODS, "b", namespace=ns, grace_period_seconds=0)

        async def empty() -> bool:
            items = await slices(client, ns, "web")
            return len(items) == 1 and not items[0].get("endpoints")
        await eventually(empty, what="back to one empty slice")


async def _one(client: ApiClient, ns: str) -> dict[str, Any] | None:
    items = await slices(client, ns, "web")
    return items[0] if len(items) == 1 else None


async def test_slices_split_at_100_endpoints(client: ApiClient, ns: str) -> None:
    async with running(client, "endpointslice"):
        await client.create(SERVICES, service("big", ns))
        gate = asyncio.Semaphore(16)

        async def make(i: int) -> None:
            async with gate:
                p = await client.create(PODS, pod(f"p{i}", {"app": "big"}, namespace=ns))
                await set_pod_status(client, p, ready=True, ip=f"10.2.{i // 250}.{i % 250 + 1}")
        await asyncio.gather(*(make(i) for i in range(230)))

        async def packed() -> list[int] | None:
            items = await slices(client, ns, "big")
            sizes = sorted(len(s.get("endpoints") or []) for s in items)
            return sizes if sum(sizes) == 230 and len(items) == 3 else None
        sizes = await eventually(packed, within=60, what="230 endpoints in 3 slices")
        assert max(sizes) == 100
        names = {ep["targetRef"]["name"] for s in await slices(client, ns, "big")
                 for ep in s["endpoints"]}
        assert len(names) == 230


async def test_the_kubernetes_service_has_its_slice(client: ApiClient) -> None:
    s = await client.get(ENDPOINT_SLICES, "kubernetes", namespace="default")
    assert s["metadata"]["labels"][SERVICE_LABEL] == "kubernetes"
    assert s["ports"][0]["name"] == "https" and s["endpoints"][0]["conditions"] == {
        "ready": True}


@pytest.mark.parametrize("binary", [k for k in KUBECTLS if k != "kubectl"] or KUBECTLS)
async def test_kubectl_get_endpointslices(client: ApiClient, ns: str, binary: str,
                                          shared_apiserver: ApiServer, tmp_path: Path) -> None:
    kubectl = Kubectl(binary, shared_apiserver, tmp_path)
    async with running(client, "endpointslice"):
        await client.create(SERVICES, service("web", ns))
        p = await client.create(PODS, pod("a", {"app": "web"}, namespace=ns))
        await set_pod_status(client, p, ready=True, ip="10.3.0.7")

        async def listed() -> str | None:
            out = await asyncio.to_thread(kubectl, "-n", ns, "get", "endpointslices")
            return out if "10.3.0.7" in out else None
        out = await eventually(listed, what="kubectl get endpointslices")
        header, row = out.splitlines()[:2]
        assert header.split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
        assert row.split()[1:4] == ["IPv4", "8080", "10.3.0.7"]
        assert row.split()[0].startswith("web-")
