"""The pod network across nodes (issue 13) on a two-node process-runtime `kyb up`
cluster as root, once per `--pod-network` mode: with the host's own routes to the pod
CIDRs removed, a pod on one node reaches a pod on the other and the server sees the
client pod's own address (no NAT); a node that joins later (`kyb join` as the
printed command says, its agent with the node's credentials) is routed to by every
node within seconds, and its routes go when its Node is deleted."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import pytest

from kybernetes.cli import cluster_dir
from kybernetes.cli.node_network import NodeNetwork
from kybernetes.podnetwork.agent import vxlan_device
from tests.support.cluster import KybCluster, joined_node, process_cluster
from tests.support.echo import ECHO_SERVER
from tests.support.poll import wait_for

pytestmark = [pytest.mark.timeout(420),
              pytest.mark.skipif(os.geteuid() != 0, reason="per-node networks need root")]


def pod(name: str, node: str, *command: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": "python:3",
                                     "command": list(command)}]}}


def server(name: str, node: str) -> dict:
    return pod(name, node, "python3", "-c", ECHO_SERVER)


def client(name: str, node: str) -> dict:
    return pod(name, node, "sleep", "3600")


@dataclass
class PodNetwork:
    """The cluster under test, its `--pod-network` mode and its node addressing."""

    cluster: KybCluster
    mode: str

    @property
    def network(self) -> NodeNetwork:
        return NodeNetwork(str(self.cluster.data_dir), 2, isolated=True)

    def create(self, *pods: dict) -> None:
        self.cluster.kubectl_run("apply", "-f", "-", stdin=json.dumps(
            {"apiVersion": "v1", "kind": "List", "items": list(pods)}))
        wait_for(lambda: self.running(*(p["metadata"]["name"] for p in pods)), within=60,
                 interval=0.2, what="the pods Running")

    def running(self, *names: str) -> bool:
        out = json.loads(self.cluster.kubectl("get", "pods", "-o", "json"))
        return set(names) <= {p["metadata"]["name"] for p in out["items"]
                              if p["status"].get("phase") == "Running"
                              and p["status"].get("podIP")}

    def pod_ip(self, name: str) -> str:
        return self.cluster.kubectl("get", "pod", name, "-o", "jsonpath={.status.podIP}")

    def peer_seen_by(self, client_pod: str, server_pod: str) -> str:
        """The address `server_pod` saw a connection from `client_pod` come from."""
        code = (f"import socket; s = socket.create_connection(('{self.pod_ip(server_pod)}', "
                "7000), timeout=3); print(s.recv(128).decode().split()[-1])")

        def attempt() -> str:
            done = self.cluster.kubectl_run("exec", client_pod, "--", "python3", "-c", code)
            return done.stdout.strip() if done.returncode == 0 else ""
        return wait_for(attempt, within=20, interval=0.5,
                        what=f"{client_pod} to reach {server_pod}")


def routes(netns: str | None, cidr: str) -> str:
    """This namespace's (None: the host's) routes to addresses within `cidr`."""
    ns = ["-n", netns] if netns else []
    return subprocess.run(["ip", *ns, "route", "show", "root", cidr], capture_output=True,
                          text=True, check=True).stdout.strip()


def no_routes(netns: str | None, cidr: str) -> bool:
    return routes(netns, cidr) == ""


@pytest.fixture(scope="module", params=["host-gw", "vxlan"])
def net(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[PodNetwork]:
    mode = request.param
    with process_cluster(tmp_path_factory.mktemp(mode) / "kyb", "--pod-network", mode) as c:
        setup = PodNetwork(c, mode)
        # The host routes each node's pod CIDR (so users on the host reach pods); take
        # those routes away: pod-to-pod traffic must not need them.
        for node in setup.network.nodes:
            subprocess.run(["ip", "route", "del", node.pod_cidr], capture_output=True,
                           check=False)
        yield setup


def test_pods_on_two_nodes_talk_by_their_own_addresses(net: PodNetwork) -> None:
    network = net.network
    assert routes(None, network.cluster_cidr) == ""  # nothing in the host's table
    n1, n2 = network.nodes
    net.create(server("server-2", n2.name), client("client-1", n1.name))
    assert net.peer_seen_by("client-1", "server-2") == net.pod_ip("client-1")
    route = routes(n1.netns, n2.pod_cidr)
    if net.mode == "host-gw":
        assert route == f"{n2.pod_cidr} via {n2.ip} dev eth0"
    else:
        assert route.startswith(f"{n2.pod_cidr} via {n2.pod_cidr.split('/')[0]} dev kyx")


def test_a_joined_node_is_routed_to_and_its_routes_go_with_its_node(net: PodNetwork) -> None:
    network = net.network
    n1, n2 = network.nodes
    joined = NodeNetwork(str(net.cluster.data_dir), 3, isolated=True).nodes[-1]
    # the join command `kyb up` prints tells `kyb join` to run the agent this way
    status = cluster_dir.resolve(str(net.cluster.data_dir)).read_status() or {}
    assert f"--pod-network {net.mode} --cluster-cidr {network.cluster_cidr} " in \
        status["join"], status["join"]
    try:
        with joined_node(net.cluster, 3, pod_network=net.mode, via_join=True):
            for node in (n1, n2):
                wait_for(partial(routes, node.netns, joined.pod_cidr), within=30,
                         interval=0.2, what=f"{node.name}'s route to {joined.name}'s pods")
            net.create(server("server-3", joined.name))
            if not net.running("client-1"):
                net.create(client("client-1", n1.name))
            assert net.peer_seen_by("client-1", "server-3") == net.pod_ip("client-1")
        # joined_node deleted the Node: every node drops its route within seconds
        for node in (n1, n2):
            wait_for(partial(no_routes, node.netns, joined.pod_cidr), within=15,
                     interval=0.2, what=f"{node.name}'s route to {joined.name} removed")
        host_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True,
                                    check=True).stdout
        assert vxlan_device(joined.name) not in host_links
        assert f"pod-network {joined.name}" not in subprocess.run(
            ["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout
    finally:
        net.cluster.kubectl("delete", "pod", "server-3", "--force", "--grace-period=0",
                            "--ignore-not-found", check=False)
