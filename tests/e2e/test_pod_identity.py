"""Pods use the API from inside as in Kubernetes: in a `kyb up` cluster (process runtime,
RBAC) a pod runs the official Python client's load_incluster_config() — its token,
CA and namespace from the kube-api-access volume, the API server through the
`kubernetes` Service's ClusterIP — and lists the pods of its namespace when its
ServiceAccount is bound to `view`, and gets 403 Forbidden when it is not."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import KybCluster
from tests.support.poll import wait_for

pytestmark = pytest.mark.timeout(300)
NS = "identity"
SCRIPT = """
from kubernetes import client, config
from kubernetes.client.rest import ApiException
config.load_incluster_config()
with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as f:
    namespace = f.read()
try:
    pods = client.CoreV1Api().list_namespaced_pod(namespace)
    print("PODS", " ".join(sorted(p.metadata.name for p in pods.items)))
except ApiException as e:
    print("STATUS", e.status, e.reason)
"""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KybCluster]:
    c = KybCluster(tmp_path / "kyb")
    try:
        c.up("--nodes", "1", "--runtime", "process",
             "--apiserver-arg=--authorization-mode=RBAC,Node")
        yield c
    finally:
        c.down()


def _run_pod(cluster: KybCluster, name: str, tmp_path: Path) -> str:
    """Run the client script in pod `name`; its output once it has finished."""
    manifest = tmp_path / f"{name}.json"
    manifest.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": "client", "image": "python", "command": [sys.executable, "-c", SCRIPT]}]}}))
    cluster.kubectl("create", "-f", str(manifest))

    def finished() -> dict | None:
        pod = json.loads(cluster.kubectl("get", "pod", name, "-n", NS, "-o", "json"))
        return pod if pod["status"].get("phase") in ("Succeeded", "Failed") else None
    pod = wait_for(finished, within=60, interval=0.5, what=f"pod {name} to finish")
    logs = cluster.kubectl("logs", name, "-n", NS)
    assert pod["status"]["phase"] == "Succeeded", logs + cluster.logs()
    return logs


def test_a_pod_lists_its_namespace_with_view_and_is_forbidden_without(
        cluster: KybCluster, tmp_path: Path) -> None:
    cluster.kubectl("create", "namespace", NS)
    wait_for(lambda: cluster.kubectl("get", "serviceaccount", "default", "-n", NS,
                                     check=False), within=30, what="the default account")
    wait_for(lambda: cluster.kubectl("get", "configmap", "kube-root-ca.crt", "-n", NS,
                                     check=False), within=30, what="the root CA ConfigMap")

    denied = _run_pod(cluster, "denied", tmp_path)
    assert denied.strip() == "STATUS 403 Forbidden", denied

    cluster.kubectl("create", "rolebinding", "default-view", "--clusterrole=view",
                    f"--serviceaccount={NS}:default", "-n", NS)
    allowed = _run_pod(cluster, "allowed", tmp_path)
    assert allowed.strip() == "PODS allowed denied", allowed

    pod = json.loads(cluster.kubectl("get", "pod", "allowed", "-n", NS, "-o", "json"))
    volume = pod["spec"]["volumes"][0]
    assert volume["name"].startswith("kube-api-access-")
    assert pod["spec"]["containers"][0]["volumeMounts"][0]["mountPath"] == \
        "/var/run/secrets/kubernetes.io/serviceaccount"
