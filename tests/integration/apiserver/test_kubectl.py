"""The real kubectl (oldest and newest supported, and the default one) against the API server."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.support.apiserver import ApiServer
from tests.support.kubectl import KUBECTLS, Kubectl

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata: {name: NS}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: NS}
data: {mode: "one"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: NS}
stringData: {password: hunter2}
---
apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: NS, labels: {app: web, tier: front}}
spec:
  containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
---
apiVersion: v1
kind: ReplicationController
metadata: {name: rc, namespace: NS}
spec:
  replicas: 2
  selector: {app: rc}
  template:
    metadata: {labels: {app: rc}}
    spec: {containers: [{name: c, image: busybox}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: NS}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: dep, namespace: NS}
spec:
  replicas: 1
  selector: {matchLabels: {app: dep}}
  template:
    metadata: {labels: {app: dep}}
    spec: {containers: [{name: c, image: busybox}]}
"""


@pytest.fixture(params=KUBECTLS)
def kubectl(request: pytest.FixtureRequest, sqlite_server: ApiServer, tmp_path: Path
            ) -> Kubectl:
    return Kubectl(request.param, sqlite_server, tmp_path)


@pytest.fixture(params=[k for k in KUBECTLS if k != "kubectl.1.33"])
def oldest_and_default_kubectl(request: pytest.FixtureRequest, sqlite_server: ApiServer,
                               tmp_path: Path) -> Kubectl:
    """kubectl.1.27 and the default kubectl (a 1.33 too: the heavy tests skip kubectl.1.33)."""
    return Kubectl(request.param, sqlite_server, tmp_path)


@pytest.fixture
def default_kubectl(sqlite_server: ApiServer, tmp_path: Path) -> Kubectl:
    return Kubectl("kubectl", sqlite_server, tmp_path)


def apply_manifest(k: Kubectl, ns: str) -> Path:
    path = k.tmp / "all.yaml"
    path.write_text(MANIFEST.replace("NS", ns))
    out = k("apply", "-f", str(path))
    for what in ("namespace/", "configmap/settings", "secret/creds", "pod/solo",
                 "replicationcontroller/rc", "service/web", "deployment.apps/dep"):
        assert what in out and "created" in out
    return path


def test_version_and_api_resources(kubectl: Kubectl) -> None:
    version = json.loads(kubectl("version", "-o", "json"))["serverVersion"]
    assert version["gitVersion"] == "v1.33.0-kyb" and version["minor"] == "33"
    resources = kubectl("api-resources", "-o", "name")
    for name in ("pods", "replicationcontrollers", "deployments.apps",
                 "leases.coordination.k8s.io"):
        assert name in resources.split()


def test_apply_get_patch_scale_delete(oldest_and_default_kubectl: Kubectl) -> None:
    kubectl = oldest_and_default_kubectl
    ns = "k" + kubectl.binary.rsplit("/", 1)[-1].replace(".", "-").replace("kubectl", "kc")
    path = apply_manifest(kubectl, ns)
    assert "unchanged" in kubectl("apply", "-f", str(path))
    path.write_text(MANIFEST.replace("NS", ns).replace('mode: "one"', 'mode: "two"'))
    assert "configmap/settings configured" in kubectl("apply", "-f", str(path))
    assert kubectl("get", "cm", "settings", "-n", ns, "-o", "jsonpath={.data.mode}") == "two"
    wide = kubectl("get", "pods", "-n", ns, "-o", "wide")
    assert "solo" in wide and "Pending" in wide and "NOMINATED NODE" in wide
    assert kubectl("get", "svc", "-n", ns, "-o", "name").split() == ["service/web"]
    assert kubectl("get", "secret", "creds", "-n", ns, "-o",
                   "jsonpath={.data.password}") == "aHVudGVyMg=="
    kubectl("patch", "pod", "solo", "-n", ns, "-p", '{"metadata":{"labels":{"s":"1"}}}')
    kubectl("patch", "pod", "solo", "-n", ns, "--type=merge",
            "-p", '{"metadata":{"labels":{"m":"1"}}}')
    kubectl("patch", "pod", "solo", "-n", ns, "--type=json",
            "-p", '[{"op":"add","path":"/metadata/labels/j","value":"1"}]')
    labels = kubectl.json("get", "pod", "solo", "-n", ns)["metadata"]["labels"]
    assert labels == {"app": "web", "tier": "front", "s": "1", "m": "1", "j": "1"}
    kubectl("scale", "rc", "rc", "-n", ns, "--replicas=5")
    kubectl("scale", "deployment", "dep", "-n", ns, "--replicas=3")
    assert kubectl("get", "rc", "rc", "-n", ns, "-o", "jsonpath={.spec.replicas}") == "5"
    dep = kubectl.json("get", "deploy", "dep", "-n", ns)
    assert dep["spec"]["replicas"] == 3 and dep["metadata"]["generation"] == 2
    assert "deleted" in kubectl("delete", "pod", "solo", "-n", ns, "--timeout=20s")
    assert "No resources found" in kubectl.run("get", "pods", "-n", ns).stderr


def test_label_annotate_and_selectors(default_kubectl: Kubectl) -> None:
    k, ns = default_kubectl, "selectors"
    k("create", "namespace", ns)
    for name, app in (("a", "web"), ("b", "db"), ("c", "web")):
        k("run", name, "-n", ns, "--image=busybox", f"--labels=app={app}")
    k("label", "pod", "c", "-n", ns, "tier=back")
    k("annotate", "pod", "a", "-n", ns, "note=hello")
    names = lambda *a: k("get", "pods", "-n", ns, "-o", "name", *a).split()  # noqa: E731
    assert names("-l", "app in (web),tier notin (back)") == ["pod/a"]
    assert names("-l", "!tier") == ["pod/a", "pod/b"]
    assert names("--field-selector", "metadata.name!=a") == ["pod/b", "pod/c"]
    assert k.json("get", "pod", "a", "-n", ns)["metadata"]["annotations"]["note"] == "hello"
    assert "deleted" in k("delete", "pods", "-n", ns, "-l", "app=web")
    assert names() == ["pod/b"]


def test_create_diff_edit_describe_explain(default_kubectl: Kubectl) -> None:
    k, ns = default_kubectl, "editing"
    k("create", "namespace", ns)
    k("create", "configmap", "cfg", "-n", ns, "--from-literal=key=old")
    k("create", "secret", "generic", "sec", "-n", ns, "--from-literal=x=y")
    manifest = k.tmp / "cfg.yaml"
    manifest.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cfg, namespace: "
                        f"{ns}}}\ndata: {{key: new}}\n")
    diff = k.run("diff", "-f", str(manifest), check=False)
    assert diff.returncode == 1 and "+  key: new" in diff.stdout, diff.stderr
    editor = k.tmp / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/key: old/key: edited/' \"$1\"\n")
    editor.chmod(0o755)
    k("edit", "configmap", "cfg", "-n", ns, env={"EDITOR": str(editor)})
    assert k("get", "cm", "cfg", "-n", ns, "-o", "jsonpath={.data.key}") == "edited"
    assert "key:" in k("describe", "configmap", "cfg", "-n", ns)
    assert "FIELD: containers <[]Container>" in k("explain", "pod.spec.containers")


def test_get_watch_streams_changes(default_kubectl: Kubectl) -> None:
    k, ns = default_kubectl, "watching"
    k("create", "namespace", ns)
    proc = subprocess.Popen([k.binary, "get", "configmaps", "-n", ns, "-w"], env=k.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    stdout = proc.stdout
    assert stdout is not None

    def pump() -> None:
        for line in stdout:
            lines.put(line)
    threading.Thread(target=pump, daemon=True).start()
    try:
        time.sleep(0.5)
        k("create", "configmap", "live", "-n", ns, "--from-literal=a=b")
        deadline = time.monotonic() + 15
        seen = ""
        while "live" not in seen and time.monotonic() < deadline:
            try:
                seen += lines.get(timeout=0.5)
            except queue.Empty:
                pass
        assert "live" in seen
    finally:
        proc.kill()
        proc.wait(5)
