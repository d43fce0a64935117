"""A kubelet's identity against a real API server in mode RBAC,Node: the Node
authorizer lets `system:node:n1` reach only what the pods bound to n1 use, and
NodeRestriction admission keeps its writes to its own Node, pods and tokens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from kybernetes.api import resources as r
from kybernetes.api.errors import Forbidden
from kybernetes.apiserver import pki
from kybernetes.client import ApiClient
from kybernetes.client.kubeconfig import write_kubeconfig
from tests.support.apiserver import ApiServer, connected, started
from tests.support.kubectl import Kubectl
from tests.support.poll import eventually

NS = "default"
NO_RELATION = "no relationship found between node 'n1' and this object"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with started(ApiServer(tmp_path_factory.mktemp("apiserver"),
                           extra_args=("--authorization-mode", "RBAC,Node"))) as srv:
        yield srv


def node_kubeconfig(server: ApiServer, node: str) -> Path:
    """What `kyb up` gives a kubelet: CN=system:node:<node>, O=system:nodes."""
    cert, key = pki.issue_client_cert(server.data_dir, f"system:node:{node}",
                                      ["system:nodes"])
    ca = (pki.pki_dir(server.data_dir) / "ca.crt").read_bytes()
    return write_kubeconfig(server.data_dir / f"{node}.kubeconfig", server=server.url,
                            ca_pem=ca, cert_pem=cert, key_pem=key, user=f"system:node:{node}")


def pod(name: str, node: str, account: str, secret: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"nodeName": node, "serviceAccountName": account,
                     "containers": [{"name": "c", "image": "busybox"}],
                     "volumes": [{"name": "s", "secret": {"secretName": secret}}]}}


@pytest.fixture(scope="module")
def objects(server: ApiServer) -> dict[str, dict[str, Any]]:
    """Nodes n1 and n2, a pod on each (its own ServiceAccount and Secret), and a Secret
    no pod uses."""
    return asyncio.run(_make_objects(server))


async def _make_objects(server: ApiServer) -> dict[str, dict[str, Any]]:
    made: dict[str, dict[str, Any]] = {}
    async with connected(server) as admin:
        for node in ("n1", "n2"):
            await admin.create(r.NODES, {"apiVersion": "v1", "kind": "Node",
                                         "metadata": {"name": node}})
        for name in ("s1", "s2", "unused"):
            await admin.create(r.SECRETS, {"apiVersion": "v1", "kind": "Secret",
                                           "metadata": {"name": name, "namespace": NS},
                                           "stringData": {"k": "v"}})
        for account in ("sa1", "sa2"):
            await admin.create(r.SERVICE_ACCOUNTS, {"apiVersion": "v1",
                                                    "kind": "ServiceAccount",
                                                    "metadata": {"name": account,
                                                                 "namespace": NS}})
        made["p1"] = await admin.create(r.PODS, pod("p1", "n1", "sa1", "s1"))
        made["p2"] = await admin.create(r.PODS, pod("p2", "n2", "sa2", "s2"))
    return made


@pytest.fixture
async def kubelet(server: ApiServer) -> AsyncIterator[ApiClient]:
    client = ApiClient.from_kubeconfig(node_kubeconfig(server, "n1"))
    try:
        yield client
    finally:
        await client.aclose()


async def refusal(call: Any) -> str:
    with pytest.raises(Forbidden) as caught:
        await call
    return str(caught.value)


async def test_a_node_reads_only_the_secrets_of_its_own_pods(
        kubelet: ApiClient, objects: dict[str, dict[str, Any]]) -> None:
    async def reads_s1() -> bool:
        try:
            return (await kubelet.get(r.SECRETS, "s1", namespace=NS))["data"] == {"k": "dg=="}
        except Forbidden:
            return False
    assert await eventually(reads_s1)
    for name in ("s2", "unused"):
        assert await refusal(kubelet.get(r.SECRETS, name, namespace=NS)) == (
            f'secrets "{name}" is forbidden: User "system:node:n1" cannot get resource '
            f'"secrets" in API group "" in the namespace "default": {NO_RELATION}')
    assert "can only read namespaced object of this type" in await refusal(
        kubelet.list(r.SECRETS))


async def test_a_node_updates_only_its_own_node(kubelet: ApiClient,
                                                objects: dict[str, dict[str, Any]]) -> None:
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    await kubelet.patch(r.NODES, "n1", ready, subresource="status")
    assert await refusal(kubelet.patch(r.NODES, "n2", ready, subresource="status")) == (
        'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"')
    assert await refusal(kubelet.patch(r.NODES, "n1", {"metadata": {"labels": {
        "node-restriction.kubernetes.io/role": "db"}}})) == (
        'nodes "n1" is forbidden: is not allowed to modify labels: '
        'node-restriction.kubernetes.io/role')
    await kubelet.patch(r.NODES, "n1", {"metadata": {"labels": {"example.com/disk": "ssd"}}})


async def test_a_node_deletes_only_its_own_pods(kubelet: ApiClient,
                                                objects: dict[str, dict[str, Any]]) -> None:
    assert await refusal(kubelet.delete(r.PODS, "p2", namespace=NS)) == (
        'pods "p2" is forbidden: node "n1" can only delete pods with spec.nodeName set to '
        'itself')
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": "p2", "namespace": NS}}
    assert await refusal(kubelet.request("POST", r.PODS.path(NS, "p2", "eviction"),
                                         body=eviction)) == (
        'pods "p2" is forbidden: node n1 can only evict pods with spec.nodeName set to '
        'itself')
    assert "can only create mirror pods" in await refusal(kubelet.create(
        r.PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
                 "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]}},
        namespace=NS))


async def test_a_node_requests_tokens_only_for_its_own_pods(
        kubelet: ApiClient, objects: dict[str, dict[str, Any]]) -> None:
    def token_request(pod: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": ["api"], "boundObjectRef": {
                    "apiVersion": "v1", "kind": "Pod", "name": pod["metadata"]["name"],
                    "uid": pod["metadata"]["uid"]}}}
    path = r.SERVICE_ACCOUNTS.path(NS, "sa1", "token")
    answer = await kubelet.request("POST", path, body=token_request(objects["p1"]))
    assert answer["status"]["token"]
    assert await refusal(kubelet.request("POST", path, body=token_request(
        objects["p2"]))) == ('serviceaccounts "sa1" is forbidden: node requested token '
                             'bound to a pod scheduled on a different node')
    other = r.SERVICE_ACCOUNTS.path(NS, "sa2", "token")
    assert NO_RELATION in await refusal(kubelet.request("POST", other,
                                                        body=token_request(objects["p2"])))


async def test_the_graph_follows_pods_as_they_go(server: ApiServer, kubelet: ApiClient,
                                                 objects: dict[str, dict[str, Any]]) -> None:
    async with connected(server) as admin:
        await admin.create(r.PODS, pod("p3", "n1", "sa1", "unused"))

        async def readable() -> bool:
            try:
                await kubelet.get(r.SECRETS, "unused", namespace=NS)
                return True
            except Forbidden:
                return False
        assert await eventually(readable)
        await admin.delete(r.PODS, "p3", namespace=NS, grace_period_seconds=0)
        assert await eventually(lambda: _negate(readable))


async def _negate(check: Any) -> bool:
    return not await check()


def test_kubectl_as_the_node(server: ApiServer, objects: dict[str, dict[str, Any]],
                             tmp_path: Path) -> None:
    kubectl = Kubectl("kubectl", server, tmp_path, kubeconfig=node_kubeconfig(server, "n1"))
    assert kubectl("get", "secret", "s1", "-o", "name").strip() == "secret/s1"
    refused = kubectl.run("get", "secret", "s2", check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        'Error from server (Forbidden): secrets "s2" is forbidden: User "system:node:n1" '
        'cannot get resource "secrets" in API group "" in the namespace "default": '
        f"{NO_RELATION}")
    assert "cannot read all nodes" in kubectl.run("get", "nodes", check=False).stderr


async def test_a_joined_nodes_pod_network_agent_reads_every_node_once_bound(
        server: ApiServer, kubelet: ApiClient, objects: dict[str, dict[str, Any]]) -> None:
    """`kyb join --pod-network` runs the agent with the node's credentials: the Node
    authorizer alone refuses the list of all Nodes it routes by; the kyb-pod-network
    ClusterRole `kyb up` binds (to system:nodes too) grants it and the events."""
    from kybernetes.cli import pod_network

    assert "cannot read all nodes" in await refusal(kubelet.list(r.NODES))
    async with connected(server) as admin:
        await pod_network.ACCESS.ensure(admin)
        try:
            async def listed() -> set[str] | None:
                try:
                    found = await kubelet.list(r.NODES)
                except Forbidden:
                    return None
                return {n["metadata"]["name"] for n in found["items"]}
            assert {"n1", "n2"} <= await eventually(listed, what="the node lists Nodes")
            await kubelet.create(r.EVENTS, {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": "n2.route", "namespace": NS},
                "involvedObject": {"kind": "Node", "name": "n2"}, "reason": "NoPodRoute",
                "message": "x", "type": "Warning", "source": {"component": "pod-network",
                                                              "host": "n1"}})
        finally:
            await admin.delete(r.CLUSTER_ROLE_BINDINGS, pod_network.ACCESS.name)
            await admin.delete(r.CLUSTER_ROLES, pod_network.ACCESS.name)
