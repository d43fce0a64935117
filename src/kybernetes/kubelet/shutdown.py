"""Graceful node shutdown: what a kubelet does with its pods when its node goes down.

After Kubernetes' GracefulNodeShutdown (pkg/kubelet/nodeshutdown): when the node is
told to shut down (here: the kubelet gets SIGTERM with ``--shutdown-grace-period``
set), the kubelet reports its Node not Ready ("node is shutting down"), stops the
regular pods within ``shutdownGracePeriod - shutdownGracePeriodCriticalPods`` and
then the critical ones (priority ≥ system-cluster-critical's 2000000000) within
``shutdownGracePeriodCriticalPods`` — a pod's own terminationGracePeriodSeconds
wins when shorter — and leaves each pod Failed (unless it had Succeeded) with
reason ``Terminated``, kube's message and a DisruptionTarget condition with reason
TerminationByKubelet. The pod objects stay: their controllers replace them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kybernetes.kubelet.config import rfc3339

log = logging.getLogger("kybernetes.kubelet.shutdown")

REASON = "Terminated"
MESSAGE = "Pod was terminated in response to imminent node shutdown."
NOT_READY = "node is shutting down"
SYSTEM_CRITICAL_PRIORITY = 2_000_000_000


class ShuttingDownPod(Protocol):
    """A pod worker the node stops for good."""

    pod: dict[str, Any]

    async def shut_down(self, grace: float, reason: Any) -> None:
        """Stop the containers within `grace` seconds, then post the final status after
        `reason(status)` changed it."""


class ShuttingDownNode(Protocol):
    """The kubelet as the shutdown sees it."""

    async def mark_shutting_down(self, message: str) -> Sequence[ShuttingDownPod]:
        """Report the node not ready, stop taking pods, and hand over the pod workers
        (no longer syncing on their own)."""


@dataclass(frozen=True)
class GracePeriods:
    """shutdownGracePeriod and shutdownGracePeriodCriticalPods, in seconds."""

    total: float = 0.0
    critical: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.total > 0

    def __post_init__(self) -> None:
        if self.critical < 0 or self.total < 0 or self.critical > self.total:
            raise ValueError("shutdownGracePeriodCriticalPods must be <= shutdownGracePeriod")


def is_critical(pod: dict[str, Any]) -> bool:
    priority = (pod.get("spec") or {}).get("priority")
    return isinstance(priority, int) and priority >= SYSTEM_CRITICAL_PRIORITY


def pod_grace(pod: dict[str, Any], group_grace: float) -> float:
    """The group's period, or the pod's terminationGracePeriodSeconds when shorter."""
    own = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    if isinstance(own, int) and own <= group_grace:
        return float(own)
    return group_grace


def mark_terminated(status: dict[str, Any]) -> None:
    """The status a pod stopped by the node's shutdown ends with."""
    if status.get("phase") != "Succeeded":
        status["phase"] = "Failed"
    status["reason"], status["message"] = REASON, MESSAGE
    conditions = [c for c in status.get("conditions") or []
                  if c.get("type") != "DisruptionTarget"]
    conditions.append({"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                       "lastTransitionTime": rfc3339(), "reason": "TerminationByKubelet",
                       "message": MESSAGE})
    status["conditions"] = conditions


async def shut_down(node: ShuttingDownNode, periods: GracePeriods) -> None:
    """Stop every pod, regular ones first, each group within its share of the period."""
    workers = await node.mark_shutting_down(NOT_READY)
    groups = (
        (periods.total - periods.critical, [w for w in workers if not is_critical(w.pod)]),
        (periods.critical, [w for w in workers if is_critical(w.pod)]),
    )
    for grace, group in groups:
        if not group:
            continue
        log.info("shutting down pods", extra={"pods": len(group), "grace": grace})
        try:
            async with asyncio.timeout(grace + 2.0):
                await asyncio.gather(*(w.shut_down(pod_grace(w.pod, grace), mark_terminated)
                                       for w in group), return_exceptions=True)
        except TimeoutError:
            log.warning("pods not stopped within the shutdown grace period",
                        extra={"grace": grace})
