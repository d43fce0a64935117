"""`kyb up --servers 3` (issue 14): three server hosts, each an etcd member (TLS), an
API server over the etcd cluster, a leader-elected scheduler and controller-manager,
behind `kyb api-lb`. `kyb status -o json` shows one leader per role and three
healthy members; when one server host's processes are killed, writes through the
admin kubeconfig go on within seconds, a new scheduler leads, and a
ReplicationController still gets its pods. Fake-runtime node: the control plane is
what is under test. The supervisor restarts the killed processes after a second;
what is asserted happens before they could serve again. A SIGSTOPped API server
(its kernel still accepts connections) leaves the balancers' rotation."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import KybCluster, kyb
from tests.support.etcd import etcd_available
from tests.support.ha import ROLES, leaders, settled_doc
from tests.support.poll import wait_for

pytestmark = [pytest.mark.etcd, pytest.mark.timeout(420),
              pytest.mark.skipif(not etcd_available(), reason="etcd is not installed")]

@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KybCluster]:
    c = KybCluster(tmp_path_factory.mktemp("ha"))
    try:
        c.up("--servers", "3", "--nodes", "1", "--runtime", "fake", "--timeout", "180")
        yield c
    finally:
        c.down()


def status(cluster: KybCluster) -> dict[str, Any]:
    result = kyb("status", "--data-dir", str(cluster.data_dir), "-o", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def settled(cluster: KybCluster) -> dict[str, Any] | None:
    """The status once every role has three ready members and one leader each."""
    doc = status(cluster)
    return doc if settled_doc(doc) else None


def test_three_servers_with_one_leader_per_role(cluster: KybCluster) -> None:
    doc = wait_for(lambda: settled(cluster), within=60, interval=1, what="a settled status")
    component = doc["components"][0]
    assert set(component) == {"name", "kind", "host", "pid", "ready", "leader", "url"}
    assert set(doc["etcd"]["members"][0]) == {"name", "leader", "healthy", "url"}
    for kind in ROLES:
        hosts = {c["host"] for c in doc["components"] if c["kind"] == kind}
        assert hosts == {"kyb-server-1", "kyb-server-2", "kyb-server-3"}, kind
    balancers = {c["host"] for c in doc["components"] if c["kind"] == "api-lb"}
    # the host's (admin kubeconfig); as root each node has its own in its namespace
    assert balancers == ({"host", "kyb-node-1"} if os.geteuid() == 0 else {"host"})
    apiservers = [c for c in doc["components"] if c["kind"] == "apiserver"]
    assert all(c["url"].startswith("https://") and c["leader"] is None for c in apiservers)
    assert "kyb-node-1" in cluster.kubectl("get", "nodes")
    endpoints = json.loads(cluster.kubectl("get", "endpoints", "kubernetes", "-o", "json"))
    listed = {a["ip"] for s in endpoints["subsets"] for a in s["addresses"]}
    assert listed == {c["url"].split("//")[1].rsplit(":", 1)[0] for c in apiservers}


def test_losing_a_server_host(cluster: KybCluster) -> None:
    doc = wait_for(lambda: settled(cluster), within=60, interval=1, what="a settled status")
    old_leader = leaders(doc, "scheduler")[0]
    lost = old_leader["host"]
    killed = [c for c in doc["components"] if c["host"] == lost]
    assert {c["kind"] for c in killed} == {"etcd", *ROLES}
    for c in killed:
        os.killpg(c["pid"], signal.SIGKILL)
    started = time.monotonic()

    def write(i: int) -> bool:
        return cluster.kubectl_run("create", "configmap", f"after-loss-{i}",
                                   "--from-literal=k=v", timeout=15).returncode == 0
    wait_for(lambda: write(0), within=10, interval=0.2, what="a write after the loss")
    first_write = time.monotonic() - started
    for i in range(1, 6):  # and they keep going, whichever server each connection hits
        assert write(i), f"write {i} failed"

    def new_scheduler_leader() -> dict[str, Any] | None:
        found = leaders(status(cluster), "scheduler")
        return found[0] if found and found[0]["pid"] != old_leader["pid"] else None
    wait_for(new_scheduler_leader, within=40, interval=1, what="a new scheduler leader")

    cluster.kubectl_run("apply", "-f", "-", stdin=json.dumps({
        "apiVersion": "v1", "kind": "ReplicationController",
        "metadata": {"name": "survivor"},
        "spec": {"replicas": 2, "selector": {"app": "survivor"}, "template": {
            "metadata": {"labels": {"app": "survivor"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}))

    def ready_replicas() -> bool:
        rc = json.loads(cluster.kubectl("get", "rc", "survivor", "-o", "json"))
        return rc.get("status", {}).get("readyReplicas") == 2
    wait_for(ready_replicas, within=90, interval=1, what="the RC's two ready replicas")
    print(f"first write {first_write:.1f}s after the host was lost")
    assert first_write < 10


def test_a_stalled_api_server_leaves_the_rotation(cluster: KybCluster) -> None:
    """SIGSTOP: the server's kernel still accepts connections, nothing answers; the
    balancers' /readyz probe takes it out, so every write gets through."""
    doc = wait_for(lambda: settled(cluster), within=90, interval=1, what="a settled status")
    stalled = next(c for c in doc["components"] if c["kind"] == "apiserver")
    os.killpg(stalled["pid"], signal.SIGSTOP)
    try:
        time.sleep(5)  # two probe rounds
        for i in range(6):  # two rounds of the round-robin over three servers
            result = cluster.kubectl_run("create", "configmap", f"while-stalled-{i}",
                                         "--from-literal=k=v", "--request-timeout=5s")
            assert result.returncode == 0, result.stderr
    finally:
        os.killpg(stalled["pid"], signal.SIGCONT)


def test_status_without_a_cluster(tmp_path: Path) -> None:
    result = kyb("status", "--data-dir", str(tmp_path), "-o", "json")
    assert result.returncode == 1 and "no cluster is running" in result.stderr
