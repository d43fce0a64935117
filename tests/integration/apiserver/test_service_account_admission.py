"""The ServiceAccount admission plugin (--enable-admission-plugins ServiceAccount):
pods run as an account that exists, `default` when they name none."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.apiserver import ApiServer
from tests.support.kubectl import Kubectl


@pytest.fixture(scope="module")
def admitting_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    server = ApiServer(tmp_path_factory.mktemp("apiserver"),
                       extra_args=("--enable-admission-plugins", "ServiceAccount")).start()
    try:
        yield server
    finally:
        server.stop()


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
