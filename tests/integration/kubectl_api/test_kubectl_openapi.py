"""Real kubectl (1.27 and current) against a real API server: explain, apply, get.

Covers what the OpenAPI documents, strategic merge patch, field validation and
server-side tables must give kubectl.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

BIN = Path("/usr/lib/google-cloud-sdk/bin")
KUBECTLS = [k for k in ("kubectl.1.27", "kubectl") if (BIN / k).exists()]
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


def kubectl(server, binary, *args, stdin=None, check=True):
    env = {**os.environ, "KUBECONFIG": str(server.kubeconfig), "HOME": str(server.data_dir)}
    done = subprocess.run([str(BIN / binary), *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=60)
    if check and done.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr}")
    return done


@pytest.mark.parametrize("binary", KUBECTLS)
def test_explain_reads_the_openapi_documents(apiserver, binary):
    out = kubectl(apiserver, binary, "explain", "pod.spec.containers").stdout
    assert "FIELD: containers <[]Container>" in out
    assert "imagePullPolicy" in out
    out = kubectl(apiserver, binary, "explain", "deployment.spec.strategy.rollingUpdate").stdout
    assert "maxSurge" in out


@pytest.mark.parametrize("binary", KUBECTLS)
def test_apply_then_change_image_env_replicas_and_labels(apiserver, binary, tmp_path):
    kubectl(apiserver, binary, "apply", "-f", "-", stdin=DEPLOYMENT)
    changed = (DEPLOYMENT.replace("nginx:1.25", "nginx:1.26")
               .replace('        - {name: B, value: "2"}\n', "")
               .replace("replicas: 2", "replicas: 3")
               .replace("  labels: {app: web}\nspec", "  labels: {app: web, tier: front}\nspec"))
    out = kubectl(apiserver, binary, "apply", "-f", "-", stdin=changed).stdout
    assert "deployment.apps/web configured" in out
    dep = json.loads(kubectl(apiserver, binary, "get", "deploy", "web", "-o", "json").stdout)
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert dep["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert dep["spec"]["replicas"] == 3
    assert container["image"] == "nginx:1.26"
    assert container["env"] == [{"name": "A", "value": "1"}]
    assert container["imagePullPolicy"] == "IfNotPresent"


@pytest.mark.parametrize("binary", KUBECTLS)
def test_apply_rejects_unknown_fields_server_side(apiserver, binary):
    bad = DEPLOYMENT.replace("- containerPort: 80", "- containerPort: 80\n          protocl: TCP")
    done = kubectl(apiserver, binary, "apply", "-f", "-", stdin=bad, check=False)
    assert done.returncode != 0
    assert 'unknown field "spec.template.spec.containers[0].ports[0].protocl"' in done.stderr


def test_get_prints_server_side_tables(apiserver):
    binary = KUBECTLS[-1]
    kubectl(apiserver, binary, "apply", "-f", "-", stdin=DEPLOYMENT)
    out = kubectl(apiserver, binary, "get", "deploy", "-o", "wide").stdout.splitlines()
    assert out[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS",
                              "IMAGES", "SELECTOR"]
    assert out[1].split()[:2] == ["web", "0/2"] and out[1].split()[-2:] == ["nginx:1.25",
                                                                            "app=web"]
    out = kubectl(apiserver, binary, "get", "ns").stdout
    assert out.splitlines()[0].split() == ["NAME", "STATUS", "AGE"]
    assert "default" in out and "Active" in out
