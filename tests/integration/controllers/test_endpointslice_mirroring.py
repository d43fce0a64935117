"""EndpointSliceMirroring against a real API server: a selectorless Service's hand-written
Endpoints become EndpointSlices (which the proxy and DNS read), and go when the Service
gains a selector; skip-mirror Endpoints are left alone."""

from __future__ import annotations

from typing import Any

from kybernetes.api.resources import ENDPOINT_SLICES, ENDPOINTS, SERVICES
from kybernetes.client import ApiClient
from tests.integration.controllers.helpers import running
from tests.support.poll import eventually

MANAGED_BY = "endpointslice.kubernetes.io/managed-by"


def _service(name: str, ns: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"ports": [{"name": "pg", "port": 5432}], **spec}}


def _endpoints(name: str, ns: str, ready: list[str], not_ready: tuple[str, ...] = (), /,
               **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "subsets": [{"addresses": [{"ip": ip} for ip in ready],
                         "notReadyAddresses": [{"ip": ip} for ip in not_ready],
                         "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}]}


async def _mirrored(client: ApiClient, ns: str, name: str) -> list[dict[str, Any]]:
    items = (await client.list(ENDPOINT_SLICES, namespace=ns,
                               label_selector=f"kubernetes.io/service-name={name}"))["items"]
    return [s for s in items if s["metadata"]["labels"].get(MANAGED_BY) ==
            "endpointslicemirroring-controller.k8s.io"]


def _addresses(items: list[dict[str, Any]]) -> dict[str, bool]:
    return {ep["addresses"][0]: ep["conditions"]["ready"] for s in items
            for ep in s.get("endpoints") or []}


async def test_selectorless_endpoints_are_mirrored(client: ApiClient, ns: str) -> None:
    async with running(client, "endpointslicemirroring"):
        await client.create(SERVICES, _service("db", ns))
        await client.create(ENDPOINTS, _endpoints("db", ns, ["10.1.0.5"], ("10.1.0.6",)))
        items = await eventually(lambda: _mirrored(client, ns, "db"), what="a mirrored slice")
        assert _addresses(items) == {"10.1.0.5": True, "10.1.0.6": False}
        (mirror,) = items
        assert mirror["ports"] == [{"name": "pg", "port": 5432, "protocol": "TCP"}]
        owner = mirror["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("Endpoints", "db", True)

        current = await client.get(ENDPOINTS, "db", namespace=ns)
        current["subsets"][0]["addresses"].append({"ip": "10.1.0.7"})
        await client.update(ENDPOINTS, current)

        async def three() -> bool:
            return len(_addresses(await _mirrored(client, ns, "db"))) == 3
        await eventually(three, what="the new address mirrored")

        # a selector makes it the EndpointSlice controller's Service: the mirror goes
        await client.patch(SERVICES, "db", {"spec": {"selector": {"app": "db"}}}, namespace=ns)

        async def gone() -> bool:
            return not await _mirrored(client, ns, "db")
        await eventually(gone, what="the mirror removed")

        await client.create(SERVICES, _service("skip", ns))
        await client.create(ENDPOINTS, _endpoints(
            "skip", ns, ["10.1.0.8"], **{"endpointslice.kubernetes.io/skip-mirror": "true"}))
        await client.create(SERVICES, _service("later", ns))
        await client.create(ENDPOINTS, _endpoints("later", ns, ["10.1.0.9"]))
        await eventually(lambda: _mirrored(client, ns, "later"), what="the later mirror")
        assert await _mirrored(client, ns, "skip") == []
