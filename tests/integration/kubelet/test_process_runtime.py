"""Pods on the process runtime, as root: netns per pod, probes, restarts, limits, deletion."""

from __future__ import annotations

import base64
import itertools
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from kubernetes import client as k8s

from tests.integration.kubelet.conftest import (
    IS_ROOT,
    condition,
    container_status,
    make_pod,
    wait_for,
)
from tests.support.kubectl import KUBECTLS, Kubectl

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(not IS_ROOT, reason="pod network namespaces need root")]
BUSYBOX = shutil.which("busybox") or "/bin/busybox"


@pytest.fixture(scope="module")
def node(process_node):
    return process_node


@pytest.fixture
def core(module_core):
    return module_core


def _pod(core: k8s.CoreV1Api, ns: str, name: str):
    return core.read_namespaced_pod(name, ns)


def _running_ready(core: k8s.CoreV1Api, ns: str, name: str):
    pod = _pod(core, ns, name)
    return pod.status.phase == "Running" and condition(pod, "Ready") == "True" and pod


def _log(node, pod, container: str, attempt: int = 0) -> str:
    path = node.root / "pods" / pod.metadata.uid / "logs" / container / f"{attempt}.log"
    return path.read_text() if path.exists() else ""


def test_two_containers_share_localhost_and_go_ready(core, node, ns) -> None:
    web = [BUSYBOX, "httpd", "-f", "-p", "8080", "-h", str(node.root.parent)]
    (node.root.parent / "index.html").write_text("hello from the pod\n")
    probe = {"exec": {"command": [BUSYBOX, "wget", "-q", "-O-", "http://127.0.0.1:8080/"]},
             "periodSeconds": 1}
    core.create_namespaced_pod(ns, make_pod("web", [
        {"name": "server", "image": "busybox", "command": web,
         "readinessProbe": {"httpGet": {"port": 8080, "path": "/"}, "periodSeconds": 1}},
        {"name": "client", "image": "busybox", "command": [BUSYBOX, "sleep", "3600"],
         "readinessProbe": probe}]))
    pod = wait_for(lambda: _running_ready(core, ns, "web"), what="pod Running and Ready")
    assert all(s.ready and s.state.running for s in pod.status.container_statuses)
    assert pod.status.pod_ip != pod.status.host_ip
    with urllib.request.urlopen(f"http://{pod.status.pod_ip}:8080/", timeout=3) as r:
        assert r.read() == b"hello from the pod\n"  # the host reaches the pod's own address


def test_crash_loop_backs_off(core, node, ns) -> None:
    core.create_namespaced_pod(ns, make_pod("crash", [
        {"name": "c", "image": "busybox", "command": ["sh", "-c", "echo boom; exit 3"]}]))

    def looping():
        s = container_status(_pod(core, ns, "crash"), "c")
        return s and s.restart_count >= 3 and s.state.waiting and \
            s.state.waiting.reason == "CrashLoopBackOff" and s
    status = wait_for(looping, timeout=30, what="CrashLoopBackOff after 3 restarts")
    assert status.last_state.terminated.exit_code == 3
    assert "back-off" in status.state.waiting.message
    assert _pod(core, ns, "crash").status.phase == "Running"
    reasons = {e.reason for e in core.list_namespaced_event(ns).items}
    assert "BackOff" in reasons


def test_back_off_delays_grow(core, node, ns) -> None:
    marker = node.root.parent / "starts"
    core.create_namespaced_pod(ns, make_pod("crash", [
        {"name": "c", "image": "busybox",
         "command": ["sh", "-c", f"date +%s.%N >> {marker}; exit 1"]}]))
    wait_for(lambda: marker.exists() and len(marker.read_text().split()) >= 4, timeout=30,
             what="four starts")
    starts = [float(t) for t in marker.read_text().split()[:4]]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # first restart at once, then back-off 1 s, then 2 s (base 1 s)
    assert gaps[1] >= 0.9 and gaps[2] >= 1.9, gaps
    assert gaps[2] > gaps[1]


def test_liveness_failure_restarts_the_container(core, node, ns) -> None:
    core.create_namespaced_pod(ns, make_pod("live", [
        {"name": "c", "image": "busybox", "command": [BUSYBOX, "sleep", "3600"],
         "livenessProbe": {"tcpSocket": {"port": 9}, "periodSeconds": 1,
                           "failureThreshold": 2}}]))
    status = wait_for(lambda: (s := container_status(_pod(core, ns, "live"), "c")) and
                      s.restart_count >= 1 and s, timeout=20, what="a restart")
    assert status.last_state.terminated is not None
    messages = [e.message for e in core.list_namespaced_event(ns).items]
    assert any(m.startswith("Liveness probe failed") for m in messages)
    assert any("failed liveness probe, will be restarted" in m for m in messages)


def test_readiness_failure_flips_ready(core, node, ns, tmp_path: Path) -> None:
    flag = tmp_path / "ready"
    flag.write_text("yes")
    core.create_namespaced_pod(ns, make_pod("ready", [
        {"name": "c", "image": "busybox", "command": [BUSYBOX, "sleep", "3600"],
         "readinessProbe": {"exec": {"command": ["test", "-f", str(flag)]},
                            "periodSeconds": 1, "failureThreshold": 1}}]))
    wait_for(lambda: _running_ready(core, ns, "ready"), what="Ready")
    flag.unlink()
    wait_for(lambda: condition(_pod(core, ns, "ready"), "Ready") == "False", what="not Ready")
    assert container_status(_pod(core, ns, "ready"), "c").restart_count == 0
    flag.write_text("again")
    wait_for(lambda: condition(_pod(core, ns, "ready"), "Ready") == "True", what="Ready again")


def test_env_configmap_and_secret_volumes_arrive(core, node, ns, tmp_path: Path) -> None:
    core.create_namespaced_config_map(ns, {
        "metadata": {"name": "cfg"}, "data": {"color": "blue", "app.conf": "a=1\n"}})
    core.create_namespaced_secret(ns, {
        "metadata": {"name": "sec"}, "data": {"pw": base64.b64encode(b"hunter2").decode()}})
    core.create_namespaced_service(ns, {
        "metadata": {"name": "redis-master"},
        "spec": {"ports": [{"port": 6379}], "selector": {"app": "redis"}}})
    cfg_dir, sec_dir = tmp_path / "cfg", tmp_path / "sec"
    script = f"env; cat {cfg_dir}/app.conf; cat {sec_dir}/pw; echo; sleep 3600"
    core.create_namespaced_pod(ns, make_pod("env", [{
        "name": "c", "image": "busybox", "command": ["sh", "-c", script],
        "env": [{"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "cfg",
                                                                     "key": "color"}}},
                {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "pw"}}},
                {"name": "ME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "MSG", "value": "$(ME) is $(COLOR)"}],
        "volumeMounts": [{"name": "cfg", "mountPath": str(cfg_dir)},
                         {"name": "sec", "mountPath": str(sec_dir), "readOnly": True}]}],
        volumes=[{"name": "cfg", "configMap": {"name": "cfg"}},
                 {"name": "sec", "secret": {"secretName": "sec"}}]))
    pod = wait_for(lambda: _running_ready(core, ns, "env"), what="Running")
    out = wait_for(lambda: (text := _log(node, pod, "c")) and "hunter2" in text and text,
                   what="the container's output")
    lines = set(out.splitlines())
    assert {"COLOR=blue", "PW=hunter2", "ME=env", "MSG=env is blue", "a=1", "hunter2"} <= lines
    assert "REDIS_MASTER_SERVICE_PORT=6379" in lines
    assert any(line.startswith("REDIS_MASTER_SERVICE_HOST=") for line in lines)
    assert not cfg_dir.exists()  # mounted in the container's namespace only, no host path


def test_memory_limit_kills_an_over_allocating_container(core, node, ns) -> None:
    hog = ["python3", "-c", "b = bytearray(400 * 1024 * 1024); import time; time.sleep(60)"]
    core.create_namespaced_pod(ns, make_pod("hog", [
        {"name": "c", "image": "python", "command": hog,
         "resources": {"limits": {"memory": "64Mi"}}}], restartPolicy="Never"))
    pod = wait_for(lambda: (p := _pod(core, ns, "hog")).status.phase == "Failed" and p,
                   timeout=30, what="pod Failed")
    terminated = container_status(pod, "c").state.terminated
    assert (terminated.reason, terminated.exit_code) == ("OOMKilled", 137)


def test_graceful_deletion_honours_the_grace_period(core, node, ns, tmp_path: Path) -> None:
    marker = tmp_path / "term"
    stubborn = ["sh", "-c", f"trap 'echo TERM >> {marker}' TERM; while true; do sleep 0.1; done"]
    core.create_namespaced_pod(ns, make_pod("slow", [
        {"name": "c", "image": "busybox", "command": stubborn}],
        terminationGracePeriodSeconds=3))
    pod = wait_for(lambda: _running_ready(core, ns, "slow"), what="Running")
    started = time.monotonic()
    core.delete_namespaced_pod("slow", ns)
    wait_for(lambda: not core.list_namespaced_pod(ns).items, timeout=15,
             what="pod removed")
    elapsed = time.monotonic() - started
    assert 2.8 <= elapsed < 12, elapsed  # the grace period, not the 30 s default
    assert marker.read_text().startswith("TERM")  # SIGTERM first, SIGKILL at the deadline
    messages = [e.message for e in core.list_namespaced_event(ns).items]
    assert "Stopping container c" in messages
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert pod.metadata.uid not in netns


def test_container_without_command_gets_a_clear_error(core, node, ns) -> None:
    core.create_namespaced_pod(ns, make_pod("nocmd", [{"name": "c", "image": "nginx"}]))
    status = wait_for(lambda: (s := container_status(_pod(core, ns, "nocmd"), "c")) and
                      s.state.waiting and s.state.waiting.reason == "CreateContainerError" and s,
                      what="CreateContainerError")
    assert "has none (set command)" in status.state.waiting.message


def test_pods_reach_each_other(core, node, ns) -> None:
    core.create_namespaced_pod(ns, make_pod("a", [
        {"name": "c", "image": "busybox",
         "command": [BUSYBOX, "httpd", "-f", "-p", "8080", "-h", str(node.root.parent)]}]))
    (node.root.parent / "index.html").write_text("from a\n")
    a = wait_for(lambda: _running_ready(core, ns, "a"), what="a Running")
    check = [BUSYBOX, "wget", "-q", "-O-", f"http://{a.status.pod_ip}:8080/"]
    core.create_namespaced_pod(ns, make_pod("b", [
        {"name": "c", "image": "busybox", "command": [BUSYBOX, "sleep", "3600"],
         "readinessProbe": {"exec": {"command": check}, "periodSeconds": 1}}]))
    wait_for(lambda: _running_ready(core, ns, "b"), what="b reaches a")
    assert os.path.exists("/var/run/netns")


def test_init_containers_run_in_order_before_the_app(core, node, ns, tmp_path: Path) -> None:
    trail = tmp_path / "trail"
    core.create_namespaced_pod(ns, make_pod("init", [
        {"name": "app", "image": "busybox",
         "command": ["sh", "-c", f"echo app >> {trail}; exit 0"]}],
        restartPolicy="OnFailure",
        initContainers=[{"name": f"i{n}", "image": "busybox",
                         "command": ["sh", "-c", f"echo i{n} >> {trail}"]} for n in (1, 2)]))
    pod = wait_for(lambda: (p := _pod(core, ns, "init")).status.phase == "Succeeded" and p,
                   timeout=20, what="pod Succeeded")
    assert trail.read_text().split() == ["i1", "i2", "app"]
    assert [s.state.terminated.reason for s in pod.status.init_container_statuses] == \
        ["Completed", "Completed"]
    assert condition(pod, "Initialized") == "True"


def test_startup_probe_gates_readiness_until_it_passes(core, node, ns, tmp_path: Path) -> None:
    flag = tmp_path / "started"
    core.create_namespaced_pod(ns, make_pod("slowstart", [
        {"name": "c", "image": "busybox", "command": [BUSYBOX, "sleep", "3600"],
         "startupProbe": {"exec": {"command": ["test", "-f", str(flag)]},
                          "periodSeconds": 1, "failureThreshold": 30},
         "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1}}]))
    wait_for(lambda: _pod(core, ns, "slowstart").status.phase == "Running", what="Running")
    time.sleep(1.5)
    status = container_status(_pod(core, ns, "slowstart"), "c")
    assert status.started is False and status.ready is False
    flag.write_text("ok")
    wait_for(lambda: _running_ready(core, ns, "slowstart"), what="Ready after startup")
    assert container_status(_pod(core, ns, "slowstart"), "c").started is True


def test_prestop_hook_runs_before_the_container_is_stopped(core, node, ns,
                                                          tmp_path: Path) -> None:
    marker = tmp_path / "prestop"
    core.create_namespaced_pod(ns, make_pod("hook", [
        {"name": "c", "image": "busybox", "command": [BUSYBOX, "sleep", "3600"],
         "lifecycle": {"preStop": {"exec": {"command": [
             "sh", "-c", f"echo stopping $HOSTNAME > {marker}"]}}}}]))
    wait_for(lambda: _running_ready(core, ns, "hook"), what="Running")
    core.delete_namespaced_pod("hook", ns)
    wait_for(lambda: not core.list_namespaced_pod(ns).items, what="pod removed")
    assert marker.read_text() == "stopping hook\n"


@pytest.mark.parametrize("binary", [KUBECTLS[0], KUBECTLS[-1]])
def test_kubectl_debug_attaches_to_its_ephemeral_container(core, node, ns, module_api,
                                                           tmp_path, binary) -> None:
    core.create_namespaced_pod(ns, make_pod("talker", [
        {"name": "app", "image": "busybox", "command": [BUSYBOX, "sleep", "3600"]}]))
    wait_for(lambda: _pod(core, ns, "talker").status.phase == "Running", timeout=30,
             what="the pod Running")
    kubectl = Kubectl(binary, module_api, tmp_path)
    out = kubectl.run("debug", "talker", "-n", ns, "-i", "--image=busybox", "-c", "talk",
                      "--", BUSYBOX, "sh", "-c", "read line; echo got $line",
                      stdin="hello\n")
    assert "got hello" in out.stdout, (out.stdout, out.stderr)


def test_an_ephemeral_container_runs_once_beside_the_pod(core, node, ns) -> None:
    core.create_namespaced_pod(ns, make_pod("patient", [
        {"name": "app", "image": "busybox", "command": [BUSYBOX, "sleep", "3600"]}]))
    wait_for(lambda: _pod(core, ns, "patient").status.phase == "Running", timeout=30,
             what="the pod Running")
    # what `kubectl debug patient --image=busybox -c dbg -- ...` sends
    core.patch_namespaced_pod_ephemeralcontainers("patient", ns, {"spec": {
        "ephemeralContainers": [{"name": "dbg", "image": "busybox", "command": [
            BUSYBOX, "sh", "-c", "echo debugging $HOSTNAME; exit 3"]}]}})

    def finished():
        statuses = _pod(core, ns, "patient").status.ephemeral_container_statuses or []
        return next((s for s in statuses if s.name == "dbg" and s.state.terminated), None)
    status = wait_for(finished, timeout=30, what="the ephemeral container's exit")
    assert status.state.terminated.exit_code == 3
    pod = _pod(core, ns, "patient")
    assert _log(node, pod, "dbg") == "debugging patient\n"
    assert core.read_namespaced_pod_log("patient", ns, container="dbg") == "debugging patient\n"
    time.sleep(2)  # never restarted, and the pod's own container is untouched
    pod = _pod(core, ns, "patient")
    assert pod.status.ephemeral_container_statuses[0].restart_count == 0
    assert pod.status.phase == "Running"
    assert container_status(pod, "app").restart_count == 0
