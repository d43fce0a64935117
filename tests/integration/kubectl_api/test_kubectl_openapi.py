"""Real kubectl (1.27 and current) against a real API server: explain, apply, get.

Covers what the OpenAPI documents, strategic merge patch, field validation and
server-side tables must give kubectl.
"""

from __future__ import annotations

import pytest

from tests.support.kubectl import KUBECTL_DIR, Kubectl

KUBECTLS = [k for k in ("kubectl.1.27", "kubectl") if (KUBECTL_DIR / k).exists()]
pytestmark = pytest.mark.skipif(not KUBECTLS, reason="kubectl not installed")

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: c
        image: nginx:1.25
        env:
        - {name: A, value: "1"}
        - {name: B, value: "2"}
        ports:
        - containerPort: 80
"""


@pytest.fixture(params=KUBECTLS)
def kubectl(request, apiserver, tmp_path):
    return Kubectl(request.param, apiserver, tmp_path)


def test_explain_reads_the_openapi_documents(kubectl):
    out = kubectl("explain", "pod.spec.containers")
    assert "FIELD: containers <[]Container>" in out
    assert "imagePullPolicy" in out
    out = kubectl("explain", "deployment.spec.strategy.rollingUpdate")
    assert "maxSurge" in out


def test_apply_then_change_image_env_replicas_and_labels(kubectl):
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    changed = (DEPLOYMENT.replace("nginx:1.25", "nginx:1.26")
               .replace('        - {name: B, value: "2"}\n', "")
               .replace("replicas: 2", "replicas: 3")
               .replace("  labels: {app: web}\nspec", "  labels: {app: web, tier: front}\nspec"))
    out = kubectl("apply", "-f", "-", stdin=changed)
    assert "deployment.apps/web configured" in out
    dep = kubectl.json("get", "deploy", "web")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert dep["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert dep["spec"]["replicas"] == 3
    assert container["image"] == "nginx:1.26"
    assert container["env"] == [{"name": "A", "value": "1"}]
    assert container["imagePullPolicy"] == "IfNotPresent"


def test_apply_rejects_unknown_fields_server_side(kubectl):
    bad = DEPLOYMENT.replace("- containerPort: 80", "- containerPort: 80\n          protocl: TCP")
    done = kubectl.run("apply", "-f", "-", stdin=bad, check=False)
    assert done.returncode != 0
    assert 'unknown field "spec.template.spec.containers[0].ports[0].protocl"' in done.stderr


def test_get_prints_server_side_tables(apiserver, tmp_path):
    kubectl = Kubectl(KUBECTLS[-1], apiserver, tmp_path)
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT)
    out = kubectl("get", "deploy", "-o", "wide").splitlines()
    assert out[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS",
                              "IMAGES", "SELECTOR"]
    assert out[1].split()[:2] == ["web", "0/2"] and out[1].split()[-2:] == ["nginx:1.25",
                                                                            "app=web"]
    out = kubectl("get", "ns")
    assert out.splitlines()[0].split() == ["NAME", "STATUS", "AGE"]
    assert "default" in out and "Active" in out
