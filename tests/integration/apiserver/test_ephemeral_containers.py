"""Ephemeral containers through the pods/ephemeralcontainers subresource, as `kubectl
debug` (oldest and newest) adds them, with kube's refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.apiserver import ApiServer
from tests.support.http import Http
from tests.support.kubectl import KUBECTLS, Kubectl

SMP = "application/strategic-merge-patch+json"


@pytest.fixture(params=[KUBECTLS[0], KUBECTLS[-1]])
def kubectl(request: pytest.FixtureRequest, sqlite_server: ApiServer, tmp_path: Path
            ) -> Kubectl:
    return Kubectl(request.param, sqlite_server, tmp_path)


def _pod(name: str) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                       "spec": {"nodeName": "nowhere",
                                "containers": [{"name": "app", "image": "busybox"}]}})


def test_kubectl_debug_adds_an_ephemeral_container(kubectl: Kubectl) -> None:
    name = f"debugged-{kubectl.tag}"
    kubectl("apply", "-f", "-", stdin=_pod(name))
    kubectl("debug", name, "--image=busybox:debug", "-c", "dbg", "--target=app", "--",
            "sh", "-c", "echo hi")
    pod = kubectl.json("get", "pod", name)
    (debug,) = pod["spec"]["ephemeralContainers"]
    assert (debug["name"], debug["image"], debug["targetContainerName"]) == \
        ("dbg", "busybox:debug", "app")
    assert debug["command"] == ["sh", "-c", "echo hi"]
    assert debug["terminationMessagePolicy"] == "File"  # defaulted as any container
    # a second one is added beside it; the first is kept as it was
    kubectl("debug", name, "--image=busybox", "-c", "dbg2")
    names = [c["name"] for c in kubectl.json("get", "pod", name)["spec"][
        "ephemeralContainers"]]
    assert names == ["dbg", "dbg2"]


def test_refusals_have_kubes_words(sqlite_server: ApiServer, kubectl: Kubectl) -> None:
    name = f"strict-{kubectl.tag}"
    kubectl("apply", "-f", "-", stdin=_pod(name))
    http = Http(sqlite_server)
    path = f"/api/v1/namespaces/default/pods/{name}/ephemeralcontainers"
    ephemeral = {"name": "dbg", "image": "busybox", "ports": [{"containerPort": 80}],
                 "targetContainerName": "ghost"}
    refused = http("PATCH", path, {"spec": {"ephemeralContainers": [ephemeral]}},
                   content_type=SMP)
    assert refused.status_code == 422
    causes = {(c["field"], c["message"]) for c in refused.json()["details"]["causes"]}
    assert ("spec.ephemeralContainers[0].ports",
            "Forbidden: cannot be set for an Ephemeral Container") in causes
    assert ("spec.ephemeralContainers[0].targetContainerName",
            'Not found: "ghost"') in causes
    ok = {"name": "dbg", "image": "busybox"}
    assert http("PATCH", path, {"spec": {"ephemeralContainers": [ok]}},
                content_type=SMP).status_code == 200
    # the main resource may not add or change them; the subresource may not remove them
    pod = http("GET", f"/api/v1/namespaces/default/pods/{name}").json()
    pod["spec"]["ephemeralContainers"].append({"name": "sneaky", "image": "busybox"})
    changed = http("PUT", f"/api/v1/namespaces/default/pods/{name}", pod)
    assert changed.status_code == 422
    assert "pod updates may not change fields" in changed.json()["message"]
    pod = http("GET", path).json()
    pod["spec"]["ephemeralContainers"] = []
    removed = http("PUT", path, pod)
    assert removed.status_code == 422
    assert 'existing ephemeral containers "dbg" may not be removed' in removed.json()["message"]
