"""The horizontalpodautoscaling controller against a real API server and a fake-runtime
kubelet (`kyb kubelet --runtime fake`, pods annotated `fake.kyb.io/cpu` burn that much
CPU, read back through /stats/summary and metrics.k8s.io), with the deployment and
replicaset controllers; `kubectl autoscale` / `get hpa`; validation."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from kybernetes.api import errors
from kybernetes.api.resources import (
    DEPLOYMENTS,
    EVENTS,
    HORIZONTAL_POD_AUTOSCALERS,
    NAMESPACES,
    NODES,
    POD_METRICS,
)
from kybernetes.client import ApiClient
from kybernetes.controllers.manager import Options
from tests.integration.controllers.helpers import running
from tests.support.apiserver import ApiServer, connected
from tests.support.kubectl import KUBECTLS, Kubectl
from tests.support.net import free_port
from tests.support.poll import eventually
from tests.support.procs import Proc

NODE = "hpanode"
_names = itertools.count()
VERSIONS = [KUBECTLS[0], KUBECTLS[-1]] if len(KUBECTLS) > 1 else KUBECTLS
V1_HPA = "horizontalpodautoscalers.v1.autoscaling"  # newer kubectls take hpa.v1... as v2
FAST = Options(horizontal_pod_autoscaler_sync_period=2.0)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """One API server and one fake-runtime kubelet for the module."""
    tmp = tmp_path_factory.mktemp("hpa")
    srv = ApiServer(tmp / "apiserver").start()
    node = None
    try:
        node = Proc.kyb("kubelet", "--kubeconfig", str(srv.kubeconfig), "--node-name", NODE,
                        "--runtime", "fake", "--root-dir", str(tmp / "node"),
                        "--port", str(free_port()), "--address", "127.0.0.1",
                        "--node-ip", "127.0.0.1", log_path=tmp / "kubelet.log").start()
        yield srv
    finally:
        if node is not None:
            node.stop()
        srv.stop()


async def _node_ready(client: ApiClient) -> bool:
    nodes = (await client.list(NODES))["items"]
    return any(n["metadata"]["name"] == NODE and any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in (n.get("status") or {}).get("conditions") or []) for n in nodes)


@pytest.fixture
async def client(server: ApiServer) -> AsyncIterator[ApiClient]:
    async with connected(server) as api:
        await eventually(lambda: _node_ready(api), within=60, what="fake kubelet Ready")
        yield api


@pytest.fixture
async def ns(client: ApiClient) -> str:
    name = f"hpa{next(_names)}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                     "metadata": {"name": name}})
    return name


def deployment(name: str, ns: str, cpu: str, *, request: str | None = "100m") -> dict[str, Any]:
    resources = {"requests": {"cpu": request}} if request else {}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name},
                                               "annotations": {"fake.kyb.io/cpu": cpu}},
                                  "spec": {"nodeName": NODE, "containers": [
                                      {"name": "app", "image": "busybox",
                                       "resources": resources}]}}}}


def hpa(name: str, ns: str, *, target: str = "web", low: int = 1, high: int = 5,
        **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": target},
                     "minReplicas": low, "maxReplicas": high,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": 50}}}], **spec}}


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c["type"] == kind:
            return dict(c)
    return {}


async def _event(client: ApiClient, ns: str, message: str) -> bool:
    """Events are posted after the change they tell of: poll for them."""
    return any(e["reason"] == "SuccessfulRescale" and e["message"] == message
               for e in (await client.list(EVENTS, namespace=ns))["items"])


async def _replicas(client: ApiClient, ns: str, name: str) -> int:
    return int((await client.get(DEPLOYMENTS, name, namespace=ns))["spec"]["replicas"])


async def test_scales_a_deployment_up_on_load_and_down_when_it_drops(client: ApiClient,
                                                                     ns: str) -> None:
    await client.create(DEPLOYMENTS, deployment("web", ns, "200m"), namespace=ns)
    fast_down = {"scaleDown": {"stabilizationWindowSeconds": 0}}
    await client.create(HORIZONTAL_POD_AUTOSCALERS, hpa("web", ns, behavior=fast_down),
                        namespace=ns)
    async with running(client, "deployment", "replicaset", "horizontalpodautoscaling",
                       options=FAST):
        # 200m of a 100m request is 200% against a 50% target: 4 times the pods
        async def scaled_up() -> bool:
            return await _replicas(client, ns, "web") == 4
        try:
            await eventually(scaled_up, within=120, interval=1, what="scaled up to 4")
        except AssertionError as e:  # once in CI under load: say why the controller held
            stuck = await client.get(HORIZONTAL_POD_AUTOSCALERS, "web", namespace=ns)
            metrics = await client.list(POD_METRICS, namespace=ns)
            raise AssertionError(f"{e}\nHPA status: {stuck.get('status')}\n"
                                 f"pod metrics: {metrics.get('items')}") from None

        # the controller scales first and writes its status after (as kube's does)
        async def scale_recorded() -> dict[str, Any] | None:
            hpa_now = await client.get(HORIZONTAL_POD_AUTOSCALERS, "web", namespace=ns)
            status = hpa_now.get("status") or {}
            return hpa_now if status.get("desiredReplicas") == 4 and \
                status.get("lastScaleTime") else None
        got = await eventually(scale_recorded, within=30, interval=0.5,
                               what="the scale to 4 in the HPA's status")
        assert got["spec"]["behavior"]["scaleUp"]["policies"][0] == {
            "type": "Pods", "value": 4, "periodSeconds": 15}
        assert got["status"]["currentMetrics"][0]["resource"]["current"][
            "averageUtilization"] == 200
        assert _condition(got, "ScalingActive")["reason"] == "ValidMetricFound"
        await eventually(lambda: _event(client, ns, "New size: 4; reason: cpu resource "
                                        "utilization (percentage of request) above target"),
                         within=30, what="SuccessfulRescale to 4")

        # the load drops (new pods burn 10m: 10%): back to the minimum
        await client.patch(DEPLOYMENTS, "web", {"spec": {"template": {"metadata": {
            "annotations": {"fake.kyb.io/cpu": "10m"}}}}}, namespace=ns)

        async def scaled_down() -> bool:
            return await _replicas(client, ns, "web") == 1
        await eventually(scaled_down, within=180, interval=1, what="scaled down to 1")
        await eventually(lambda: _event(client, ns, "New size: 1; reason: All metrics below "
                                        "target"), within=30, what="SuccessfulRescale to 1")


async def test_utilization_needs_requests(client: ApiClient, ns: str) -> None:
    await client.create(DEPLOYMENTS, deployment("web", ns, "200m", request=None),
                        namespace=ns)
    await client.create(HORIZONTAL_POD_AUTOSCALERS, hpa("web", ns), namespace=ns)
    async with running(client, "deployment", "replicaset", "horizontalpodautoscaling",
                       options=FAST):
        async def inactive() -> dict[str, Any] | None:
            got = await client.get(HORIZONTAL_POD_AUTOSCALERS, "web", namespace=ns)
            active = _condition(got, "ScalingActive")
            return active if active.get("status") == "False" and \
                "missing request for cpu" in active.get("message", "") else None
        active = await eventually(inactive, within=60, interval=1, what="ScalingActive False")
        assert active["reason"] == "FailedGetResourceMetric"
        assert active["message"].startswith("the HPA was unable to compute the replica count: ")
    assert await _replicas(client, ns, "web") == 1


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"minReplicas": 0}, "spec.minReplicas", "must be greater than or equal to 1"),
    ({"minReplicas": 3, "maxReplicas": 2}, "spec.maxReplicas",
     "must be greater than or equal to `minReplicas`"),
    ({"scaleTargetRef": {"kind": "Deployment"}}, "spec.scaleTargetRef.name", "Required value"),
    ({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization"}}}]}, "spec.metrics[0].resource.target.averageUtilization",
     "must set either a target raw value or a target utilization"),
    ({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Percent", "averageUtilization": 50}}}]},
     "spec.metrics[0].resource.target.type", "must be either Utilization, Value, or AverageValue"),
    ({"metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {
        "type": "AverageValue", "averageValue": "0"}}}]},
     "spec.metrics[0].resource.target.averageValue", "must be positive"),
    ({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 50}}, "pods": {
        "metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1"}}}]},
     "spec.metrics[0].pods", "must populate the given metric source only"),
    ({"behavior": {"scaleDown": {"stabilizationWindowSeconds": 4000}}},
     "spec.behavior.scaleDown.stabilizationWindowSeconds", "must be less than or equal to 3600"),
])
async def test_invalid_hpas_are_refused(client: ApiClient, ns: str, change: dict[str, Any],
                                        field: str, message: str) -> None:
    obj = hpa("bad", ns)
    obj["spec"].update(change)
    with pytest.raises(errors.ApiError) as caught:
        await client.create(HORIZONTAL_POD_AUTOSCALERS, obj, namespace=ns)
    assert caught.value.code == 422
    causes = caught.value.to_status().get("details", {}).get("causes", [])
    assert any(c["field"] == field and message in c["message"] for c in causes), causes


@pytest.mark.parametrize("version", VERSIONS)
async def test_kubectl_autoscale_and_get_hpa(client: ApiClient, ns: str, server: ApiServer,
                                             tmp_path: Path, version: str) -> None:
    """`kubectl autoscale` sends autoscaling/v1 (protobuf from 1.32): stored as v2."""
    await client.create(DEPLOYMENTS, deployment("web", ns, "20m"), namespace=ns)
    kubectl = Kubectl(version, server, tmp_path)
    out = kubectl("autoscale", "deployment", "web", "--cpu-percent=50", "--min=1", "--max=5",
                  "-n", ns)
    assert "horizontalpodautoscaler.autoscaling/web autoscaled" in out
    got = await client.get(HORIZONTAL_POD_AUTOSCALERS, "web", namespace=ns)
    assert got["spec"]["maxReplicas"] == 5 and got["spec"]["minReplicas"] == 1
    assert got["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]
    table = kubectl("get", "hpa", "-n", ns)
    header, row = table.splitlines()[:2]
    assert header.split() == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS",
                              "REPLICAS", "AGE"]
    assert row.split()[:2] == ["web", "Deployment/web"]
    assert "cpu: <unknown>/50%" in row
    v1 = kubectl.json("get", V1_HPA, "web", "-n", ns)
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 50 and "metrics" not in v1["spec"]
    # a v1 patch keeps what v1 cannot show (behavior)
    await client.patch(HORIZONTAL_POD_AUTOSCALERS, "web", {"spec": {"behavior": {
        "scaleDown": {"stabilizationWindowSeconds": 10}}}}, namespace=ns)
    kubectl("patch", V1_HPA, "web", "-n", ns, "--type=merge", "-p",
            '{"spec":{"targetCPUUtilizationPercentage":70}}')
    got = await client.get(HORIZONTAL_POD_AUTOSCALERS, "web", namespace=ns)
    assert got["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    assert got["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 10
    items = kubectl.json("get", V1_HPA, "-n", ns)["items"]
    assert items[0]["spec"]["targetCPUUtilizationPercentage"] == 70


@pytest.mark.parametrize("version", VERSIONS)
async def test_kubectl_apply_and_get_hpa(client: ApiClient, ns: str, server: ApiServer,
                                         tmp_path: Path, version: str) -> None:
    """An autoscaling/v2 manifest: kube's defaults, the hpa table, `get all`."""
    await client.create(DEPLOYMENTS, deployment("web", ns, "20m"), namespace=ns)
    kubectl = Kubectl(version, server, tmp_path)
    manifest = orjson.dumps({**hpa("web", ns), "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "maxReplicas": 5}}).decode()
    out = kubectl("apply", "-f", "-", stdin=manifest)
    assert "horizontalpodautoscaler.autoscaling/web created" in out
    got = await client.get(HORIZONTAL_POD_AUTOSCALERS, "web", namespace=ns)
    assert got["spec"]["minReplicas"] == 1  # kube's defaults: 1 and cpu at 80%
    assert got["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 80
    table = kubectl("get", "hpa", "-n", ns)
    header, row = table.splitlines()[:2]
    assert header.split() == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS",
                              "REPLICAS", "AGE"]
    assert row.split()[:2] == ["web", "Deployment/web"]
    assert "cpu: <unknown>/80%" in row and row.split()[-4:-1] == ["1", "5", "0"]
    assert "horizontalpodautoscaler.autoscaling/web" in kubectl("get", "all", "-n", ns)
