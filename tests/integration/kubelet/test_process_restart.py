"""Process runtime across kubelet restarts: adoption, and orphans removed (own kubelets)."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from kubernetes import client as k8s

from tests.integration.kubelet.conftest import (
    IS_ROOT,
    condition,
    container_status,
    free_pod_cidr,
    make_pod,
    node_ready,
    wait_for,
)

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(not IS_ROOT, reason="pod network namespaces need root")]
BUSYBOX = shutil.which("busybox") or "/bin/busybox"


@pytest.fixture
def node(core: k8s.CoreV1Api, start_kubelet):
    kubelet = start_kubelet("process", "--pod-cidr", free_pod_cidr())
    try:
        wait_for(lambda: node_ready(core, "node-1"), what="node Ready")
    except AssertionError:
        raise AssertionError(kubelet.log_tail()) from None
    return kubelet


def _pod(core: k8s.CoreV1Api, name: str):
    return core.read_namespaced_pod(name, "default")


def _running_ready(core: k8s.CoreV1Api, name: str):
    pod = _pod(core, name)
    return pod.status.phase == "Running" and condition(pod, "Ready") == "True" and pod


def test_kubelet_restart_adopts_running_containers(core, node, start_kubelet) -> None:
    core.create_namespaced_pod("default", make_pod("adopt", [
        {"name": "c", "image": "busybox", "command": [BUSYBOX, "sleep", "3601"]},
        {"name": "crash", "image": "busybox", "command": ["sh", "-c", "exit 1"]}]))
    wait_for(lambda: (s := container_status(_pod(core, "adopt"), "crash")) and
             s.restart_count >= 2, timeout=20, what="two restarts")
    before = container_status(_pod(core, "adopt"), "c").container_id
    node.kill()  # a crash: containers live on
    restarts = container_status(_pod(core, "adopt"), "crash").restart_count
    start_kubelet("process").wait_serving()
    time.sleep(1.5)  # a pod sync on the new kubelet
    pod = _pod(core, "adopt")
    assert container_status(pod, "c").container_id == before
    assert container_status(pod, "crash").restart_count >= restarts
    procs = subprocess.run(["pgrep", "-f", "sleep 3601"], capture_output=True, text=True)
    assert len(procs.stdout.split()) == 1


def test_containers_of_pods_deleted_while_the_kubelet_was_down_are_removed(
        core, node, start_kubelet) -> None:
    core.create_namespaced_pod("default", make_pod("gone", [
        {"name": "c", "image": "busybox", "command": [BUSYBOX, "sleep", "3602"]}]))
    wait_for(lambda: _running_ready(core, "gone"), what="Running")
    node.kill()
    core.delete_namespaced_pod("gone", "default", grace_period_seconds=0)
    start_kubelet("process").wait_serving()

    def no_process():
        return not subprocess.run(["pgrep", "-f", "sleep 3602"], capture_output=True,
                                  text=True).stdout.split()
    wait_for(no_process, timeout=20, what="the orphan's process gone")
