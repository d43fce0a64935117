"""Service type LoadBalancer without a cloud: the `service-lb-controller` against a real
API server (Ready nodes' addresses in status.loadBalancer.ingress), the API server's
healthCheckNodePort for Local LoadBalancers, and `kubectl get svc`'s EXTERNAL-IP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from kybernetes.api.errors import Invalid
from kybernetes.api.resources import EVENTS, NODES, SERVICES
from kybernetes.client import ApiClient
from tests.integration.controllers.helpers import running
from tests.support.apiserver import ApiServer, connected
from tests.support.kubectl import KUBECTLS, Kubectl
from tests.support.poll import eventually


async def add_node(client: ApiClient, name: str, ip: str, *, ready: bool = True,
                   labels: dict[str, str] | None = None, external: str = "") -> None:
    await client.create(NODES, {"metadata": {"name": name, "labels": labels or {}}})
    addresses = [{"type": "InternalIP", "address": ip}]
    if external:
        addresses.append({"type": "ExternalIP", "address": external})
    await set_ready(client, name, ready, addresses)


async def set_ready(client: ApiClient, name: str, ready: bool,
                    addresses: list[dict[str, str]] | None = None) -> None:
    status: dict[str, Any] = {"conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "reason": "Test"}]}
    if addresses:
        status["addresses"] = addresses
    await client.patch(NODES, name, {"status": status}, subresource="status")


def lb(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {
        "type": "LoadBalancer", "selector": {"app": name},
        "ports": [{"name": "http", "port": 80, "targetPort": 8080}], **spec}}


async def ingress(client: ApiClient, name: str) -> list[str]:
    svc = await client.get(SERVICES, name, namespace="default")
    return [i.get("ip") for i in ((svc.get("status") or {}).get("loadBalancer") or {})
            .get("ingress") or []]


async def test_ready_nodes_addresses_become_the_ingress(apiserver: ApiServer,
                                                        tmp_path: Path) -> None:
    async with connected(apiserver) as client, running(client, "service-lb-controller"):
        await add_node(client, "n1", "172.31.0.12")
        await add_node(client, "n2", "172.31.0.11", external="203.0.113.7")
        await add_node(client, "n3", "172.31.0.13", ready=False)
        await add_node(client, "n4", "172.31.0.14", labels={
            "node.kubernetes.io/exclude-from-external-load-balancers": ""})
        await client.create(SERVICES, lb("web"), namespace="default")
        other = await client.create(SERVICES, lb("metal", loadBalancerClass="example.com/lb"),
                                    namespace="default")

        async def has(name: str, want: list[str]) -> bool:
            return await ingress(client, name) == want

        await eventually(lambda: has("web", ["172.31.0.12", "203.0.113.7"]),
                         what="the Ready nodes' addresses (ExternalIP first) in the ingress")
        svc = await client.get(SERVICES, "web", namespace="default")
        assert svc["status"]["loadBalancer"]["ingress"][0] == {"ip": "172.31.0.12",
                                                               "ipMode": "VIP"}
        assert await ingress(client, "metal") == []  # another implementation's Service
        assert other["spec"]["ports"][0]["nodePort"]  # a LoadBalancer gets its NodePort

        async def event() -> bool:
            items = (await client.list(EVENTS, namespace="default"))["items"]
            return any(e["reason"] == "EnsuredLoadBalancer"
                       and e["involvedObject"]["name"] == "web" for e in items)
        await eventually(event, what="an EnsuredLoadBalancer event")

        # a node turning Ready joins, one turning NotReady leaves
        await set_ready(client, "n3", True)
        await set_ready(client, "n1", False)
        await eventually(lambda: has("web", ["172.31.0.13", "203.0.113.7"]),
                         what="the ingress to follow node readiness")

        for binary in [KUBECTLS[0], KUBECTLS[-1]]:
            out = await asyncio.to_thread(Kubectl(binary, apiserver, tmp_path),
                                          "get", "svc", "web")
            header, row = out.splitlines()[:2]
            assert "EXTERNAL-IP" in header and "172.31.0.13,203.0.113.7" in row, out

        # no longer a LoadBalancer: the ingress is cleared
        await client.patch(SERVICES, "web", {"spec": {"type": "ClusterIP", "ports": [
            {"name": "http", "port": 80, "targetPort": 8080, "nodePort": None}]}},
            namespace="default")
        await eventually(lambda: has("web", []), what="the ingress to be cleared")


async def test_local_load_balancers_get_a_health_check_node_port(
        shared_apiserver: ApiServer) -> None:
    async with connected(shared_apiserver) as client:
        svc = await client.create(SERVICES, lb("local", externalTrafficPolicy="Local"),
                                  namespace="default")
        check = svc["spec"]["healthCheckNodePort"]
        assert 30000 <= check <= 32767 and check != svc["spec"]["ports"][0]["nodePort"]
        cluster = await client.create(SERVICES, lb("cluster"), namespace="default")
        assert "healthCheckNodePort" not in cluster["spec"]

        # an update that leaves it out keeps it; back to Cluster gives it back
        kept = await client.patch(SERVICES, "local", {"spec": {"sessionAffinity": "ClientIP"}},
                                  namespace="default")
        assert kept["spec"]["healthCheckNodePort"] == check
        dropped = await client.patch(SERVICES, "local", {"spec": {
            "externalTrafficPolicy": "Cluster"}}, namespace="default")
        assert "healthCheckNodePort" not in dropped["spec"]

        # the port is free again (once the update is stored): a new Local
        # LoadBalancer may ask for it
        async def reuse() -> dict[str, Any] | None:
            try:
                return await client.create(SERVICES, lb(
                    "again", externalTrafficPolicy="Local", healthCheckNodePort=check),
                    namespace="default")
            except Invalid:
                return None
        again = await eventually(reuse, what="the freed healthCheckNodePort to be reusable")
        assert again["spec"]["healthCheckNodePort"] == check

        with pytest.raises(Invalid) as refused:
            await client.create(SERVICES, {"metadata": {"name": "np"}, "spec": {
                "type": "NodePort", "healthCheckNodePort": 31999,
                "ports": [{"port": 80}]}}, namespace="default")
        assert "spec.healthCheckNodePort: Invalid value: 31999: may only be set when " \
               "`type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'" \
               in str(refused.value)
        with pytest.raises(Invalid) as taken:
            await client.create(SERVICES, lb("twice", externalTrafficPolicy="Local",
                                             healthCheckNodePort=check),
                                namespace="default")
        assert "spec.healthCheckNodePort: Invalid value" in str(taken.value)
