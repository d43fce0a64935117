"""pods/log and pods/exec through the API server to a real kubelet (process runtime)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.apiserver import ApiServer
from tests.support.net import free_port
from tests.support.procs import Proc

KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl"
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
        kubectl(sqlite_server, "delete", "pod", "talker", "--ignore-not-found",
                "--timeout=20s", check=False)
        kubelet.stop()


def kubectl(server: ApiServer, *args: str, check: bool = True, binary: str = KUBECTL
            ) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([binary, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "KUBECONFIG": str(server.kubeconfig)})
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_logs_and_exec_reach_the_kubelet(node: ApiServer) -> None:
    subprocess.run([KUBECTL, "apply", "-f", "-"], input=POD, text=True, check=True,
                   capture_output=True, env={**os.environ, "KUBECONFIG": str(node.kubeconfig)})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logs = kubectl(node, "logs", "talker", check=False)
        if "hello from talker" in logs.stdout:
            break
        time.sleep(0.3)
    assert "hello from talker" in logs.stdout
    ran = kubectl(node, "exec", "talker", "--", "sh", "-c", "echo out; exit 3", check=False)
    assert ran.stdout.strip() == "out" and ran.returncode == 3
    old = kubectl(node, "exec", "talker", "--", "sh", "-c", "echo spdy; exit 2", check=False,
                  binary=KUBECTL + ".1.27")  # SPDY, joined byte for byte to the kubelet
    assert old.stdout == "spdy\n" and old.returncode == 2
