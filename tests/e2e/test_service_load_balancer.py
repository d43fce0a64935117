"""Service type LoadBalancer without a cloud, externalTrafficPolicy and session affinity
(issue 13) on a two-node process-runtime `kyb up --proxy-mode iptables` cluster as
root: the service-lb-controller puts both node addresses in the Service's status, each
node answers the port on its address, Local keeps the client's address and this node's
pod, Cluster spreads over both pods (masqueraded), ClientIP affinity sticks."""

from __future__ import annotations

import json
import os
import socket
from collections import Counter
from collections.abc import Iterator

import pytest

from kybernetes.cli.node_network import NodeNetwork
from tests.support.cluster import KybCluster, process_cluster
from tests.support.echo import ECHO_SERVER
from tests.support.poll import wait_for

pytestmark = [pytest.mark.timeout(420),
              pytest.mark.skipif(os.geteuid() != 0, reason="per-node networks need root")]



def server(name: str, node: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "echo"}},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": "python:3",
                                     "command": ["python3", "-c", ECHO_SERVER],
                                     "readinessProbe": {"tcpSocket": {"port": 7000},
                                                        "periodSeconds": 1}}]}}


SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo"},
           "spec": {"type": "LoadBalancer", "selector": {"app": "echo"},
                    "externalTrafficPolicy": "Local",
                    "ports": [{"port": 80, "targetPort": 7000}]}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KybCluster]:
    with process_cluster(tmp_path_factory.mktemp("lb") / "kyb", "--proxy-mode",
                         "iptables") as c:
        yield c


def ask(ip: str, port: int = 80) -> str:
    """One connection from the host: 'pod-name client-address', or '' on failure."""
    try:
        with socket.create_connection((ip, port), timeout=1) as s:
            return s.recv(128).decode()
    except OSError:
        return ""


def spread(ip: str, n: int = 30) -> Counter[str]:
    return Counter(ask(ip) for _ in range(n))


def test_load_balancer_on_every_node_address(cluster: KybCluster) -> None:
    network = NodeNetwork(str(cluster.data_dir), 2, isolated=True)
    node1, node2 = network.nodes
    pods = [server("echo-1", node1.name), server("echo-2", node2.name)]
    cluster.kubectl_run("apply", "-f", "-", stdin=json.dumps(
        {"apiVersion": "v1", "kind": "List", "items": [*pods, SERVICE]}))

    def ingress() -> list[str]:
        svc = json.loads(cluster.kubectl("get", "svc", "echo", "-o", "json"))
        return [i["ip"] for i in svc["status"].get("loadBalancer", {}).get("ingress", [])]
    wait_for(lambda: ingress() == [node1.ip, node2.ip], within=60, interval=0.5,
             what="both node addresses in status.loadBalancer.ingress")
    row = cluster.kubectl("get", "svc", "echo").splitlines()[1]
    assert f"{node1.ip},{node2.ip}" in row, row

    # Local: each node address reaches that node's pod and the pod sees the host's
    # own address (no SNAT)
    host = network.host_ip
    wait_for(lambda: ask(node1.ip) == f"echo-1 {host}" and ask(node2.ip) == f"echo-2 {host}",
             within=60, interval=0.5, what="each node's address to reach its own pod")
    assert spread(node1.ip) == {f"echo-1 {host}": 30}
    assert spread(node2.ip) == {f"echo-2 {host}": 30}

    # Cluster: either pod from either address, masqueraded to the receiving node
    cluster.kubectl("patch", "svc", "echo", "-p",
                    '{"spec": {"externalTrafficPolicy": "Cluster"}}')
    wait_for(lambda: len(spread(node1.ip, 10)) == 2, within=30, interval=0.5,
             what="Cluster policy to reach both pods")
    seen = spread(node1.ip, 40)
    assert {k.split()[0] for k in seen} == {"echo-1", "echo-2"}, seen
    assert all(k.split()[1] != host for k in seen), seen

    # sessionAffinity ClientIP (the recent module): one pod for this client
    cluster.kubectl("patch", "svc", "echo", "-p", '{"spec": {"sessionAffinity": "ClientIP"}}')
    wait_for(lambda: len(spread(node2.ip, 10)) == 1, within=30, interval=0.5,
             what="ClientIP affinity to stick to one pod")
    assert len(spread(node2.ip, 30)) == 1
