"""Node registration, Lease, status and pods on the fake runtime; `kyb hollow-nodes`."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

from kubernetes import client as k8s

from tests.integration.kubelet.conftest import (
    condition,
    container_status,
    make_pod,
    node_ready,
    wait_for,
)
from tests.support.apiserver import ApiServer
from tests.support.procs import Proc


def test_kubelet_registers_node_and_renews_its_lease(core: k8s.CoreV1Api, start_kubelet) -> None:
    kubelet = start_kubelet("fake", "--pod-cidr", "10.77.0.0/24", "--max-pods", "42")
    wait_for(lambda: node_ready(core, "node-1"), what="node Ready")
    node = core.read_node("node-1")
    assert node.status.capacity["pods"] == "42" and int(node.status.capacity["cpu"]) >= 1
    assert node.status.node_info.kubelet_version == "v1.33.0-kyb"
    assert node.status.node_info.container_runtime_version.startswith("fake://")
    assert node.status.daemon_endpoints.kubelet_endpoint.port == kubelet.port
    assert {a.type: a.address for a in node.status.addresses} == {
        "InternalIP": "127.0.0.1", "Hostname": "node-1"}
    assert [c.type for c in node.status.conditions] == [
        "MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
    assert node.spec.pod_cidr == "10.77.0.0/24"
    leases = k8s.CoordinationV1Api(core.api_client)
    first = leases.read_namespaced_lease("node-1", "kube-node-lease")
    assert first.spec.holder_identity == "node-1"
    assert first.metadata.owner_references[0].uid == node.metadata.uid
    wait_for(lambda: leases.read_namespaced_lease("node-1", "kube-node-lease").spec.renew_time
             > first.spec.renew_time, timeout=5, what="lease renewal")


def test_restarted_kubelet_goes_on_with_its_node(core: k8s.CoreV1Api, start_kubelet) -> None:
    kubelet = start_kubelet("fake")
    wait_for(lambda: node_ready(core, "node-1"), what="node Ready")
    uid = core.read_node("node-1").metadata.uid
    kubelet.kill()
    start_kubelet("fake")
    wait_for(lambda: core.read_node("node-1").status.conditions[-1].last_heartbeat_time,
             what="heartbeat")
    assert core.read_node("node-1").metadata.uid == uid


def test_pod_on_fake_node_runs_and_deletes(core: k8s.CoreV1Api, start_kubelet) -> None:
    start_kubelet("fake", "--pod-cidr", "10.78.0.0/24")
    wait_for(lambda: node_ready(core, "node-1"), what="node Ready")
    core.create_namespaced_pod("default", make_pod("p", [{"name": "a", "image": "img"}]))
    pod = wait_for(lambda: (p := core.read_namespaced_pod("p", "default")).status.phase ==
                   "Running" and condition(p, "Ready") == "True" and p, what="pod Running")
    assert pod.status.pod_ip.startswith("10.78.0.") and pod.status.host_ip == "127.0.0.1"
    assert container_status(pod, "a").container_id.startswith("fake://")
    wait_for(lambda: {"Pulled", "Created", "Started"} <= {
        e.reason for e in core.list_namespaced_event("default").items}, what="events")
    core.delete_namespaced_pod("p", "default")
    wait_for(lambda: not core.list_namespaced_pod("default").items, what="pod removed")


def test_fake_pods_can_be_told_to_crash(core: k8s.CoreV1Api, start_kubelet) -> None:
    start_kubelet("fake", "--fail-pods-matching", "^crash")
    wait_for(lambda: node_ready(core, "node-1"), what="node Ready")
    core.create_namespaced_pod("default", make_pod("crash-1", [{"name": "a", "image": "i"}]))

    def backing_off():
        s = container_status(core.read_namespaced_pod("crash-1", "default"), "a")
        return s and s.restart_count >= 2 and s.state.waiting and \
            s.state.waiting.reason == "CrashLoopBackOff" and s
    status = wait_for(backing_off, timeout=20, what="CrashLoopBackOff")
    assert status.last_state.terminated.exit_code == 1


def test_fake_probes_pass_unless_the_pod_says_they_fail(core: k8s.CoreV1Api,
                                                        start_kubelet) -> None:
    start_kubelet("fake")
    wait_for(lambda: node_ready(core, "node-1"), what="node Ready")
    probed = {"name": "a", "image": "i", "ports": [{"name": "http", "containerPort": 8080}],
              "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                                 "periodSeconds": 1}}
    core.create_namespaced_pod("default", make_pod("ready", [probed]))
    failing = make_pod("unready", [probed])
    failing["metadata"]["annotations"] = {"fake.kyb.io/failing-probes": "readinessProbe"}
    core.create_namespaced_pod("default", failing)
    wait_for(lambda: condition(core.read_namespaced_pod("ready", "default"), "Ready") == "True",
             what="probed pod Ready")
    wait_for(lambda: any(e.reason == "Unhealthy" and e.involved_object.name == "unready"
                         for e in core.list_namespaced_event("default").items),
             what="readiness failure event")
    unready = core.read_namespaced_pod("unready", "default")
    assert unready.status.phase == "Running" and condition(unready, "Ready") == "False"
    assert container_status(unready, "a").ready is False


def test_pods_over_max_pods_are_rejected(core: k8s.CoreV1Api, start_kubelet) -> None:
    start_kubelet("fake", "--max-pods", "2")
    wait_for(lambda: node_ready(core, "node-1"), what="node Ready")

    def settled(i: int) -> bool:
        return core.read_namespaced_pod(f"p{i}", "default").status.phase in ("Running", "Failed")
    for i in range(3):
        core.create_namespaced_pod("default", make_pod(f"p{i}", [{"name": "a", "image": "i"}]))
        wait_for(partial(settled, i), what=f"p{i} running or rejected")
    pod = core.read_namespaced_pod("p2", "default")
    assert (pod.status.phase, pod.status.reason) == ("Failed", "OutOfpods")
    assert "used: 2, capacity: 2" in pod.status.message
    core.delete_namespaced_pod("p2", "default")
    wait_for(lambda: len(core.list_namespaced_pod("default").items) == 2, what="p2 removed")


def test_hollow_nodes_hold_many_ready_nodes(apiserver: ApiServer, core: k8s.CoreV1Api,
                                            tmp_path: Path) -> None:
    proc = Proc.kyb("hollow-nodes", "--kubeconfig", str(apiserver.kubeconfig), "--count", "20",
                    "--lease-seconds", "2", log_path=tmp_path / "hollow.log").start()
    try:
        started = time.monotonic()
        wait_for(lambda: sum(node_ready(core, f"hollow-node-{i}") for i in (0, 7, 19)) == 3,
                 timeout=30, what="hollow nodes Ready")
        assert len(core.list_node().items) == 20
        assert time.monotonic() - started < 30
        core.create_namespaced_pod("default", make_pod("h", [{"name": "a", "image": "i"}],
                                                       node="hollow-node-7"))
        wait_for(lambda: core.read_namespaced_pod("h", "default").status.phase == "Running",
                 what="pod on hollow node Running")
    finally:
        assert proc.stop() == 0, proc.log_tail()


def test_a_ready_condition_set_by_someone_else_is_written_back(core: k8s.CoreV1Api,
                                                               start_kubelet) -> None:
    """The node lifecycle controller marks pods not Ready while their node is
    unreachable; once the kubelet is heard again it writes its own Ready back (kube's
    status manager reconciles the API's status with what it knows)."""
    start_kubelet("fake")
    wait_for(lambda: node_ready(core, "node-1"), what="node Ready")
    core.create_namespaced_pod("default", make_pod("steady", [{"name": "a", "image": "i"}]))
    wait_for(lambda: condition(core.read_namespaced_pod("steady", "default"), "Ready")
             == "True", what="pod Ready")
    core.patch_namespaced_pod_status("steady", "default", {"status": {"conditions": [
        {"type": "Ready", "status": "False", "reason": "NodeNotReady"}]}})
    wait_for(lambda: condition(core.read_namespaced_pod("steady", "default"), "Ready")
             == "True", timeout=15, what="the kubelet's Ready written back")
