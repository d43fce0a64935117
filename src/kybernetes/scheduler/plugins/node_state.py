"""Filters on the node's own state: NodeUnschedulable, NodeName and NodeReady.

- NodeUnschedulable: `spec.unschedulable` keeps pods out unless they tolerate
  the `node.kubernetes.io/unschedulable:NoSchedule` taint (as DaemonSet pods do).
- NodeName: a pod that names a node fits only there (we never schedule such a
  pod ourselves, but a profile may still run the filter).
- NodeReady: in Kubernetes the node lifecycle controller turns a Ready condition
  that is not True into a `node.kubernetes.io/not-ready` (False) or
  `node.kubernetes.io/unreachable` (Unknown) NoSchedule taint. We apply that taint
  implicitly, so a not-ready node is skipped even before the controller acts, and
  the message reads as Kubernetes would print it.
"""

from __future__ import annotations

from typing import Any

from kybernetes.scheduler.framework import SKIP, CycleState, Handle, Status, unresolvable
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.plugins.tolerations import (
    NO_SCHEDULE,
    tolerated,
    untolerated_taint_reason,
)
from kybernetes.scheduler.podinfo import PodInfo

UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"


class NodeUnschedulable:
    name = "NodeUnschedulable"
    reason = "node(s) were unschedulable"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        self.handle = handle

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return None if self.handle is None or self.handle.cache.any_node("unschedulable") \
            else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if node.unschedulable and not tolerated(pod.tolerations, UNSCHEDULABLE_TAINT, "",
                                                NO_SCHEDULE):
            return unresolvable(self.reason)
        return None


class NodeName:
    name = "NodeName"
    reason = "node(s) didn't match the requested node name"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        pass

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return None if pod.node_name else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if pod.node_name and pod.node_name != node.name:
            return unresolvable(self.reason)
        return None


class NodeReady:
    name = "NodeReady"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        self.handle = handle

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return None if self.handle is None or self.handle.cache.any_node("not_ready") else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if node.ready == "True":
            return None
        key = NOT_READY_TAINT if node.ready == "False" else UNREACHABLE_TAINT
        if any(t[0] == key for t in node.taints) or tolerated(pod.tolerations, key, "",
                                                               NO_SCHEDULE):
            return None  # a real taint is TaintToleration's business
        return unresolvable(untolerated_taint_reason(key, ""))
