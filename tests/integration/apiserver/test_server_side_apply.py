"""Server-side apply and managedFields, through the real kubectl and the official client.

kubectl.1.27 is the oldest kubectl here (csaupgrade, the client-side → server-side
managedFields upgrade, came in 1.26) and kubectl.1.33 the newest; each runs through a
symlink named `kubectl`, so its User-Agent (and so its field manager) reads as a
user's kubectl does.
"""

from __future__ import annotations

import itertools
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import dynamic
from kubernetes.client.rest import ApiException
from kubernetes.dynamic.exceptions import ConflictError

from tests.support.apiserver import ApiServer
from tests.support.kubectl import KUBECTL_DIR, Kubectl

OLDEST_AND_NEWEST = [k for k in ("kubectl.1.27", "kubectl.1.33") if (KUBECTL_DIR / k).exists()]
_NAMESPACES = itertools.count()
SCALE_CONFLICT = ('Apply failed with 1 conflict: conflict with "kubectl" with subresource '
                  '"scale" using apps/v1: .spec.replicas')


def deployment(ns: str, *, replicas: int = 2, image: str = "nginx:1.27",
               annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns, "annotations": annotations or {"a": "1"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "web", "image": image,
                    "ports": [{"containerPort": 80, "name": "http"}],
                    "env": [{"name": "MODE", "value": "prod"}],
                }]},
            },
        },
    }


def entries(obj: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """managedFields by (manager, operation, subresource)."""
    return {(e.get("manager", ""), e["operation"], e.get("subresource", "")): e
            for e in obj["metadata"].get("managedFields") or []}


@pytest.fixture(scope="module")
def api(sqlite_server: ApiServer) -> Iterator[k8s.ApiClient]:
    client = k8s_config.new_client_from_config(config_file=str(sqlite_server.kubeconfig))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def ns(api: k8s.ApiClient, request: pytest.FixtureRequest) -> str:
    """A fresh namespace per test (and per kubectl), named after the test."""
    test = request.node.originalname.removeprefix("test_").replace("_", "-")[:40].strip("-")
    name = f"{test}-{next(_NAMESPACES)}"
    k8s.CoreV1Api(api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    return name


@pytest.fixture
def resources(api: k8s.ApiClient) -> dynamic.DynamicClient:
    return dynamic.DynamicClient(api)


def kubectl_named_kubectl(version: str, server: ApiServer, tmp: Path) -> Kubectl:
    """The given kubectl, run as `kubectl` (its User-Agent names the field manager)."""
    link = tmp / "bin" / "kubectl"
    link.parent.mkdir(exist_ok=True)
    link.symlink_to(KUBECTL_DIR / version)
    return Kubectl(str(link), server, tmp)


@pytest.fixture(params=OLDEST_AND_NEWEST)
def kubectl(request: pytest.FixtureRequest, sqlite_server: ApiServer, tmp_path: Path
            ) -> Kubectl:
    return kubectl_named_kubectl(request.param, sqlite_server, tmp_path)


def write(k: Kubectl, obj: dict[str, Any], name: str = "manifest.json") -> str:
    path = k.tmp / name
    path.write_text(json.dumps(obj))
    return str(path)


# -- managedFields of ordinary writes ------------------------------------------------


def test_writes_record_update_entries_named_after_the_user_agent(
        kubectl: Kubectl, api: k8s.ApiClient, ns: str) -> None:
    k = kubectl
    k("create", "configmap", "cfg", "-n", ns, "--from-literal=a=1")
    k("label", "configmap", "cfg", "-n", ns, "team=x")
    core = k8s.CoreV1Api(api)
    core.patch_namespaced_config_map("cfg", ns, {"data": {"b": "2"}}, field_manager="tool")
    cm = k.json("get", "configmap", "cfg", "-n", ns, "--show-managed-fields")
    found = entries(cm)
    assert set(found) == {("kubectl-create", "Update", ""), ("kubectl-label", "Update", ""),
                          ("tool", "Update", "")}
    assert found[("kubectl-label", "Update", "")]["fieldsV1"] == {
        "f:metadata": {"f:labels": {".": {}, "f:team": {}}}}
    assert found[("tool", "Update", "")]["fieldsV1"] == {"f:data": {"f:b": {}}}
    assert found[("kubectl-create", "Update", "")]["apiVersion"] == "v1"
    assert "managedFields" not in k.json("get", "configmap", "cfg", "-n", ns)["metadata"]
    assert "managedFields" not in k("get", "configmap", "cfg", "-n", ns, "-o", "yaml")


def test_status_writes_record_the_status_subresource(
        api: k8s.ApiClient, resources: dynamic.DynamicClient, ns: str) -> None:
    deployments = resources.resources.get(api_version="apps/v1", kind="Deployment")
    deployments.create(body=deployment(ns), namespace=ns)
    k8s.AppsV1Api(api).patch_namespaced_deployment_status(
        "web", ns, {"status": {"observedGeneration": 1, "replicas": 2}})
    found = entries(deployments.get(name="web", namespace=ns).to_dict())
    status = found[("OpenAPI-Generator", "Update", "status")]
    assert status["fieldsV1"] == {"f:status": {"f:observedGeneration": {}, "f:replicas": {}}}
    create = found[("OpenAPI-Generator", "Update", "")]
    assert "f:status" not in create["fieldsV1"] and "f:spec" in create["fieldsV1"]


# -- apply through kubectl -----------------------------------------------------------


def test_apply_creates_then_merges_lists_by_key(kubectl: Kubectl, ns: str) -> None:
    k = kubectl
    out = k("apply", "--server-side", "-f", write(k, deployment(ns)))
    assert "deployment.apps/web serverside-applied" in out
    dep = k.json("get", "deploy", "web", "-n", ns, "--show-managed-fields")
    assert set(entries(dep)) == {("kubectl", "Apply", "")}
    sidecar = deployment(ns)
    sidecar["metadata"].pop("annotations")
    del sidecar["spec"]["replicas"]
    container = sidecar["spec"]["template"]["spec"]["containers"][0]
    container.pop("image")
    container["ports"] = [{"containerPort": 9090, "name": "metrics"}]
    container["env"] = [{"name": "TRACE", "value": "on"}]
    sidecar["spec"]["template"]["spec"]["containers"].append({"name": "proxy", "image": "envoy"})
    k("apply", "--server-side", "--field-manager=mesh", "-f", write(k, sidecar, "mesh.json"))
    k("apply", "--server-side", "-f", write(k, deployment(ns, image="nginx:1.28")))
    spec = k.json("get", "deploy", "web", "-n", ns)["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["containers"]] == ["web", "proxy"]
    web = spec["containers"][0]
    assert web["image"] == "nginx:1.28"
    assert [p["containerPort"] for p in web["ports"]] == [80, 9090]
    assert [e["name"] for e in web["env"]] == ["MODE", "TRACE"]


def test_fields_the_applier_stops_sending_are_removed_unless_co_owned(
        kubectl: Kubectl, ns: str) -> None:
    k = kubectl
    k("apply", "--server-side", "-f",
      write(k, deployment(ns, annotations={"a": "1", "b": "2", "shared": "s"})))
    other = {"apiVersion": "apps/v1", "kind": "Deployment",
             "metadata": {"name": "web", "namespace": ns, "annotations": {"shared": "s"}}}
    k("apply", "--server-side", "--field-manager=other", "-f", write(k, other, "other.json"))
    k("apply", "--server-side", "-f", write(k, deployment(ns, annotations={"a": "1"})))
    annotations = k.json("get", "deploy", "web", "-n", ns)["metadata"]["annotations"]
    assert annotations == {"a": "1", "shared": "s"}


def test_apply_after_scale_conflicts_until_forced(kubectl: Kubectl, ns: str) -> None:
    k = kubectl
    manifest = write(k, deployment(ns))
    k("apply", "--server-side", "-f", manifest)
    k("scale", "deployment", "web", "-n", ns, "--replicas=5")
    manifest = write(k, deployment(ns, image="nginx:1.28"))
    refused = k.run("apply", "--server-side", "-f", manifest, check=False)
    assert refused.returncode == 1 and SCALE_CONFLICT in refused.stderr, refused.stderr
    assert k("get", "deploy", "web", "-n", ns, "-o", "jsonpath={.spec.replicas}") == "5"
    k("apply", "--server-side", "--force-conflicts", "-f", manifest)
    dep = k.json("get", "deploy", "web", "-n", ns, "--show-managed-fields")
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"
    assert ("kubectl", "Update", "scale") not in entries(dep)


def test_client_side_apply_upgrades_to_server_side_and_back(kubectl: Kubectl, ns: str) -> None:
    k = kubectl
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": ns},
          "data": {"a": "1", "b": "2"}}
    k("apply", "-f", write(k, cm))
    assert set(entries(k.json("get", "cm", "cfg", "-n", ns, "--show-managed-fields"))) == {
        ("kubectl-client-side-apply", "Update", "")}
    cm["data"] = {"a": "1", "b": "3"}
    assert "serverside-applied" in k("apply", "--server-side", "-f", write(k, cm))
    live = k.json("get", "cm", "cfg", "-n", ns, "--show-managed-fields")
    assert live["data"] == {"a": "1", "b": "3"}
    assert ("kubectl", "Apply", "") in entries(live)
    cm["data"] = {"a": "1", "c": "4"}
    assert "configmap/cfg configured" in k("apply", "-f", write(k, cm))
    assert k.json("get", "cm", "cfg", "-n", ns)["data"] == {"a": "1", "c": "4"}


def test_dry_run_apply_changes_nothing(kubectl: Kubectl, ns: str) -> None:
    k = kubectl
    out = k("apply", "--server-side", "--dry-run=server", "-f", write(k, deployment(ns)))
    assert "serverside-applied (server dry run)" in out
    assert k.run("get", "deploy", "web", "-n", ns, check=False).returncode == 1


# -- apply through the official Python client ----------------------------------------


def test_python_client_applies_with_conflicts_and_force(
        resources: dynamic.DynamicClient, ns: str) -> None:
    deployments = resources.resources.get(api_version="apps/v1", kind="Deployment")
    created = deployments.server_side_apply(body=deployment(ns), namespace=ns,
                                            field_manager="ci")
    assert created.spec.replicas == 2
    with pytest.raises(ConflictError) as refused:
        deployments.server_side_apply(body=deployment(ns, replicas=3), namespace=ns,
                                      field_manager="hpa")
    status = json.loads(refused.value.body)
    assert status["reason"] == "Conflict" and status["code"] == 409
    assert status["message"] == ('Apply failed with 1 conflict: conflict with "ci": '
                                 '.spec.replicas')
    assert status["details"]["causes"] == [{"reason": "FieldManagerConflict",
                                            "message": 'conflict with "ci"',
                                            "field": ".spec.replicas"}]
    forced = deployments.server_side_apply(
        body={"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "web", "namespace": ns}, "spec": {"replicas": 3}},
        namespace=ns, field_manager="hpa", force_conflicts=True)
    assert forced.spec.replicas == 3
    owners = entries(forced.to_dict())
    assert "f:replicas" in owners[("hpa", "Apply", "")]["fieldsV1"]["f:spec"]
    assert "f:replicas" not in owners[("ci", "Apply", "")]["fieldsV1"]["f:spec"]


def test_python_client_status_apply_and_option_errors(
        api: k8s.ApiClient, resources: dynamic.DynamicClient, ns: str) -> None:
    deployments = resources.resources.get(api_version="apps/v1", kind="Deployment")
    deployments.server_side_apply(body=deployment(ns), namespace=ns, field_manager="ci")
    status = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "web", "namespace": ns}, "status": {"replicas": 2}}
    resources.request("patch", f"/apis/apps/v1/namespaces/{ns}/deployments/web/status",
                      body=status, content_type="application/apply-patch+yaml",
                      field_manager="controller")
    live = deployments.get(name="web", namespace=ns).to_dict()
    assert live["status"]["replicas"] == 2
    assert entries(live)[("controller", "Apply", "status")]["fieldsV1"] == {
        "f:status": {"f:replicas": {}}}
    apps = k8s.AppsV1Api(api)
    with pytest.raises(ApiException) as missing:
        apps.patch_namespaced_deployment("web", ns, deployment(ns),
                                         _content_type="application/apply-patch+yaml")
    assert missing.value.status == 422
    assert json.loads(missing.value.body)["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required '
        'for apply patch')
    wrong = {**deployment(ns), "apiVersion": "apps/v1beta1"}
    with pytest.raises(ApiException) as bad_version:
        apps.patch_namespaced_deployment("web", ns, wrong, field_manager="ci",
                                         _content_type="application/apply-patch+yaml")
    assert bad_version.value.status == 400
    assert json.loads(bad_version.value.body)["message"] == (
        "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, "
        "expected: apps/v1")


def test_first_apply_to_an_unowned_object_conflicts_with_before_first_apply(
        resources: dynamic.DynamicClient, ns: str) -> None:
    configmaps = resources.resources.get(api_version="v1", kind="ConfigMap")
    configmaps.create(body={"metadata": {"name": "cfg"}, "data": {"a": "1"}}, namespace=ns)
    configmaps.patch(name="cfg", namespace=ns, content_type="application/json-patch+json",
                     body=[{"op": "replace", "path": "/metadata/managedFields", "value": [{}]}])
    assert not configmaps.get(name="cfg", namespace=ns).metadata.managedFields
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
            "data": {"a": "2"}}
    with pytest.raises(ConflictError) as refused:
        configmaps.server_side_apply(body=body, namespace=ns, field_manager="ci")
    assert json.loads(refused.value.body)["message"] == (
        'Apply failed with 1 conflict: conflict with "before-first-apply" using v1: .data.a')


def test_kubectl_hides_managed_fields_it_is_served(kubectl: Kubectl, ns: str) -> None:
    k = kubectl
    k("apply", "--server-side", "-f", write(k, deployment(ns)))
    raw = subprocess.run([k.binary, "get", "--raw", f"/apis/apps/v1/namespaces/{ns}/"
                          "deployments/web"], capture_output=True, text=True, env=k.env,
                         check=True).stdout
    assert json.loads(raw)["metadata"]["managedFields"][0]["manager"] == "kubectl"
    assert "managedFields" not in k("get", "deploy", "web", "-n", ns, "-o", "yaml")
    shown = k("get", "deploy", "web", "-n", ns, "-o", "yaml", "--show-managed-fields")
    assert "manager: kubectl\n" in shown and "operation: Apply" in shown
