"""Pod phase and conditions computed from what the runtime reports."""

from __future__ import annotations

from typing import Any

from kybernetes.kubelet.runtime.base import EXITED, RUNNING, ContainerInfo
from kybernetes.kubelet.status import PodObservation, pod_status


def _pod(policy: str = "Always", init: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"restartPolicy": policy, "containers": [
        {"name": "a", "image": "i"}, {"name": "b", "image": "i"}]}
    if init:
        spec["initContainers"] = [{"name": "setup", "image": "i"}]
    return {"metadata": {"name": "p", "uid": "u"}, "spec": spec, "status": {}}


def _c(name: str, state: str, attempt: int = 0, code: int | None = None) -> ContainerInfo:
    return ContainerInfo(id=f"x://{name}{attempt}", pod_uid="u", name=name, attempt=attempt,
                         state=state, started_at=1.0, finished_at=2.0 if state == EXITED else None,
                         exit_code=code)


def _conds(status: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in status["conditions"]}


def test_running_and_ready_when_every_container_runs_and_is_ready() -> None:
    a, b = _c("a", RUNNING), _c("b", RUNNING)
    obs = PodObservation(containers={"a": [a], "b": [b]}, ready={a.id, b.id},
                         started={a.id, b.id}, sandbox_ready=True, pod_ip="10.0.0.2",
                         host_ip="192.0.2.1")
    status = pod_status(_pod(), obs)
    assert status["phase"] == "Running"
    assert _conds(status) == {"PodReadyToStartContainers": "True", "Initialized": "True",
                              "Ready": "True", "ContainersReady": "True", "PodScheduled": "True"}
    assert status["podIP"] == "10.0.0.2" and status["podIPs"] == [{"ip": "10.0.0.2"}]


def test_one_unready_container_makes_the_pod_unready_with_its_name() -> None:
    a, b = _c("a", RUNNING), _c("b", RUNNING)
    obs = PodObservation(containers={"a": [a], "b": [b]}, ready={a.id}, started={a.id, b.id})
    status = pod_status(_pod(), obs)
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ContainersNotReady")
    assert ready["message"] == "containers with unready status: [b]"


def test_crash_looping_container_keeps_the_pod_running() -> None:
    a0, a1 = _c("a", EXITED, 0, 1), _c("a", EXITED, 1, 1)
    obs = PodObservation(containers={"a": [a0, a1], "b": [_c("b", RUNNING)]},
                         waiting={"a": ("CrashLoopBackOff", "back-off 10s")})
    status = pod_status(_pod(), obs)
    a = status["containerStatuses"][0]
    assert status["phase"] == "Running"
    assert a["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}}
    assert a["lastState"]["terminated"]["exitCode"] == 1 and a["restartCount"] == 1


def test_never_policy_failure_and_success() -> None:
    failed = PodObservation(containers={"a": [_c("a", EXITED, code=2)],
                                        "b": [_c("b", EXITED, code=0)]})
    assert pod_status(_pod("Never"), failed)["phase"] == "Failed"
    ok = PodObservation(containers={"a": [_c("a", EXITED, code=0)],
                                    "b": [_c("b", EXITED, code=0)]})
    status = pod_status(_pod("Never"), ok)
    assert status["phase"] == "Succeeded"
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "PodCompleted"


def test_unfinished_init_container_keeps_the_pod_pending() -> None:
    obs = PodObservation(containers={"setup": [_c("setup", RUNNING)]})
    status = pod_status(_pod(init=True), obs)
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert _conds(status)["Initialized"] == "False"


def test_transition_time_is_kept_while_a_condition_holds() -> None:
    pod = _pod()
    pod["status"] = {"conditions": [{"type": "Ready", "status": "False",
                                     "lastTransitionTime": "2020-01-01T00:00:00Z"}]}
    status = pod_status(pod, PodObservation(containers={}))
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["lastTransitionTime"] == "2020-01-01T00:00:00Z"
