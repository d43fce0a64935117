"""The dashboard in a real browser against a 2-node fake-runtime cluster (issue 17):
login, the live map, scaling, the YAML editor's API errors, RBAC, a node going
NotReady. Every page must end without console errors or requests to another host."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import admin_url, dashboard_base
from tests.support.cluster import KybCluster, joined_node
from tests.support.poll import wait_for

RC = """
apiVersion: v1
kind: ReplicationController
metadata: {name: web, namespace: default}
spec:
  replicas: 3
  selector: {app: web}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: busybox, command: [sleep, "3600"]}]
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KybCluster]:
    # per-node networks as root (no clash with another host-network cluster's addresses)
    c = KybCluster(tmp_path_factory.mktemp("dash"), dashboard=True)
    try:
        # a shorter grace period (kubelets renew their Lease every 10 s), so a stopped
        # kubelet's node is NotReady within half a minute
        c.up("--nodes", "2", "--runtime", "fake",
             "--controller-manager-arg=--node-monitor-grace-period=20s")
        result = c.kubectl_run("apply", "-f", "-", stdin=RC)
        assert result.returncode == 0, result.stderr
        yield c
    finally:
        c.down()


@pytest.fixture(scope="module")
def base(cluster: KybCluster) -> str:
    return dashboard_base(cluster)


def logged_in(page_for: Any, cluster: KybCluster, hash_: str = "#/") -> Any:
    url = admin_url(cluster)
    watched = page_for(url)
    watched.page.goto(url)
    watched.page.wait_for_selector("[data-user]:not(:empty)", timeout=15000)
    if hash_ != "#/":
        watched.page.evaluate(f"location.hash = {json.dumps(hash_)}")
    return watched


def running_pods(cluster: KybCluster, selector: str) -> list[str]:
    out = cluster.kubectl("get", "pods", "-l", selector, "-o",
                          "jsonpath={range .items[*]}{.metadata.name} {.status.phase}{'\\n'}{end}")
    return [line.split()[0] for line in out.splitlines() if line.endswith(" Running")]


def test_without_a_token_the_page_shows_a_login_form_and_the_backend_answers_401(
        base: str, page_for: Any) -> None:
    watched = page_for(base)
    watched.page.goto(base)
    watched.page.wait_for_selector("form[data-login] input[name=token]")
    assert watched.page.locator("[data-node], [data-pod]").count() == 0
    for path in ("api/k8s/api/v1/pods", "api/events?path=/api/v1/pods", "api/anything"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base + path, timeout=10)
        assert refused.value.code == 401
        assert json.loads(refused.value.read())["reason"] == "Unauthorized"
    # a wrong token is refused by the API server and the form says so
    watched.page.fill("input[name=token]", "not-a-token")
    watched.page.click("form[data-login] button[type=submit]")
    watched.page.wait_for_selector("[data-login-error]")
    # the browser logs a failed fetch's 401 as a console error; that one is expected
    watched.console_errors[:] = [e for e in watched.console_errors if "401" not in e]


def test_the_admin_url_logs_in_and_leaves_no_token_in_the_address(
        cluster: KybCluster, page_for: Any) -> None:
    watched = logged_in(page_for, cluster)
    user = watched.page.text_content("[data-user]")
    assert user == "system:serviceaccount:kube-system:kyb-dashboard-admin"
    assert "token" not in watched.page.url
    # the same token opens the server-sent events stream: the whole list first
    token = admin_url(cluster).split("#token=", 1)[1]
    request = urllib.request.Request(dashboard_base(cluster) + "api/events?path=/api/v1/nodes",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        assert stream.readline() == b"event: sync\n"
        listed = json.loads(stream.readline().removeprefix(b"data: "))
    assert listed["kind"] == "NodeList" and len(listed["items"]) >= 2
    assert all("managedFields" not in n["metadata"] for n in listed["items"])


def test_the_map_nests_each_pod_in_its_node_with_its_phase(
        cluster: KybCluster, page_for: Any) -> None:
    wait_for(lambda: len(running_pods(cluster, "app=web")) == 3, within=60,
             what="the RC's 3 pods Running")
    where = dict(
        line.split() for line in cluster.kubectl(
            "get", "pods", "-l", "app=web", "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName}{'\\n'}{end}"
        ).splitlines())
    watched = logged_in(page_for, cluster)
    page = watched.page
    page.wait_for_selector('[data-node="kyb-node-1"][data-ready="true"]')
    page.wait_for_selector('[data-node="kyb-node-2"][data-ready="true"]')
    for pod, node in where.items():
        page.wait_for_selector(
            f'[data-node="{node}"] [data-pod="default/{pod}"][data-phase="Running"]',
            timeout=5000)
    # a pod no node fits waits apart, Pending
    cluster.kubectl_run("run", "nowhere", "--image=busybox", "--restart=Never",
                        "--overrides", json.dumps({"spec": {"nodeSelector": {"no": "such"}}}),
                        "--command", "--", "sleep", "1")
    try:
        page.wait_for_selector('[data-unscheduled] [data-pod="default/nowhere"]'
                               '[data-phase="Pending"]', timeout=5000)
        assert page.locator('[data-node] [data-pod="default/nowhere"]').count() == 0
    finally:
        cluster.kubectl("delete", "pod", "nowhere", "--wait=false")


def test_a_pod_created_or_deleted_with_kubectl_shows_within_2s(
        cluster: KybCluster, page_for: Any) -> None:
    watched = logged_in(page_for, cluster)
    page = watched.page
    page.wait_for_selector("[data-node]")
    cluster.kubectl("run", "live-one", "--image=busybox", "--restart=Never", "--command",
                    "--", "sleep", "3600")
    page.wait_for_selector('[data-pod="default/live-one"]', timeout=2000)
    wait_for(lambda: cluster.kubectl("get", "pod", "live-one", "-o",
                                     "jsonpath={.status.phase}") == "Running",
             within=30, what="live-one Running")
    page.wait_for_selector('[data-node] [data-pod="default/live-one"][data-phase="Running"]',
                           timeout=2000)
    cluster.kubectl("delete", "pod", "live-one")  # returns once the pod is gone
    page.wait_for_selector('[data-pod="default/live-one"]', state="detached", timeout=2000)


def test_scaling_from_the_workload_list(cluster: KybCluster, page_for: Any) -> None:
    watched = logged_in(page_for, cluster, "#/workloads")
    page = watched.page
    scale = page.locator('[data-workload="ReplicationController/default/web"] [data-scale]')
    scale.wait_for()
    assert scale.input_value() == "3"
    assert scale.is_enabled()
    scale.fill("5")
    scale.press("Enter")
    wait_for(lambda: cluster.kubectl("get", "rc", "web", "-o",
                                     "jsonpath={.spec.replicas}") == "5",
             within=10, what="the RC scaled to 5")
    page.evaluate("location.hash = '#/'")
    wait_for(lambda: page.locator('[data-node] [data-pod^="default/web-"]').count() == 5,
             within=30, what="5 web pods on the map")
    cluster.kubectl("scale", "rc", "web", "--replicas=3")


def test_a_refused_yaml_save_shows_the_apis_own_422_message(
        cluster: KybCluster, page_for: Any) -> None:
    watched = logged_in(page_for, cluster, "#/edit/ReplicationController/default/web")
    page = watched.page
    editor = page.locator("[data-yaml]")
    wait_for(lambda: "kind: ReplicationController" in editor.input_value(), within=10,
             what="the RC's YAML")
    text = editor.input_value()
    editor.fill(text.replace("\n  replicas: 3\n", "\n  replicas: -1\n", 1))
    page.click("[data-save]")
    error = page.locator("[data-error]")
    wait_for(lambda: error.text_content(), within=10, what="the error message")
    watched.console_errors[:] = [e for e in watched.console_errors if "422" not in e]
    assert error.text_content() == ('ReplicationController "web" is invalid: spec.replicas: '
                                    "Invalid value: -1: must be greater than or equal to 0")
    assert cluster.kubectl("get", "rc", "web", "-o", "jsonpath={.spec.replicas}") == "3"


def test_a_view_only_user_cannot_scale_and_a_forced_scale_shows_forbidden(
        cluster: KybCluster, base: str, page_for: Any) -> None:
    cluster.kubectl("create", "serviceaccount", "viewer")
    cluster.kubectl("create", "rolebinding", "viewer-view", "--clusterrole=view",
                    "--serviceaccount=default:viewer")
    token = cluster.kubectl("create", "token", "viewer").strip()
    watched = page_for(base)
    page = watched.page
    page.goto(base)
    page.fill("input[name=token]", token)
    page.click("form[data-login] button[type=submit]")
    page.wait_for_selector("[data-user]:not(:empty)")
    # the viewer cannot list namespaces: it types its own
    page.fill("input[data-namespace]", "default")
    page.press("input[data-namespace]", "Enter")
    page.evaluate("location.hash = '#/workloads'")
    scale = page.locator('[data-workload="ReplicationController/default/web"] [data-scale]')
    scale.wait_for()
    wait_for(lambda: scale.is_disabled(), within=10, what="the scale control disabled")
    # forced anyway: the API's Forbidden message is shown, nothing changes
    scale.evaluate("el => { el.disabled = false; }")
    scale.fill("7")
    scale.press("Enter")
    message = page.locator('[data-message][data-message-error="true"]')
    message.wait_for(timeout=10000)
    # the browser logs the refused request itself; that one is expected
    watched.console_errors[:] = [e for e in watched.console_errors if "403" not in e]
    assert message.text_content().startswith(
        'replicationcontrollers "web" is forbidden: User "system:serviceaccount:default:viewer"'
        ' cannot patch resource "replicationcontrollers/scale" in API group "" in the '
        'namespace "default"')
    assert cluster.kubectl("get", "rc", "web", "-o", "jsonpath={.spec.replicas}") == "3"


def test_cordon_services_secrets_and_events(cluster: KybCluster, page_for: Any) -> None:
    cluster.kubectl("expose", "rc", "web", "--name=web", "--port=80", "--target-port=8080")
    cluster.kubectl("create", "secret", "generic", "hidden", "--from-literal=password=s3cret")
    watched = logged_in(page_for, cluster)
    page = watched.page
    node = page.locator('[data-node="kyb-node-2"]')
    node.locator("[data-cordon]").click()
    page.wait_for_selector('[data-node="kyb-node-2"][data-cordoned="true"]', timeout=5000)
    assert cluster.kubectl("get", "node", "kyb-node-2", "-o",
                           "jsonpath={.spec.unschedulable}") == "true"
    node.locator("[data-cordon]").click()
    page.wait_for_selector('[data-node="kyb-node-2"][data-cordoned="false"]', timeout=5000)
    page.evaluate("location.hash = '#/services'")
    endpoints = page.locator('[data-service="default/web"] [data-endpoint]')
    wait_for(lambda: endpoints.count() == 3, within=20, what="the Service's 3 endpoints")
    page.evaluate("location.hash = '#/config'")
    value = page.locator('[data-secret="default/hidden"] [data-secret-value="password"]')
    value.wait_for()
    assert "s3cret" not in value.text_content()
    page.click('[data-secret="default/hidden"] [data-reveal]')
    wait_for(lambda: value.text_content() == "s3cret", within=5, what="the value shown")
    page.evaluate("location.hash = '#/events'")
    page.wait_for_selector('[data-events] [data-event="SuccessfulCreate"]', timeout=10000)


def test_a_node_whose_kubelet_stops_is_marked_not_ready(
        cluster: KybCluster, page_for: Any) -> None:
    watched = logged_in(page_for, cluster)
    page = watched.page
    with joined_node(cluster, 3) as node:
        page.wait_for_selector(f'[data-node="{node.name}"][data-ready="true"]', timeout=60000)
        node.kubelet.kill()  # gone at once: no more Lease renewals nor status
        page.wait_for_selector(f'[data-node="{node.name}"][data-ready="false"]', timeout=60000)
