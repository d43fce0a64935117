"""The batch/v1 Job kind through the real kubectl (1.27 with JSON, the newest with
protobuf): defaults, the generated selector and pod labels, kube's columns and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.apiserver import ApiServer
from tests.support.kubectl import KUBECTLS, Kubectl


@pytest.fixture(params=[k for k in KUBECTLS if k != "kubectl"])
def kubectl(request: pytest.FixtureRequest, sqlite_server: ApiServer, tmp_path: Path
            ) -> Kubectl:
    """The oldest (JSON) and the newest (protobuf for `kubectl create job`) kubectl."""
    return Kubectl(request.param, sqlite_server, tmp_path)


def _namespace(kubectl: Kubectl, base: str) -> str:
    ns = f"{base}-{kubectl.tag}"
    kubectl("create", "namespace", ns)
    return ns


def test_create_job_defaults_selector_and_columns(kubectl: Kubectl) -> None:
    ns = _namespace(kubectl, "jobkind")
    kubectl("create", "job", "hello", "-n", ns, "--image=busybox", "--", "echo", "hi")
    job = kubectl.json("get", "job", "hello", "-n", ns)
    uid, spec = job["metadata"]["uid"], job["spec"]
    assert spec["parallelism"] == 1 and spec["completions"] == 1
    assert spec["backoffLimit"] == 6 and spec["completionMode"] == "NonIndexed"
    assert spec["suspend"] is False and spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "hello",
              "controller-uid": uid, "job-name": "hello"}
    assert spec["template"]["metadata"]["labels"] == labels
    assert job["metadata"]["labels"] == labels
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert spec["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    assert job["metadata"]["generation"] == 1
    head, row = kubectl("get", "jobs", "-n", ns).strip().splitlines()
    assert head.split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert row.split()[:3] == ["hello", "Running", "0/1"]
    wide = kubectl("get", "jobs", "-n", ns, "-o", "wide").splitlines()
    assert wide[0].split()[5:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1].split()[-3:] == ["hello", "busybox",
                                   f"batch.kubernetes.io/controller-uid={uid}"]
    assert "job.batch/hello" in kubectl("get", "all", "-n", ns, "-o", "name")
    assert kubectl("get", "jobs", "-n", ns, "--field-selector", "status.successful=0",
                   "-o", "name").split() == ["job.batch/hello"]


def test_invalid_jobs_are_refused_with_kube_messages(kubectl: Kubectl) -> None:
    ns = _namespace(kubectl, "jobbad")
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "bad", "namespace": ns},
           "spec": {"backoffLimitPerIndex": 1, "template": {"spec": {
               "containers": [{"name": "c", "image": "busybox"}]}}}}
    out = kubectl.run("apply", "-f", "-", stdin=json.dumps(job), check=False)
    assert out.returncode != 0
    assert ('spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", '
            '"Never"') in out.stderr
    assert "spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode" \
        in out.stderr
    kubectl("create", "job", "ok", "-n", ns, "--image=busybox")
    out = kubectl.run("patch", "job", "ok", "-n", ns, "--type=json", "-p", json.dumps([
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "nginx"}]),
        check=False)
    assert out.returncode != 0 and "spec.template: Invalid value" in out.stderr
    assert "field is immutable" in out.stderr
    out = kubectl.run("patch", "job", "ok", "-n", ns, "--type=merge", "-p",
                      '{"spec":{"completions":3}}', check=False)
    assert "spec.completions: Invalid value: 3: field is immutable" in out.stderr
    kubectl("patch", "job", "ok", "-n", ns, "--type=merge", "-p", '{"spec":{"parallelism":0}}')
    assert kubectl.json("get", "job", "ok", "-n", ns)["metadata"]["generation"] == 2


def test_suspended_job_may_change_scheduling_directives(kubectl: Kubectl) -> None:
    ns = _namespace(kubectl, "jobsched")
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "s", "namespace": ns},
           "spec": {"suspend": True, "template": {"spec": {
               "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}
    kubectl("apply", "-f", "-", stdin=json.dumps(job))
    kubectl("patch", "job", "s", "-n", ns, "--type=merge", "-p",
            '{"spec":{"template":{"spec":{"nodeSelector":{"disk":"ssd"}}}}}')
    got = kubectl.json("get", "job", "s", "-n", ns)
    assert got["spec"]["template"]["spec"]["nodeSelector"] == {"disk": "ssd"}


def test_delete_without_propagation_orphans_with_kube_warning(kubectl: Kubectl) -> None:
    ns = _namespace(kubectl, "jobdel")
    kubectl("create", "job", "keep", "-n", ns, "--image=busybox")
    out = kubectl.run("delete", "--raw", f"/apis/batch/v1/namespaces/{ns}/jobs/keep")
    assert "child pods are preserved by default when jobs are deleted; set " \
        "propagationPolicy=Background to remove them or set propagationPolicy=Orphan to " \
        "suppress this warning" in out.stderr
    # No garbage collector runs here: the orphan finalizer holds the Job.
    assert kubectl.json("get", "job", "keep", "-n", ns)["metadata"]["finalizers"] == ["orphan"]
    kubectl("create", "job", "bg", "-n", ns, "--image=busybox")
    out = kubectl.run("delete", "job", "bg", "-n", ns)
    assert "preserved" not in out.stderr
    assert kubectl.run("get", "job", "bg", "-n", ns, check=False).returncode != 0
