"""The ServiceAccount admission plugin (--enable-admission-plugins ServiceAccount):
pods run as an account that exists, `default` when they name none."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.apiserver import ApiServer, started
from tests.support.kubectl import Kubectl


@pytest.fixture(scope="module")
def admitting_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with started(ApiServer(tmp_path_factory.mktemp("apiserver"),
                           extra_args=("--enable-admission-plugins", "ServiceAccount"))) as server:
        yield server


@pytest.fixture
def kubectl(admitting_server: ApiServer, tmp_path: Path) -> Kubectl:
    return Kubectl("kubectl", admitting_server, tmp_path)


def test_pod_without_a_default_account_is_refused_as_kubernetes_words_it(
        kubectl: Kubectl) -> None:
    kubectl("create", "namespace", "bare")
    refused = kubectl.run("run", "p", "-n", "bare", "--image", "busybox", check=False)
    assert refused.returncode != 0
    assert ('Error from server (Forbidden): pods "p" is forbidden: error looking up service '
            'account bare/default: serviceaccount "default" not found') in refused.stderr
    # a generated name is not made yet: admission.NewForbidden names the prefix
    generated = kubectl.run("create", "-n", "bare", "-f", "-", check=False, stdin=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    assert 'pods "web-" is forbidden: error looking up service account bare/default' in \
        generated.stderr


def test_pod_runs_as_default_once_it_exists(kubectl: Kubectl) -> None:
    kubectl("create", "namespace", "ready")
    kubectl("create", "serviceaccount", "default", "-n", "ready")
    kubectl("run", "p", "-n", "ready", "--image", "busybox")
    assert kubectl.json("get", "pod", "p", "-n", "ready")["spec"]["serviceAccountName"] == \
        "default"


def test_pod_naming_a_missing_account_is_refused(kubectl: Kubectl) -> None:
    overrides = json.dumps({"spec": {"serviceAccountName": "ghost"}})
    refused = kubectl.run("run", "haunted", "--image", "busybox", f"--overrides={overrides}",
                          check=False)
    assert ('pods "haunted" is forbidden: error looking up service account default/ghost: '
            'serviceaccount "ghost" not found') in refused.stderr


TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def _create_pod(kubectl: Kubectl, tmp_path: Path, name: str, spec: dict) -> dict:
    manifest = tmp_path / f"{name}.json"
    manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "Pod",
                                    "metadata": {"name": name}, "spec": spec}))
    kubectl("create", "-f", str(manifest))
    return kubectl.json("get", "pod", name)


def _container(name: str, **extra: object) -> dict:
    return {"name": name, "image": "busybox", **extra}


def test_pods_get_the_kube_api_access_volume_in_every_container(
        kubectl: Kubectl, tmp_path: Path) -> None:
    kubectl("create", "serviceaccount", "default", check=False)
    pod = _create_pod(kubectl, tmp_path, "mounted", {
        "initContainers": [_container("init")],
        "containers": [_container("a"), _container("b")]})
    volumes = pod["spec"]["volumes"]
    assert len(volumes) == 1
    name = volumes[0]["name"]
    assert name.startswith("kube-api-access-") and len(name) == len("kube-api-access-") + 5
    assert volumes[0]["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt",
                       "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}
    for container in pod["spec"]["initContainers"] + pod["spec"]["containers"]:
        assert container["volumeMounts"] == [{"name": name, "readOnly": True,
                                              "mountPath": TOKEN_PATH}]


def test_automount_false_on_the_pod_or_the_account_mounts_nothing(
        kubectl: Kubectl, tmp_path: Path) -> None:
    kubectl("create", "serviceaccount", "default", check=False)
    pod = _create_pod(kubectl, tmp_path, "unmounted", {
        "automountServiceAccountToken": False, "containers": [_container("a")]})
    assert not pod["spec"].get("volumes")
    assert not pod["spec"]["containers"][0].get("volumeMounts")

    (tmp_path / "sa.json").write_text(json.dumps({
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "quiet"},
        "automountServiceAccountToken": False,
        "imagePullSecrets": [{"name": "registry-key"}]}))
    kubectl("create", "-f", str(tmp_path / "sa.json"))
    pod = _create_pod(kubectl, tmp_path, "quiet", {
        "serviceAccountName": "quiet", "containers": [_container("a")]})
    assert not pod["spec"].get("volumes")
    assert pod["spec"]["imagePullSecrets"] == [{"name": "registry-key"}]

    pod = _create_pod(kubectl, tmp_path, "loud", {
        "serviceAccountName": "quiet", "automountServiceAccountToken": True,
        "containers": [_container("a")]})
    assert pod["spec"]["volumes"][0]["name"].startswith("kube-api-access-")


def test_a_container_with_its_own_mount_at_the_token_path_keeps_it(
        kubectl: Kubectl, tmp_path: Path) -> None:
    kubectl("create", "serviceaccount", "default", check=False)
    own = {"name": "mine", "mountPath": TOKEN_PATH}
    pod = _create_pod(kubectl, tmp_path, "own-mount", {
        "volumes": [{"name": "mine", "emptyDir": {}}],
        "containers": [_container("a", volumeMounts=[own]), _container("b")]})
    names = [v["name"] for v in pod["spec"]["volumes"]]
    assert names[0] == "mine" and names[1].startswith("kube-api-access-")
    assert pod["spec"]["containers"][0]["volumeMounts"] == [own]
    assert pod["spec"]["containers"][1]["volumeMounts"][0]["name"] == names[1]

    pod = _create_pod(kubectl, tmp_path, "all-own", {
        "volumes": [{"name": "mine", "emptyDir": {}}],
        "containers": [_container("a", volumeMounts=[own])]})
    assert [v["name"] for v in pod["spec"]["volumes"]] == ["mine"]
