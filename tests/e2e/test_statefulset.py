"""A StatefulSet on a two-node `kyb up` cluster (process runtime) with the real
kubectl: ordered pods with their own claims on the default `local-path` class,
pod-0 deleted and made anew on the same node finds the file it wrote, scale down
keeps the claims, and the provisioned directories live in the cluster's data dir."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import KybCluster, process_cluster
from tests.support.poll import wait_for

pytestmark = pytest.mark.timeout(420)

MANIFEST = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: busybox:stable
        env:
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        command:
        - /bin/busybox
        - sh
        - -c
        - |
          if [ -f /data/f ]; then echo "found $(cat /data/f)"
          else echo "$POD_NAME-$$" > /data/f; echo "wrote $(cat /data/f)"; fi
          exec /bin/busybox sleep 3600
        volumeMounts: [{name: data, mountPath: /data}]
        readinessProbe:
          exec: {command: [/bin/busybox, test, -f, /data/f]}
          periodSeconds: 1
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KybCluster]:
    with process_cluster(tmp_path / "kyb") as c:
        yield c


def pod(cluster: KybCluster, name: str) -> dict[str, str] | None:
    """uid, node and readiness of a pod that is not being deleted."""
    out = cluster.kubectl("get", "pod", name, "-o", "json", "--ignore-not-found")
    if not out.strip():
        return None
    p = json.loads(out)
    ready = any(c["type"] == "Ready" and c["status"] == "True"
                for c in p["status"].get("conditions", []))
    if p["metadata"].get("deletionTimestamp"):
        return None
    return {"uid": p["metadata"]["uid"], "node": p["spec"].get("nodeName", ""),
            "ready": str(ready)}


def test_pod_zero_keeps_its_file_across_deletion(cluster: KybCluster) -> None:
    path = cluster.data_dir / "web.yaml"
    path.write_text(MANIFEST)
    cluster.kubectl("apply", "-f", str(path))
    out = cluster.kubectl("rollout", "status", "sts/web", "--timeout=180s")
    assert "roll out complete: 2 new pods" in out, out
    first = pod(cluster, "web-0")
    assert first is not None
    wrote = wait_for(lambda: cluster.kubectl("logs", "web-0").strip(), within=30,
                     what="web-0 wrote its file")
    assert wrote.startswith("wrote web-0-"), wrote
    claims = json.loads(cluster.kubectl("get", "pvc", "-o", "json"))["items"]
    assert {c["metadata"]["name"]: c["status"]["phase"] for c in claims} == {
        "data-web-0": "Bound", "data-web-1": "Bound"}
    volume = cluster.kubectl("get", "pvc", "data-web-0", "-o", "jsonpath={.spec.volumeName}")
    host_path = cluster.kubectl("get", "pv", volume, "-o", "jsonpath={.spec.hostPath.path}")
    assert Path(host_path).is_relative_to(cluster.data_dir / "local-path"), host_path
    assert (Path(host_path) / "f").read_text().strip() == wrote.removeprefix("wrote ")

    cluster.kubectl("delete", "pod", "web-0", "--wait=false")

    def replaced() -> dict[str, str] | None:
        again = pod(cluster, "web-0")
        return again if again and again["uid"] != first["uid"] and \
            again["ready"] == "True" else None
    again = wait_for(replaced, within=120, what="web-0 made anew and Ready")
    assert again["node"] == first["node"]  # the claim's volume holds it to its node
    found = wait_for(lambda: cluster.kubectl("logs", "web-0").strip(), within=30,
                     what="the new web-0 read its file")
    assert found == "found " + wrote.removeprefix("wrote "), found

    cluster.kubectl("scale", "sts", "web", "--replicas=1")
    wait_for(lambda: pod(cluster, "web-1") is None, within=60, what="web-1 gone")
    names = cluster.kubectl("get", "pvc", "-o", "name").split()
    assert sorted(names) == ["persistentvolumeclaim/data-web-0",
                             "persistentvolumeclaim/data-web-1"]
