"""ClusterIP and NodePort allocation through a real `kyb apiserver` (and real kubectl)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from kybernetes.api.errors import Invalid
from kybernetes.api.resources import SERVICES
from kybernetes.client import ApiClient
from tests.support.apiserver import ApiServer
from tests.support.kubectl import Kubectl


def service(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name},
            "spec": {"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": name},
                     **spec}}


async def with_client(server: ApiServer, fn: Any) -> Any:
    client = ApiClient.from_kubeconfig(server.kubeconfig)
    try:
        return await fn(client)
    finally:
        await client.aclose()


async def create_many(client: ApiClient, prefix: str, n: int) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*[
        client.create(SERVICES, service(f"{prefix}{i}", type="NodePort"), namespace="default")
        for i in range(n)]))


def addresses(services: list[dict[str, Any]]) -> tuple[list[str], list[int]]:
    return ([s["spec"]["clusterIP"] for s in services],
            [p["nodePort"] for s in services for p in s["spec"]["ports"]])


async def test_racing_creates_never_share_an_address(apiserver: ApiServer) -> None:
    async def run(client: ApiClient) -> list[dict[str, Any]]:
        return await create_many(client, "a", 40)

    ips, ports = addresses(await with_client(apiserver, run))
    assert len(set(ips)) == 40 and len(set(ports)) == 40
    assert "10.96.0.1" not in ips  # kept for the kubernetes Service


async def test_requested_headless_and_released_on_delete(apiserver: ApiServer) -> None:
    async def run(client: ApiClient) -> None:
        made = await client.create(SERVICES, service("fixed", clusterIP="10.96.100.100"),
                                   namespace="default")
        assert made["spec"]["clusterIPs"] == ["10.96.100.100"]
        headless = await client.create(SERVICES, service("headless", clusterIP="None"),
                                       namespace="default")
        assert headless["spec"]["clusterIP"] == "None"
        with pytest.raises(Invalid, match=re.escape("not in the valid range. The range of "
                                                    "valid IPs is 10.96.0.0/12")):
            await client.create(SERVICES, service("outside", clusterIP="10.0.0.1"),
                                namespace="default")
        await client.delete(SERVICES, "fixed", namespace="default")
        again = await client.create(SERVICES, service("again", clusterIP="10.96.100.100"),
                                    namespace="default")
        assert again["spec"]["clusterIP"] == "10.96.100.100"

    await with_client(apiserver, run)


MANIFEST = """
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  type: NodePort
  selector: {{app: web}}
  ports: [{{port: {port}, targetPort: 8080, nodePort: 30080}}]
"""


def test_kubectl_sees_kubernetes_messages_and_apply_keeps_the_address(
        apiserver: ApiServer, tmp_path: Path) -> None:
    kubectl = Kubectl("kubectl", apiserver, tmp_path)
    kubectl("apply", "--validate=false", "-f", "-", stdin=MANIFEST.format(name="web", port=80))
    ip = kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")
    kubectl("apply", "--validate=false", "-f", "-", stdin=MANIFEST.format(name="web", port=81))
    got = kubectl("get", "svc", "web", "-o",
                  "jsonpath={.spec.clusterIP} {.spec.ports[0].nodePort}")
    assert got == f"{ip} 30080"
    taken = kubectl.run("apply", "--validate=false", "-f", "-",
                        stdin=MANIFEST.format(name="other", port=80), check=False)
    assert taken.returncode != 0
    assert ('The Service "other" is invalid: spec.ports[0].nodePort: Invalid value: 30080: '
            "provided port is already allocated") in taken.stderr


async def test_type_change_releases_the_node_port(apiserver: ApiServer) -> None:
    async def run(client: ApiClient) -> None:
        ports = [{"port": 80, "nodePort": 30123}]
        await client.create(SERVICES, service("np", type="NodePort", ports=ports),
                            namespace="default")
        changed = await client.patch(SERVICES, "np", {"spec": {"type": "ClusterIP"}},
                                     namespace="default")
        assert "nodePort" not in changed["spec"]["ports"][0]
        for _ in range(100):  # released once the update is stored (checked within 0.25 s)
            try:
                await client.create(SERVICES, service("reuse", type="NodePort", ports=ports),
                                    namespace="default")
                return
            except Invalid:
                await asyncio.sleep(0.05)
        raise AssertionError("nodePort 30123 was not released")

    await with_client(apiserver, run)
