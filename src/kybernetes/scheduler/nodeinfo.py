"""A node plus the aggregate of the pods committed to it, kept incrementally.

The cache owns one :class:`NodeInfo` per node. Adding or removing a pod adjusts
the sums (requested, non-zero requested, host ports in use) in O(1), so no plugin
ever walks a node's pods to learn how full it is. The node's own fields
(allocatable, taints, labels, readiness) are parsed once per node update.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kybernetes.scheduler.podinfo import CPU, EPHEMERAL, MEMORY, PODS, PodInfo, amount

Taint = tuple[str, str, str]  # key, value, effect


def _allocatable(status: dict[str, Any]) -> dict[str, int]:
    raw = status.get("allocatable") or status.get("capacity") or {}
    out: dict[str, int] = {}
    for name, value in raw.items():
        try:
            out[name] = amount(name, value)
        except ValueError:
            continue
    return out


def _ready_condition(status: dict[str, Any]) -> str:
    for c in status.get("conditions") or ():
        if c.get("type") == "Ready":
            return str(c.get("status") or "Unknown")
    return "Unknown"


@dataclass(slots=True)
class NodeInfo:
    """One node as the scheduler sees it: its object and what is committed on it."""

    name: str
    node: dict[str, Any]
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False
    ready: str = "Unknown"
    alloc_cpu: int = 0
    alloc_memory: int = 0
    alloc_ephemeral: int = 0
    alloc_pods: int = 0
    alloc_scalar: dict[str, int] = field(default_factory=dict)
    # aggregates over `pods`
    pods: dict[str, PodInfo] = field(default_factory=dict)
    req_cpu: int = 0
    req_memory: int = 0
    req_ephemeral: int = 0
    req_scalar: Counter[str] = field(default_factory=Counter)
    nz_cpu: int = 0
    nz_memory: int = 0
    used_ports: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    #: The pods with inter-pod (anti-)affinity terms, which InterPodAffinity reads.
    affinity_pods: dict[str, PodInfo] = field(default_factory=dict)
    #: How many of `pods` are terminating.
    terminating: int = 0
    #: Bumped on every change, so callers can tell a node moved on.
    generation: int = 0
    #: This node's row in the cache's NodeTable (-1: none).
    row: int = -1

    def set_node(self, node: dict[str, Any]) -> None:
        """Take a new version of the Node object (labels, taints, allocatable, …)."""
        meta, spec, status = node.get("metadata") or {}, node.get("spec") or {}, \
            node.get("status") or {}
        self.node = node
        self.labels = meta.get("labels") or {}
        self.taints = tuple((t.get("key") or "", t.get("value") or "", t.get("effect") or "")
                            for t in spec.get("taints") or ())
        self.unschedulable = bool(spec.get("unschedulable"))
        self.ready = _ready_condition(status)
        alloc = _allocatable(status)
        self.alloc_cpu = alloc.pop(CPU, 0)
        self.alloc_memory = alloc.pop(MEMORY, 0)
        self.alloc_ephemeral = alloc.pop(EPHEMERAL, 0)
        self.alloc_pods = alloc.pop(PODS, 0)
        self.alloc_scalar = alloc
        self.generation += 1

    def add_pod(self, pod: PodInfo, sign: int = 1) -> None:
        """Count `pod` on this node (sign=-1 takes it off again)."""
        r = pod.requests
        self.req_cpu += sign * r.cpu
        self.req_memory += sign * r.memory
        self.req_ephemeral += sign * r.ephemeral
        for name, value in r.scalar:
            self.req_scalar[name] += sign * value
        self.nz_cpu += sign * pod.non_zero_cpu
        self.nz_memory += sign * pod.non_zero_memory
        if pod.terminating:
            self.terminating += sign
        for port in pod.host_ports:
            self.used_ports[port] += sign
            if self.used_ports[port] <= 0:
                del self.used_ports[port]
        if sign > 0:
            self.pods[pod.key] = pod
            if pod.affinity is not None:
                self.affinity_pods[pod.key] = pod
        else:
            self.pods.pop(pod.key, None)
            self.affinity_pods.pop(pod.key, None)
        self.generation += 1

    def clone(self) -> NodeInfo:
        """A copy whose pods and sums can change without touching this one (preemption
        tries removing pods on it)."""
        twin = copy.copy(self)
        twin.pods = dict(self.pods)
        twin.affinity_pods = dict(self.affinity_pods)
        twin.req_scalar = Counter(self.req_scalar)
        twin.used_ports = Counter(self.used_ports)
        twin.row = -1
        return twin

    def remove_pod(self, key: str) -> PodInfo | None:
        pod = self.pods.get(key)
        if pod is not None:
            self.add_pod(pod, -1)
        return pod


def new_node_info(node: dict[str, Any]) -> NodeInfo:
    info = NodeInfo(name=node["metadata"]["name"], node=node)
    info.set_node(node)
    return info
