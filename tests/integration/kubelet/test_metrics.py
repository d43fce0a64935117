"""`kubectl top`: a real kubelet's /stats/summary and /metrics/resource, read by the API
server's built-in metrics.k8s.io (process runtime with a busy pod; fake runtime too)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import orjson
import pytest

from tests.integration.kubelet.conftest import (
    IS_ROOT,
    free_pod_cidr,
    make_pod,
    node_ready,
    shared_kubelet,
)
from tests.integration.kubelet.test_kubelet_api import _get, _running, _ssl
from tests.support.kubectl import KUBECTLS, Kubectl
from tests.support.poll import wait_for

BUSY = ["sh", "-c", "while :; do :; done"]
# the oldest and the newest kubectl
VERSIONS = [KUBECTLS[0], KUBECTLS[-1]] if len(KUBECTLS) > 1 else KUBECTLS


@pytest.fixture(scope="module")
def node(module_api, module_core, tmp_path_factory):
    args = ("--pod-cidr", free_pod_cidr()) if IS_ROOT else ()
    with shared_kubelet(module_api, module_core, tmp_path_factory.mktemp("node"), "process",
                        *args) as kubelet:
        yield kubelet


@pytest.fixture
def apiserver(module_api):
    return module_api


def _cpu_millis(text: str) -> float:
    return float(text[:-1]) if text.endswith("m") else float(text) * 1000


def _top_row(kubectl: Kubectl, ns: str, pod: str, container: str) -> list[str] | None:
    out = kubectl.run("top", "pods", "--containers", "-n", ns, check=False)
    for line in out.stdout.splitlines():
        cells = line.split()
        if cells[:2] == [pod, container] and _cpu_millis(cells[2]) > 0:
            return cells
    return None


@pytest.mark.parametrize("version", VERSIONS)
def test_kubectl_top_shows_a_busy_pod_and_the_node(module_core, node, ns, tmp_path: Path,
                                                   apiserver, version: str) -> None:
    module_core.create_namespaced_pod(ns, make_pod("busy", [
        {"name": "spin", "image": "busybox", "command": BUSY}]))
    wait_for(lambda: _running(module_core, ns, "busy"), within=30, what="Running")
    kubectl = Kubectl(version, apiserver, tmp_path)
    row = wait_for(lambda: _top_row(kubectl, ns, "busy", "spin"), within=45, interval=1,
                   what="kubectl top pods --containers shows busy/spin with CPU")
    assert _cpu_millis(row[2]) >= 50  # a spinning shell burns most of a core
    assert re.fullmatch(r"\d+Mi", row[3])
    nodes = kubectl("top", "nodes")
    assert re.search(r"^node-1\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%", nodes, re.M), nodes
    metrics = orjson.loads(kubectl(
        "get", "--raw", f"/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods/busy"))
    assert metrics["kind"] == "PodMetrics" and metrics["window"] == "10s"
    assert [c["name"] for c in metrics["containers"]] == ["spin"]
    assert re.fullmatch(r"\d+(n|m|)", metrics["containers"][0]["usage"]["cpu"])
    assert re.fullmatch(r"\d+(Ki|Mi)", metrics["containers"][0]["usage"]["memory"])


def test_the_kubelet_serves_summary_and_resource_metrics(apiserver, module_core, node,
                                                         ns) -> None:
    module_core.create_namespaced_pod(ns, make_pod("idle", [
        {"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]))
    wait_for(lambda: _running(module_core, ns, "idle"), within=30, what="Running")
    base, ctx = f"https://127.0.0.1:{node.port}", _ssl(apiserver)
    status, body = asyncio.run(_get(f"{base}/stats/summary", ctx))
    assert status == 200, body
    summary = orjson.loads(body)
    assert summary["node"]["nodeName"] == "node-1"
    assert summary["node"]["cpu"]["usageCoreNanoSeconds"] > 0
    assert summary["node"]["memory"]["workingSetBytes"] > 0
    pods = {p["podRef"]["name"]: p for p in summary["pods"] if p["podRef"]["namespace"] == ns}
    container = pods["idle"]["containers"][0]
    assert container["name"] == "c" and container["memory"]["workingSetBytes"] > 0
    assert "usageNanoCores" in container["cpu"]
    status, text = asyncio.run(_get(f"{base}/metrics/resource", ctx))
    assert status == 200
    assert "# TYPE node_cpu_usage_seconds_total counter" in text
    assert re.search(rf'^container_memory_working_set_bytes{{container="c",namespace="{ns}",'
                     r'pod="idle"} \d+ \d+$', text, re.M), text
    assert re.search(rf'^pod_cpu_usage_seconds_total{{namespace="{ns}",pod="idle"}} ', text,
                     re.M)


def test_a_fake_runtime_kubelet_reports_synthetic_usage(apiserver, module_core, node, ns,
                                                        start_kubelet, tmp_path: Path) -> None:
    start_kubelet("fake", name="fake-1").wait_serving()
    wait_for(lambda: node_ready(module_core, "fake-1"), within=30, what="fake-1 Ready")
    module_core.create_namespaced_pod(ns, make_pod("f", [
        {"name": "a", "image": "x"}, {"name": "b", "image": "x"}], node="fake-1"))
    wait_for(lambda: _running(module_core, ns, "f"), within=30, what="Running")
    kubectl = Kubectl(VERSIONS[-1], apiserver, tmp_path)

    def rows() -> list[str]:
        out = kubectl.run("top", "pods", "--containers", "-n", ns, check=False).stdout
        return [line for line in out.splitlines() if line.startswith("f ")]

    assert len(wait_for(lambda: len(rows()) == 2 and rows(), within=45, interval=1,
                        what="both fake containers in kubectl top")) == 2
    assert "fake-1" in kubectl("top", "nodes", "fake-1")


def test_unknown_and_unwatchable(apiserver, node, tmp_path: Path) -> None:
    kubectl = Kubectl(VERSIONS[-1], apiserver, tmp_path)
    missing = kubectl.run("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes/nope",
                          check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr + missing.stdout
    watch = kubectl.run("get", "--raw", "/apis/metrics.k8s.io/v1beta1/pods?watch=true",
                        check=False)
    assert watch.returncode != 0
