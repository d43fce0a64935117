"""NetworkPolicy enforcement (issue 13) on a two-node process-runtime `kyb up` cluster
as root: the deny/allow matrix across and within nodes, namespace selectors, egress,
and a connection made before a deny keeps working."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from kybernetes.cli.node_network import NodeNetwork
from tests.support.cluster import KybCluster, process_cluster
from tests.support.poll import wait_for

pytestmark = [pytest.mark.timeout(420),
              pytest.mark.skipif(os.geteuid() != 0, reason="per-node networks need root")]

# Port 7000 answers "ok" and closes; port 7001 echoes lines for as long as it is open.
SERVER = """
import socket, threading
def serve(port, handle):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(16)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()
def hello(c):
    c.sendall(b"ok"); c.close()
def echo(c):
    f = c.makefile("rwb")
    for line in f:
        f.write(line); f.flush()
threading.Thread(target=serve, args=(7001, echo), daemon=True).start()
serve(7000, hello)
"""
# Sends one line, waits, sends another on the same connection: prints what came back.
LONG_CLIENT = """
import socket, sys, time
s = socket.create_connection((sys.argv[1], 7001), timeout=15)
f = s.makefile("rwb")
f.write(b"before\\n"); f.flush(); print(f.readline().decode().strip(), flush=True)
time.sleep(float(sys.argv[2]))
f.write(b"after\\n"); f.flush(); print(f.readline().decode().strip(), flush=True)
"""
PROBE = ("import socket, sys\n"
         "try:\n"
         "    s = socket.create_connection((sys.argv[1], 7000), timeout=1.5)\n"
         "    print(s.recv(8).decode())\n"
         "except OSError:\n"
         "    print('blocked')\n")


def _pod(name: str, node: str, namespace: str, app: str, *command: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": "python:3",
                                     "command": list(command)}]}}


class Net:
    def __init__(self, cluster: KybCluster) -> None:
        self.cluster = cluster
        self.n1, self.n2 = (n.name for n in NodeNetwork(str(cluster.data_dir), 2,
                                                        isolated=True).nodes)

    def apply(self, *objects: dict) -> None:
        self.cluster.kubectl_run("apply", "-f", "-", stdin=json.dumps(
            {"apiVersion": "v1", "kind": "List", "items": list(objects)}))

    def delete_policies(self) -> None:
        for ns in ("default", "ops"):
            self.cluster.kubectl("delete", "networkpolicy", "--all", "-n", ns)

    def ip(self, pod: str, namespace: str = "default") -> str:
        return self.cluster.kubectl("get", "pod", pod, "-n", namespace, "-o",
                                    "jsonpath={.status.podIP}")

    def probe(self, client: str, server: str) -> str:
        """"ok" or "blocked": `client` ("name" or "namespace/name") connecting to the
        `server` pod (in default)."""
        namespace, _, name = client.rpartition("/")
        done = self.cluster.kubectl_run("exec", name, "-n", namespace or "default", "--",
                                        "python3", "-c", PROBE, self.ip(server))
        return done.stdout.strip()

    def expect(self, matrix: dict[tuple[str, str], str]) -> None:
        """Wait until every (client, server) probe answers as `matrix` says."""
        wait_for(lambda: {pair: self.probe(*pair) for pair in matrix} == matrix,
                 within=30, interval=0.5, what=f"reachability {matrix}")


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    with process_cluster(tmp_path_factory.mktemp("netpol") / "kyb") as cluster:
        net = Net(cluster)
        cluster.kubectl("create", "namespace", "ops")
        cluster.kubectl("label", "namespace", "ops", "team=ops")
        net.apply(_pod("db", net.n1, "default", "db", "python3", "-c", SERVER),
                  _pod("api", net.n2, "default", "api", "python3", "-c", SERVER),
                  _pod("web", net.n2, "default", "web", "sleep", "3600"),
                  _pod("stranger", net.n1, "default", "other", "sleep", "3600"),
                  _pod("tool", net.n1, "ops", "tool", "sleep", "3600"))

        def running(ns: str, pods: int) -> bool:
            return cluster.kubectl("get", "pods", "-n", ns,
                                   "--field-selector=status.phase=Running",
                                   "-o", "name").count("pod/") == pods
        for ns, pods in (("default", 4), ("ops", 1)):
            wait_for(partial(running, ns, pods), within=90, interval=0.5,
                     what=f"{ns} pods running")
        yield net


def _policy(name: str, **spec: object) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


DB = {"matchLabels": {"app": "db"}}


def test_deny_then_allow_by_pod_and_namespace(net: Net) -> None:
    net.delete_policies()
    net.expect({("web", "db"): "ok", ("stranger", "db"): "ok", ("ops/tool", "db"): "ok"})
    net.apply(_policy("db-deny", podSelector=DB, policyTypes=["Ingress"]))
    net.expect({("web", "db"): "blocked", ("stranger", "db"): "blocked",
                ("ops/tool", "db"): "blocked", ("web", "api"): "ok"})
    net.apply(_policy("db-from-web", podSelector=DB, ingress=[{
        "from": [{"podSelector": {"matchLabels": {"app": "web"}}},
                 {"namespaceSelector": {"matchLabels": {"team": "ops"}}}],
        "ports": [{"port": 7000}]}]))
    # web crosses nodes; stranger shares db's node (its traffic is bridged, not routed)
    net.expect({("web", "db"): "ok", ("stranger", "db"): "blocked", ("ops/tool", "db"): "ok"})
    net.delete_policies()
    net.expect({("stranger", "db"): "ok"})


def test_egress_deny_and_ip_block(net: Net) -> None:
    net.delete_policies()
    web = {"matchLabels": {"app": "web"}}
    net.apply(_policy("web-out", podSelector=web, policyTypes=["Egress"], egress=[{
        "to": [{"ipBlock": {"cidr": f"{net.ip('db')}/32"}}]}]))
    net.expect({("web", "db"): "ok", ("web", "api"): "blocked", ("stranger", "api"): "ok"})
    net.delete_policies()
    net.expect({("web", "api"): "ok"})


def test_a_connection_made_before_a_deny_keeps_working(net: Net) -> None:
    net.delete_policies()
    net.expect({("stranger", "db"): "ok"})
    long = subprocess.Popen(["kubectl", "exec", "stranger", "--", "python3", "-c",
                             LONG_CLIENT, net.ip("db"), "8"], env=net.cluster.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        net.apply(_policy("db-deny", podSelector=DB, policyTypes=["Ingress"]))
        net.expect({("stranger", "db"): "blocked"})  # new connections are refused now
        out, err = long.communicate(timeout=30)
        assert out.split() == ["before", "after"], err
    finally:
        long.kill()
        net.delete_policies()


def test_nothing_is_left_in_the_nodes_after_down(tmp_path: Path) -> None:
    """Each agent removes its table when it stops (here: a cluster of its own)."""
    with process_cluster(tmp_path / "kyb", nodes=1) as cluster:
        node = NodeNetwork(str(cluster.data_dir), 1, isolated=True).nodes[0]
        assert node.netns is not None
        tables = subprocess.run(["ip", "netns", "exec", node.netns, "nft", "list", "tables"],
                                capture_output=True, text=True).stdout
        assert "kybnp_" in tables
        cluster.down()
        assert node.netns not in subprocess.run(["ip", "netns"], capture_output=True,
                                                text=True).stdout
