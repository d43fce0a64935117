"""The endpoints controller against a real API server."""

from __future__ import annotations

import time

from kybernetes.api import errors
from kybernetes.api.resources import ENDPOINTS, PODS, SERVICES
from kybernetes.client import ApiClient
from tests.integration.controllers.helpers import pod, running, set_pod_status
from tests.support.poll import eventually


def service(name: str, ns: str, selector: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": selector,
                     "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}}


async def _endpoints(client: ApiClient, name: str, ns: str) -> dict | None:
    try:
        return await client.get(ENDPOINTS, name, namespace=ns)
    except errors.NotFound:
        return None


def _ips(endpoints: dict | None, field: str) -> list[str]:
    return [a["ip"] for s in (endpoints or {}).get("subsets") or [] for a in s.get(field) or []]


async def test_endpoints_follow_pod_readiness_within_a_second(client: ApiClient, ns: str) -> None:
    async with running(client, "endpoint"):
        await client.create(SERVICES, service("web", ns, {"app": "web"}))
        a = await client.create(PODS, pod("a", {"app": "web"}, node="n1", namespace=ns))
        b = await client.create(PODS, pod("b", {"app": "web"}, node="n1", namespace=ns))
        await client.create(PODS, pod("other", {"app": "db"}, namespace=ns))
        await set_pod_status(client, a, ready=True, ip="10.1.0.5")
        await set_pod_status(client, b, ready=False, ip="10.1.0.6")

        async def both_listed() -> dict | None:
            ep = await _endpoints(client, "web", ns)
            ok = _ips(ep, "addresses") == ["10.1.0.5"] and _ips(
                ep, "notReadyAddresses") == ["10.1.0.6"]
            return ep if ok else None
        ep = await eventually(both_listed, what="endpoints with one ready, one not")
        subset = ep["subsets"][0]
        assert subset["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
        address = subset["addresses"][0]
        assert address["nodeName"] == "n1"
        assert address["targetRef"] == {"kind": "Pod", "namespace": ns, "name": "a",
                                        "uid": a["metadata"]["uid"]}

        # Readiness flips: the Endpoints follow within a second.
        started = time.monotonic()
        await set_pod_status(client, b, ready=True, ip="10.1.0.6")
        await set_pod_status(client, a, ready=False, ip="10.1.0.5")

        async def flipped() -> bool:
            ep = await _endpoints(client, "web", ns)
            return _ips(ep, "addresses") == ["10.1.0.6"] and _ips(
                ep, "notReadyAddresses") == ["10.1.0.5"]
        await eventually(flipped, within=1.0, interval=0.02, what="readiness flip")
        assert time.monotonic() - started < 1.5


async def test_endpoints_are_deleted_with_their_service(client: ApiClient, ns: str) -> None:
    async with running(client, "endpoint"):
        await client.create(SERVICES, service("gone", ns, {"app": "gone"}))
        await eventually(lambda: _endpoints(client, "gone", ns), what="endpoints created")
        await client.delete(SERVICES, "gone", namespace=ns)

        async def deleted() -> bool:
            return await _endpoints(client, "gone", ns) is None
        await eventually(deleted, what="endpoints deleted")


async def test_service_without_selector_is_left_alone(client: ApiClient, ns: str) -> None:
    manual = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ext", "namespace": ns},
              "subsets": [{"addresses": [{"ip": "192.0.2.1"}], "ports": [{"port": 443}]}]}
    async with running(client, "endpoint"):
        svc = service("ext", ns, {})
        del svc["spec"]["selector"]
        await client.create(SERVICES, svc)
        await client.create(ENDPOINTS, manual)
        await client.create(SERVICES, service("probe", ns, {"app": "x"}))
        await eventually(lambda: _endpoints(client, "probe", ns), what="controller is working")
        assert _ips(await _endpoints(client, "ext", ns), "addresses") == ["192.0.2.1"]
