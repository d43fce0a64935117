"""A DaemonSet on a two-node `kyb up` cluster (process runtime) with the real kubectl:
a Ready pod on each node, a node that gets a NoExecute taint loses its pod and gets
one back when the taint goes (a running `kyb up` cluster cannot take a new node
yet, so the taint stands in for a node joining), a rolling update to a new
template, and `kubectl rollout status`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import KybCluster, process_cluster
from tests.support.poll import wait_for

pytestmark = pytest.mark.timeout(420)

DAEMON_SET = """
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: agent
        image: busybox:stable
        command: [/bin/busybox, sh, -c, "echo VERSION on $NODE; exec /bin/busybox sleep 3600"]
        env:
        - name: NODE
          valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
        readinessProbe:
          exec: {command: [/bin/busybox, "true"]}
          periodSeconds: 1
"""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KybCluster]:
    with process_cluster(tmp_path / "kyb") as c:
        yield c


def apply(cluster: KybCluster, manifest: str) -> None:
    path = cluster.data_dir / "ds.yaml"
    path.write_text(manifest)
    cluster.kubectl("apply", "-f", str(path))


def ready_by_node(cluster: KybCluster) -> dict[str, str]:
    """node -> the command of its one Ready, not deleted agent pod."""
    pods = json.loads(cluster.kubectl("get", "pods", "-l", "app=agent", "-o", "json"))["items"]
    out: dict[str, str] = {}
    for p in pods:
        if p["metadata"].get("deletionTimestamp"):
            continue
        if any(c["type"] == "Ready" and c["status"] == "True"
               for c in p["status"].get("conditions", [])):
            out[p["spec"]["nodeName"]] = p["spec"]["containers"][0]["command"][-1]
    return out


def test_daemon_set_follows_nodes_and_rolls(cluster: KybCluster) -> None:
    nodes = sorted(n["metadata"]["name"] for n in json.loads(
        cluster.kubectl("get", "nodes", "-o", "json"))["items"])
    assert len(nodes) == 2
    apply(cluster, DAEMON_SET.replace("VERSION", "v1"))
    out = cluster.kubectl("rollout", "status", "ds/agent", "--timeout=120s")
    assert 'daemon set "agent" successfully rolled out' in out, cluster.logs()
    assert set(ready_by_node(cluster)) == set(nodes)

    cluster.kubectl("taint", "node", nodes[1], "dedicated=infra:NoExecute")
    wait_for(lambda: set(ready_by_node(cluster)) == {nodes[0]} and not [
        p for p in json.loads(cluster.kubectl("get", "pods", "-l", "app=agent", "-o",
                                              "json"))["items"]
        if p["spec"].get("nodeName") == nodes[1]], within=60, what="pod gone from tainted node")
    row = cluster.kubectl("get", "ds", "agent", "--no-headers").split()
    assert row[1:6] == ["1", "1", "1", "1", "1"], row
    cluster.kubectl("taint", "node", nodes[1], "dedicated=infra:NoExecute-")
    wait_for(lambda: set(ready_by_node(cluster)) == set(nodes), within=90,
             what="pod back on the untainted node")

    started = time.monotonic()
    apply(cluster, DAEMON_SET.replace("VERSION", "v2"))
    out = cluster.kubectl("rollout", "status", "ds/agent", "--timeout=120s")
    assert 'daemon set "agent" successfully rolled out' in out
    wait_for(lambda: all("v2" in c for c in ready_by_node(cluster).values())
             and len(ready_by_node(cluster)) == 2, within=60, what="v2 everywhere")
    assert time.monotonic() - started < 120
    history = cluster.kubectl("rollout", "history", "ds/agent")
    assert [line.split()[0] for line in history.strip().splitlines()[2:]] == ["1", "2"]
