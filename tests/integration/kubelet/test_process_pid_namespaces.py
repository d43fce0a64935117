"""PID namespaces on the process runtime, as root, seen through the real kubectl exec:
a container's command is PID 1 of its own namespace (`--container-pid-namespaces`),
a `shareProcessNamespace` pod's containers see each other, and stopping, exit codes,
OOM kills and a kubelet restart work as without namespaces."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.kubelet.conftest import (
    IS_ROOT,
    container_status,
    make_pod,
    process_kubelet,
    wait_for,
)
from tests.support.kubectl import KUBECTLS, Kubectl

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(not IS_ROOT, reason="PID namespaces need root")]
BUSYBOX = shutil.which("busybox") or "/bin/busybox"


@pytest.fixture(scope="module")
def node(module_api, module_core, tmp_path_factory):
    with process_kubelet(module_api, module_core, tmp_path_factory,
                         "--container-pid-namespaces") as kubelet:
        yield kubelet


@pytest.fixture
def kubectl(module_api, tmp_path) -> Kubectl:
    return Kubectl(KUBECTLS[-1], module_api, tmp_path)


def _sleeper(name: str, seconds: str) -> dict:
    return {"name": name, "image": "busybox", "command": [BUSYBOX, "sleep", seconds]}


def _start(core, ns: str, name: str, containers: list[dict], **spec) -> None:
    core.create_namespaced_pod(ns, make_pod(name, containers, **spec))
    wait_for(lambda: core.read_namespaced_pod(name, ns).status.phase == "Running",
             timeout=30, what=f"{name} Running")


def _processes(kubectl: Kubectl, ns: str, pod: str, container: str) -> dict[int, str]:
    """PID → command line of what the container sees, from its own /proc."""
    out = kubectl("-n", ns, "exec", pod, "-c", container, "--", BUSYBOX, "ps", "-o", "pid,args")
    rows = [line.split(None, 1) for line in out.splitlines()[1:]]
    return {int(pid): args for pid, args in rows}


def test_a_container_is_pid_1_of_its_own_namespace(module_core, module_api, node, ns, kubectl,
                                                   tmp_path: Path) -> None:
    _start(module_core, ns, "solo", [_sleeper("a", "3611"), _sleeper("b", "3612")])
    oldest = Kubectl(KUBECTLS[0], module_api, tmp_path)  # SPDY; the newest: WebSocket
    assert oldest("-n", ns, "exec", "solo", "--", "cat", "/proc/1/cmdline").split("\0")[:3] \
        == [BUSYBOX, "sleep", "3611"]
    for container, own, other in (("a", "3611", "3612"), ("b", "3612", "3611")):
        cmdline = kubectl("-n", ns, "exec", "solo", "-c", container, "--",
                          "cat", "/proc/1/cmdline")
        assert cmdline.split("\0")[:3] == [BUSYBOX, "sleep", own]
        seen = _processes(kubectl, ns, "solo", container)
        assert seen[1] == f"{BUSYBOX} sleep {own}"
        assert len(seen) == 2 and "ps -o pid,args" in seen[max(seen)], seen  # and ps
        assert not any(other in args for args in seen.values())
    assert kubectl("-n", ns, "exec", "solo", "--", "hostname").strip() == "solo"


def test_share_process_namespace_shows_the_other_containers(module_core, node, ns,
                                                            kubectl) -> None:
    _start(module_core, ns, "shared", [_sleeper("a", "3621"), _sleeper("b", "3622")],
           shareProcessNamespace=True)
    for container in ("a", "b"):
        seen = _processes(kubectl, ns, "shared", container)
        assert "pid_init.py hold" in seen[1], seen  # the pod's PID 1, as kube's pause
        commands = set(seen.values())
        assert {f"{BUSYBOX} sleep 3621", f"{BUSYBOX} sleep 3622"} <= commands, seen


def test_stop_exit_codes_and_oom_kill(module_core, node, ns, tmp_path: Path) -> None:
    marker = tmp_path / "term"
    handler = ["sh", "-c", f"trap 'echo TERM > {marker}; exit 3' TERM; "
               "while true; do sleep 0.1; done"]
    hog = ["python3", "-c", "b = bytearray(400 * 1024 * 1024); import time; time.sleep(60)"]
    module_core.create_namespaced_pod(ns, make_pod("ends", [
        {"name": "seven", "image": "busybox", "command": ["sh", "-c", "exit 7"]},
        {"name": "hog", "image": "python", "command": hog,
         "resources": {"limits": {"memory": "64Mi"}}}], restartPolicy="Never"))
    _start(module_core, ns, "stop", [
        {"name": "handler", "image": "busybox", "command": handler}, _sleeper("plain", "3631")],
        terminationGracePeriodSeconds=3)

    def ended():
        pod = module_core.read_namespaced_pod("ends", ns)
        statuses = [container_status(pod, c) for c in ("seven", "hog")]
        # before the kubelet's first status write the pod has no container statuses
        states = [s.state.terminated if s is not None else None for s in statuses]
        return all(states) and states
    seven, hog_state = wait_for(ended, timeout=30, what="both containers ended")
    assert (seven.reason, seven.exit_code) == ("Error", 7)
    assert (hog_state.reason, hog_state.exit_code) == ("OOMKilled", 137)

    started = time.monotonic()
    module_core.delete_namespaced_pod("stop", ns)
    wait_for(lambda: all(p.metadata.name != "stop"
                         for p in module_core.list_namespaced_pod(ns).items),
             timeout=20, what="pod removed")
    elapsed = time.monotonic() - started
    # the handler's SIGTERM arrived; the plain PID 1 ignored it (no handler), as in
    # Kubernetes, so the stop took the grace period and SIGKILL
    assert marker.read_text() == "TERM\n"
    assert 2.8 <= elapsed < 15, elapsed


def test_kubelet_restart_adopts_namespaced_containers(module_core, node, ns,
                                                      kubectl) -> None:
    _start(module_core, ns, "kept", [_sleeper("a", "3641"), _sleeper("b", "3642")],
           shareProcessNamespace=True)
    _start(module_core, ns, "kept-solo", [_sleeper("c", "3643")])
    ids = {c.name: c.container_id
           for name in ("kept", "kept-solo")
           for c in module_core.read_namespaced_pod(name, ns).status.container_statuses}
    node.kill()  # a crash: containers and the pod's PID 1 live on
    node.start().wait_serving()
    time.sleep(1.5)  # a pod sync on the new kubelet
    assert {c.name: c.container_id
            for name in ("kept", "kept-solo")
            for c in module_core.read_namespaced_pod(name, ns).status.container_statuses} == ids
    assert f"{BUSYBOX} sleep 3641" in _processes(kubectl, ns, "kept", "b").values()
    assert _processes(kubectl, ns, "kept-solo", "c")[1] == f"{BUSYBOX} sleep 3643"

    uid = module_core.read_namespaced_pod("kept", ns).metadata.uid
    record = json.loads((node.root / "runtime" / "sandboxes" / f"{uid}.json").read_text())
    holder = Path(f"/proc/{record['pid_holder']}")
    assert holder.exists()
    module_core.delete_namespaced_pod("kept", ns, grace_period_seconds=1)
    wait_for(lambda: not holder.exists(), timeout=20, what="the pod's PID 1 gone")


def test_kubectl_debug_target_joins_the_containers_pid_namespace(module_core, node, ns,
                                                                 kubectl) -> None:
    _start(module_core, ns, "targeted", [_sleeper("app", "3641"), _sleeper("side", "3642")])
    kubectl("-n", ns, "debug", "targeted", "--image=busybox", "-c", "dbg", "--target=app",
            "--", BUSYBOX, "sh", "-c", "cat /proc/1/cmdline; echo; ps -o args")

    def finished() -> list[Any] | str:
        pod = module_core.read_namespaced_pod("targeted", ns)
        done = [s for s in pod.status.ephemeral_container_statuses or []
                if s.state.terminated]
        return done and module_core.read_namespaced_pod_log("targeted", ns, container="dbg")
    out = wait_for(finished, timeout=30, what="the debug container's output")
    assert out.splitlines()[0].split("\0")[:3] == [BUSYBOX, "sleep", "3641"]
    assert "3642" not in out  # the other container's namespace is not seen
