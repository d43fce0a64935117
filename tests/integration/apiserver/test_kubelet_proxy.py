"""pods/log and pods/exec through the API server to a real kubelet (process runtime)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.apiserver import ApiServer
from tests.support.kubectl import Kubectl
from tests.support.net import free_port
from tests.support.procs import Proc

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: talker, namespace: default}
spec:
  nodeName: node-1
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: busybox, command: [sh, -c, "echo hello from talker; sleep 60"]}]
"""


@pytest.fixture
def node(sqlite_server: ApiServer, tmp_path: Path) -> Iterator[ApiServer]:
    kubelet = Proc.kyb("kubelet", "--kubeconfig", str(sqlite_server.kubeconfig),
                       "--node-name", "node-1", "--runtime", "process",
                       "--root-dir", str(tmp_path / "kubelet"), "--port", str(free_port()),
                       "--address", "127.0.0.1", "--node-ip", "127.0.0.1",
                       "--teardown-on-exit", log_path=tmp_path / "kubelet.log").start()
    try:
        yield sqlite_server
    finally:
        Kubectl("kubectl", sqlite_server, tmp_path).run(
            "delete", "pod", "talker", "--ignore-not-found", "--timeout=20s", check=False)
        kubelet.stop()


def test_logs_and_exec_reach_the_kubelet(node: ApiServer, tmp_path: Path) -> None:
    kubectl = Kubectl("kubectl", node, tmp_path)
    kubectl.run("apply", "-f", "-", stdin=POD)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logs = kubectl.run("logs", "talker", check=False)
        if "hello from talker" in logs.stdout:
            break
        time.sleep(0.3)
    assert "hello from talker" in logs.stdout
    ran = kubectl.run("exec", "talker", "--", "sh", "-c", "echo out; exit 3", check=False)
    assert ran.stdout.strip() == "out" and ran.returncode == 3
    oldest = Kubectl("kubectl.1.27", node, tmp_path)  # SPDY, joined byte for byte to the kubelet
    old = oldest.run("exec", "talker", "--", "sh", "-c", "echo spdy; exit 2", check=False)
    assert old.stdout == "spdy\n" and old.returncode == 2
