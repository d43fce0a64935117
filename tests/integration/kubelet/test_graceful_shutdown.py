"""Graceful node shutdown: SIGTERM to a kubelet with --shutdown-grace-period leaves its
pods Failed with kube's reason and its Node not Ready."""

from __future__ import annotations

from functools import partial

from kubernetes import client as k8s

from tests.integration.kubelet.conftest import condition, make_pod, node_ready, wait_for


def test_sigterm_fails_the_pods_with_the_node_shutdown_reason(core: k8s.CoreV1Api,
                                                              start_kubelet) -> None:
    kubelet = start_kubelet("fake", "--shutdown-grace-period", "8s",
                            "--shutdown-grace-period-critical-pods", "2s")
    wait_for(lambda: node_ready(core, "node-1"), timeout=30, what="node Ready")
    core.create_namespaced_pod("default", make_pod("web", [{"name": "a", "image": "i"}]))
    # the Priority admission plugin gives it the class's value (2000001000)
    core.create_namespaced_pod("default", make_pod(
        "critical", [{"name": "a", "image": "i"}], priorityClassName="system-node-critical"))

    def pod_ready(name: str) -> bool:
        return condition(core.read_namespaced_pod(name, "default"), "Ready") == "True"
    for name in ("web", "critical"):
        wait_for(partial(pod_ready, name), what=f"{name} Ready")
    assert kubelet.proc is not None
    assert kubelet.proc.stop(timeout=20) == 0, kubelet.log_tail()
    for name in ("web", "critical"):
        pod = core.read_namespaced_pod(name, "default")
        assert pod.status.phase == "Failed", (name, pod.status)
        assert pod.status.reason == "Terminated"
        assert pod.status.message == ("Pod was terminated in response to imminent node "
                                      "shutdown.")
        target = next(c for c in pod.status.conditions if c.type == "DisruptionTarget")
        assert (target.status, target.reason) == ("True", "TerminationByKubelet")
        assert condition(pod, "Ready") == "False"
        assert all(s.state.terminated for s in pod.status.container_statuses)
    ready = next(c for c in core.read_node("node-1").status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason, ready.message) == (
        "False", "KubeletNotReady", "node is shutting down")
