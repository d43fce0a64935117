"""Two `kyb up` clusters on one machine (as root) keep to their own networks: each
has a tag of its own (bridge, node namespaces, subnets, rules), a third cluster whose
stored tag is taken refuses to start and touches nothing, and taking one cluster
down leaves the other's bridge, namespaces, rules and pods as they were."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kybernetes.cli.node_network import NodeNetwork
from tests.support.cluster import KybCluster, kyb, process_cluster
from tests.support.net import free_port
from tests.support.poll import wait_for

pytestmark = [pytest.mark.timeout(300),
              pytest.mark.skipif(os.geteuid() != 0, reason="per-node networks need root")]

SERVER = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "echo"},
          "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
              "name": "main", "image": "python:3", "command": [
                  "python3", "-c",
                  "import socket\ns = socket.create_server(('0.0.0.0', 7000))\n"
                  "while True:\n    c, _ = s.accept(); c.sendall(b'hi'); c.close()\n"]}]}}


def network_of(cluster: KybCluster) -> NodeNetwork:
    return NodeNetwork(str(cluster.data_dir), 1, isolated=True)


def leftovers(net: NodeNetwork) -> dict[str, list[str]]:
    """What of this cluster's network exists on the host now."""
    def run(*argv: str) -> str:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    prefix = f"{net.bridge}"
    return {
        "netns": [line.split()[0] for line in run("ip", "netns").splitlines()
                  if line.startswith(f"{prefix}-")],
        "links": [line.split(": ")[1].split("@")[0] for line in
                  run("ip", "-o", "link").splitlines()
                  if line.split(": ")[1].split("@")[0] in (prefix, *(f"{prefix}n{n.index}"
                                                                    for n in net.nodes))],
        "rules": [line for line in run("iptables-save").splitlines()
                  if f" {prefix} " in f"{line} "],
        "routes": [line for line in run("ip", "route", "show", "root",
                                        net.cluster_cidr).splitlines()],
    }


def answers(ip: str) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((ip, 7000), timeout=2) as s:
        return s.recv(8) == b"hi"
    return False


@pytest.fixture
def clusters(tmp_path: Path) -> Iterator[tuple[KybCluster, KybCluster]]:
    first = KybCluster(tmp_path / "first")
    try:
        first.up("--nodes", "1", "--runtime", "fake")
        with process_cluster(tmp_path / "second", nodes=1) as second:
            yield first, second
    finally:
        first.down()


def test_two_clusters_keep_to_their_own_networks(clusters: tuple[KybCluster, KybCluster],
                                                 tmp_path: Path) -> None:
    first, second = clusters
    one, two = network_of(first), network_of(second)
    assert one.tag != two.tag
    assert one.owner() == one.data_dir and two.owner() == two.data_dir
    second.kubectl_run("apply", "-f", "-", stdin=json.dumps(SERVER))
    ip = wait_for(lambda: second.kubectl("get", "pod", "echo", "-o",
                                         "jsonpath={.status.podIP}"), within=60,
                  interval=0.2, what="the echo pod's IP")
    wait_for(lambda: answers(ip), within=30, interval=0.2, what="the echo pod to answer")
    before = leftovers(two)
    assert before["netns"] == [f"{two.bridge}-n1"] and before["links"] and before["rules"]

    # a third data dir whose stored tag is the second cluster's: refused, nothing touched
    third = tmp_path / "third"
    third.mkdir()
    (third / "network-tag").write_text(str(two.tag))
    refused = kyb("up", "--detach", "--data-dir", str(third), "--port", str(free_port()),
                  "--dashboard-port", "0", "--nodes", "1", "--runtime", "fake", "--timeout",
                  "30")
    kyb("down", "--data-dir", str(third))
    assert refused.returncode != 0
    assert f"is in use by the cluster in {two.data_dir}" in refused.stderr, refused.stderr
    assert leftovers(two) == before and answers(ip)

    first.down()
    assert leftovers(one) == {"netns": [], "links": [], "rules": [], "routes": []}
    assert leftovers(two) == before
    assert answers(ip)
    second.kubectl("delete", "pod", "echo", "--grace-period=0", "--force")
