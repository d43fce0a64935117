"""Reaching pods from a workstation, with the real kubectl (oldest and newest) through the
real API server to a process-runtime kubelet: port-forward to a pod and to a Service
(kubectl ≤ 1.30 speaks SPDY, ≥ 1.31 SPDY tunneled over a WebSocket), exec with a
multi-line argument (SPDY for 1.27, WebSocket for the newest), the Python client's
interactive exec, `kubectl attach` and `kubectl run -i --rm`.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes.stream import stream

from kybernetes.client import load_kubeconfig
from tests.integration.kubelet.conftest import (
    IS_ROOT,
    free_pod_cidr,
    make_pod,
    shared_kubelet,
    wait_for,
)
from tests.support.kubectl import KUBECTLS, Kubectl, port_forward_bodies

BUSYBOX = shutil.which("busybox") or "/bin/busybox"
PYTHON = shutil.which("python3", path="/usr/bin:/bin") or "python3"
VERSIONS = [KUBECTLS[0], KUBECTLS[-1]] if KUBECTLS else []


@pytest.fixture(scope="module")
def node(module_api, module_core, tmp_path_factory):
    args = ("--pod-cidr", free_pod_cidr()) if IS_ROOT else ()
    with shared_kubelet(module_api, module_core, tmp_path_factory.mktemp("node"), "process",
                        *args) as kubelet:
        yield kubelet


def _running(core, ns: str, name: str):
    pod = core.read_namespaced_pod(name, ns)
    return pod.status.phase == "Running" and pod


def _start(core, ns: str, pod: dict) -> None:
    core.create_namespaced_pod(ns, pod)
    wait_for(lambda: _running(core, ns, pod["metadata"]["name"]), timeout=30, what="Running")


@pytest.fixture(params=VERSIONS)
def kubectl(request, module_api, tmp_path) -> Kubectl:
    return Kubectl(request.param, module_api, tmp_path)


@pytest.fixture(scope="module")
def web(module_core, node, tmp_path_factory) -> Iterator[str]:
    """A namespace with pod `web` (busybox httpd on 8080) behind Service `web` (80)."""
    root = tmp_path_factory.mktemp("www")
    (root / "index.html").write_text("hello from web\n")
    ns = "pf-web"
    module_core.create_namespace({"metadata": {"name": ns}})
    pod = make_pod("web", [{"name": "c", "image": "busybox",
                            "command": [BUSYBOX, "httpd", "-f", "-p", "8080", "-h", str(root)],
                            "ports": [{"containerPort": 8080, "name": "http"}]}])
    pod["metadata"]["labels"] = {"app": "web"}
    _start(module_core, ns, pod)
    module_core.create_namespaced_service(ns, {
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    try:
        yield ns
    finally:
        module_core.delete_namespace(ns)
        module_core.delete_namespaced_pod("web", ns, grace_period_seconds=0)


def test_port_forward_to_a_pod_and_a_service(kubectl, web) -> None:
    for target, port in (("pod/web", ":8080"), ("svc/web", ":80")):
        assert port_forward_bodies(kubectl.binary, kubectl.env, "-n", web, target, port) == \
            ["hello from web\n"] * 3


def test_port_forward_to_a_closed_port_says_why(kubectl, web) -> None:
    proc = subprocess.Popen([kubectl.binary, "-n", web, "port-forward", "pod/web", ":9"],
                            env=kubectl.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        port = re.search(r"127\.0\.0\.1:(\d+) ->", proc.stdout.readline())
        assert port
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port[1]}/", timeout=20).read()
        proc.terminate()
        _, err = proc.communicate(timeout=10)
        assert "error forwarding port 9 to pod web" in err
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def box(module_core, node) -> Iterator[str]:
    ns = "streams-box"
    module_core.create_namespace({"metadata": {"name": ns}})
    _start(module_core, ns, make_pod("box", [
        {"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]))
    try:
        yield ns
    finally:
        module_core.delete_namespace(ns)
        module_core.delete_namespaced_pod("box", ns, grace_period_seconds=0)


def test_exec_keeps_newlines_in_arguments_and_reports_the_exit_code(kubectl, box) -> None:
    done = kubectl.run("-n", box, "exec", "box", "--", PYTHON, "-c", "print(1)\nprint(2)")
    assert done.stdout == "1\n2\n"
    failed = kubectl.run("-n", box, "exec", "box", "--", "sh", "-c", "echo out; echo err >&2; "
                         "exit 4", check=False)
    assert (failed.stdout, failed.stderr.splitlines()[0], failed.returncode) == \
        ("out\n", "err", 4)
    assert kubectl("-n", box, "exec", "-i", "box", "--", "cat", stdin="from stdin\n") == \
        "from stdin\n"


def test_python_client_interactive_exec(module_core, box) -> None:
    resp = stream(module_core.connect_get_namespaced_pod_exec, "box", box, command=["sh"],
                  stdin=True, stdout=True, stderr=True, tty=False, _preload_content=False)
    try:
        resp.write_stdin("echo first\n")
        assert resp.readline_stdout(timeout=20) == "first"
        resp.write_stdin("echo second; echo oops >&2\n")
        assert resp.readline_stdout(timeout=20) == "second"
        assert resp.readline_stderr(timeout=20) == "oops"
    finally:
        resp.close()


def test_attach_to_a_container_with_stdin(kubectl, module_core, node, ns) -> None:
    _start(module_core, ns, make_pod("reader", [
        {"name": "c", "image": "busybox", "stdin": True,
         "command": ["sh", "-c", "while read line; do echo got $line; done; echo eof"]}]))
    proc = subprocess.Popen([kubectl.binary, "-n", ns, "attach", "-i", "reader"],
                            env=kubectl.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("hello\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        while line.startswith("If you don't see"):
            line = proc.stdout.readline()
        assert line == "got hello\n"
    finally:
        proc.kill()
        proc.wait()
    # detaching (no stdinOnce) leaves the container running, and its stdin open
    assert _running(module_core, ns, "reader")


def test_run_interactive_and_remove(kubectl, module_core, node, ns) -> None:
    overrides = json.dumps({"apiVersion": "v1", "spec": {"nodeName": node.name}})
    done = kubectl.run("-n", ns, "run", "once", "-i", "--rm", "--restart=Never",
                       "--image=busybox", f"--overrides={overrides}", "--command", "--",
                       "sh", "-c", "read x; echo got $x; read y || echo stdin closed",
                       stdin="hi\n")
    assert "got hi\nstdin closed\n" in done.stdout
    assert 'pod "once" deleted' in done.stdout
    wait_for(lambda: not module_core.list_namespaced_pod(ns).items, timeout=30,
             what="pod deleted")


def _read_until(fd: int, wanted: bytes, seconds: float = 30) -> bytes:
    seen = b""
    deadline = time.monotonic() + seconds
    while wanted not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    assert wanted in seen, seen
    return seen


def test_run_it_gives_a_shell_a_terminal(kubectl, module_core, node, ns) -> None:
    overrides = json.dumps({"apiVersion": "v1", "spec": {"nodeName": node.name}})
    master, terminal = os.openpty()
    proc = subprocess.Popen([kubectl.binary, "-n", ns, "run", "shell", "-it", "--rm",
                             "--restart=Never", "--image=busybox", f"--overrides={overrides}",
                             "--command", "--", BUSYBOX, "sh"],
                            env=kubectl.env, stdin=terminal, stdout=terminal, stderr=terminal,
                            start_new_session=True)
    os.close(terminal)
    try:
        wait_for(lambda: _running(module_core, ns, "shell"), timeout=30, what="Running")
        time.sleep(1)  # let kubectl attach
        os.write(master, b"echo $((40+2))-$(tty)\r")
        seen = _read_until(master, b"42-/dev/pts/")  # a terminal: the line is echoed too
        assert b"echo $((40+2))" in seen
        os.write(master, b"exit\r")
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
    wait_for(lambda: not module_core.list_namespaced_pod(ns).items, timeout=30,
             what="pod deleted")


def test_an_upgrade_nobody_speaks_gets_a_status(module_api, box) -> None:
    """A SPDY upgrade offering no protocol the kubelet knows: kube's 403 message, as a
    Status from the API server (never a hang or a 500)."""
    config = load_kubeconfig(module_api.kubeconfig)
    with tempfile.TemporaryDirectory() as d:
        cert, key = Path(d) / "c.pem", Path(d) / "k.pem"
        cert.write_bytes(config.cert_pem or b"")
        key.write_bytes(config.key_pem or b"")
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        ctx.load_cert_chain(cert, key)
    request = urllib.request.Request(
        f"https://127.0.0.1:{module_api.port}/api/v1/namespaces/{box}/pods/box/portforward",
        method="POST", headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                                "X-Stream-Protocol-Version": "nonsense.k8s.io"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, context=ctx, timeout=20)
    status = json.loads(refused.value.read())
    assert (refused.value.code, status["kind"], status["reason"]) == (403, "Status",
                                                                       "Forbidden")
    assert "unable to negotiate protocol" in status["message"]
