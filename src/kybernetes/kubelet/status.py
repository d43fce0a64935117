"""A pod's status, computed from what the runtime reports (pure, no I/O).

The rules are the Kubernetes kubelet's (`getPhase`, `generateAPIPodStatus` and
the condition generators in pkg/kubelet/status): a container waiting after it
has run counts as stopped, so a crash-looping pod stays Running; a pod with
unfinished init containers is Pending; Ready follows ContainersReady; a
condition keeps its lastTransitionTime while its status does not change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kybernetes.kubelet.config import rfc3339
from kybernetes.kubelet.runtime.base import EXITED, RUNNING, ContainerInfo


@dataclass
class PodObservation:
    """What a pod worker knows at one moment."""

    containers: dict[str, list[ContainerInfo]]          # name -> attempts, oldest first
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> reason, msg
    ready: set[str] = field(default_factory=set)        # container ids passing readiness
    started: set[str] = field(default_factory=set)      # container ids past startup probes
    sandbox_ready: bool = False
    pod_ip: str = ""
    host_ip: str = ""
    start_time: str = ""


def _terminated(c: ContainerInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"exitCode": c.exit_code if c.exit_code is not None else 0,
                           "reason": c.reason or ("Completed" if c.exit_code == 0 else "Error"),
                           "startedAt": rfc3339(c.started_at) if c.started_at else None,
                           "finishedAt": rfc3339(c.finished_at) if c.finished_at else None,
                           "containerID": c.id}
    if c.message:
        out["message"] = c.message
    return out


def container_status(spec: dict[str, Any], obs: PodObservation, *,
                     default_wait: str = "ContainerCreating") -> dict[str, Any]:
    """One entry of status.containerStatuses (or initContainerStatuses)."""
    name = spec["name"]
    attempts = obs.containers.get(name) or []
    latest = attempts[-1] if attempts else None
    status: dict[str, Any] = {"name": name, "image": spec.get("image", ""), "imageID": "",
                              "ready": False, "restartCount": latest.attempt if latest else 0,
                              "started": False, "lastState": {}}
    previous = [c for c in attempts if c.state == EXITED]
    if name in obs.waiting:
        reason, message = obs.waiting[name]
        status["state"] = {"waiting": {"reason": reason, "message": message}}
        if previous:
            status["lastState"] = {"terminated": _terminated(previous[-1])}
    elif latest is None:
        status["state"] = {"waiting": {"reason": default_wait}}
    elif latest.state == RUNNING:
        status["state"] = {"running": {"startedAt": rfc3339(latest.started_at)}}
        status["started"] = latest.id in obs.started
        status["ready"] = latest.id in obs.ready and status["started"]
        if previous:
            status["lastState"] = {"terminated": _terminated(previous[-1])}
    elif latest.state == EXITED:
        status["state"] = {"terminated": _terminated(latest)}
        if len(previous) > 1:
            status["lastState"] = {"terminated": _terminated(previous[-2])}
    else:
        status["state"] = {"waiting": {"reason": default_wait}}
    if latest is not None:
        status.update(containerID=latest.id, imageID=latest.image_id)
    return status


def _init_done(statuses: list[dict[str, Any]]) -> bool:
    return all(s["state"].get("terminated", {}).get("exitCode", 1) == 0 for s in statuses)


def pod_phase(pod: dict[str, Any], init: list[dict[str, Any]],
              main: list[dict[str, Any]]) -> str:
    """Pending, Running, Succeeded or Failed, by the kubelet's getPhase rules."""
    policy = pod["spec"].get("restartPolicy", "Always")
    failed_init = any(s["state"].get("terminated", {}).get("exitCode", 0) != 0 for s in init)
    if failed_init and policy == "Never":
        return "Failed"
    if not _init_done(init):
        return "Pending"
    running = stopped = succeeded = waiting = 0
    for s in main:
        state = s["state"]
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"].get("exitCode") == 0
        elif s.get("lastState", {}).get("terminated"):
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if policy == "Never" else "Running"
    return "Pending"


def _condition(ctype: str, ok: bool, previous: dict[str, dict[str, Any]], *,
               reason: str = "", message: str = "") -> dict[str, Any]:
    status = "True" if ok else "False"
    old = previous.get(ctype) or {}
    cond: dict[str, Any] = {"type": ctype, "status": status, "lastProbeTime": None,
                            "lastTransitionTime": old.get("lastTransitionTime")
                            if old.get("status") == status else rfc3339()}
    if not ok and reason:
        cond.update(reason=reason, message=message)
    return cond


def _names(statuses: list[dict[str, Any]], bad: Any) -> str:
    return "[" + " ".join(s["name"] for s in statuses if bad(s)) + "]"


def qos_class(pod: dict[str, Any]) -> str:
    """BestEffort, Burstable or Guaranteed, from requests and limits."""
    containers = pod["spec"].get("containers", [])
    res = [c.get("resources") or {} for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in res):
        return "BestEffort"
    for r in res:
        limits, requests = r.get("limits") or {}, r.get("requests") or {}
        for key in ("cpu", "memory"):
            if key not in limits or requests.get(key, limits[key]) != limits[key]:
                return "Burstable"
    return "Guaranteed"


def pod_status(pod: dict[str, Any], obs: PodObservation) -> dict[str, Any]:
    """The whole status block the kubelet writes for `pod`."""
    spec = pod["spec"]
    init = [container_status(c, obs) for c in spec.get("initContainers") or []]
    wait = "PodInitializing" if not _init_done(init) else "ContainerCreating"
    main = [container_status(c, obs, default_wait=wait) for c in spec.get("containers") or []]
    phase = pod_phase(pod, init, main)
    old = pod.get("status") or {}
    previous = {c.get("type"): c for c in old.get("conditions") or []}
    done = phase in ("Succeeded", "Failed")
    unready = _names(main, lambda s: not s["ready"])
    all_ready = not done and all(s["ready"] for s in main)
    ready_reason = "PodCompleted" if done else "ContainersNotReady"
    ready_msg = "" if done else f"containers with unready status: {unready}"
    initialized = _init_done(init)
    conditions = [
        _condition("PodReadyToStartContainers", obs.sandbox_ready, previous),
        _condition("Initialized", initialized, previous, reason="ContainersNotInitialized",
                   message="containers with incomplete status: "
                   + _names(init, lambda s: "terminated" not in s["state"])),
        _condition("Ready", all_ready, previous, reason=ready_reason, message=ready_msg),
        _condition("ContainersReady", all_ready, previous, reason=ready_reason,
                   message=ready_msg),
    ]
    conditions.append(_condition("PodScheduled", True, previous))  # true once on a node
    status: dict[str, Any] = {"phase": phase, "conditions": conditions,
                              "hostIP": obs.host_ip, "hostIPs": [{"ip": obs.host_ip}],
                              "startTime": obs.start_time or old.get("startTime") or rfc3339(),
                              "containerStatuses": main,
                              "qosClass": old.get("qosClass") or qos_class(pod)}
    if init:
        status["initContainerStatuses"] = init
    ephemeral = [container_status(c, obs) for c in spec.get("ephemeralContainers") or []]
    if ephemeral:
        status["ephemeralContainerStatuses"] = ephemeral
    if obs.pod_ip:
        status.update(podIP=obs.pod_ip, podIPs=[{"ip": obs.pod_ip}])
    return status


# Conditions the kubelet owns; any other (DisruptionTarget from an eviction, a
# readiness gate's) is someone else's and kept as the API server has it.
KUBELET_CONDITIONS = frozenset(("PodScheduled", "Ready", "Initialized", "ContainersReady",
                                "PodReadyToStartContainers"))


def keep_foreign_conditions(status: dict[str, Any], current: dict[str, Any] | None) -> None:
    """The status manager's mergePodStatus: conditions of others in `current` (the pod's
    status on the API server) stay, ahead of the kubelet's own ones, unless `status`
    sets that type itself (the kubelet shares DisruptionTarget)."""
    own = {c.get("type") for c in status.get("conditions") or []}
    foreign = [c for c in (current or {}).get("conditions") or []
               if c.get("type") not in KUBELET_CONDITIONS and c.get("type") not in own]
    if foreign:
        status["conditions"] = foreign + list(status.get("conditions") or [])
