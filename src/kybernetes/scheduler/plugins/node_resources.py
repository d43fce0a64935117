"""NodeResourcesFit (filter + LeastAllocated/MostAllocated score) and
NodeResourcesBalancedAllocation (score), as kube-scheduler computes them.

Filter: the pod fits when the node has a pod slot left and, for every resource
the pod requests, `request <= allocatable - requested on the node`; each
shortfall is one reason (`Too many pods`, `Insufficient cpu`, …), so the
Unschedulable message counts them per node.

Scores read the node's running sums (kept by the cache), never its pods:
- LeastAllocated: per resource `(allocatable - requested) * 100 / allocatable`,
  using the "non-zero" cpu/memory requests (100m / 200Mi for containers that
  request nothing), weighted-averaged over the configured resources.
- MostAllocated: `requested * 100 / allocatable`, same averaging.
- BalancedAllocation: `(1 - std deviation of the requested fractions) * 100`,
  on real requests; skipped for pods that request no cpu or memory.
"""

from __future__ import annotations

import math
from typing import Any

from kybernetes.scheduler.framework import MAX_NODE_SCORE, SKIP, CycleState, Status, unschedulable
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import CPU, EPHEMERAL, MEMORY, PodInfo

LEAST, MOST = "LeastAllocated", "MostAllocated"
DEFAULT_RESOURCES = ((CPU, 1), (MEMORY, 1))


def fit_reasons(pod: PodInfo, node: NodeInfo) -> list[str]:
    """Every way in which `pod` does not fit `node` (empty when it fits)."""
    reasons = []
    if len(node.pods) + 1 > node.alloc_pods:
        reasons.append("Too many pods")
    r = pod.requests
    if r.cpu and r.cpu > node.alloc_cpu - node.req_cpu:
        reasons.append("Insufficient cpu")
    if r.memory and r.memory > node.alloc_memory - node.req_memory:
        reasons.append("Insufficient memory")
    if r.ephemeral and r.ephemeral > node.alloc_ephemeral - node.req_ephemeral:
        reasons.append("Insufficient ephemeral-storage")
    for name, amount in r.scalar:
        if amount > node.alloc_scalar.get(name, 0) - node.req_scalar.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons


def _allocatable_and_requested(pod: PodInfo, node: NodeInfo, resource: str, *,
                               non_zero: bool) -> tuple[int, int]:
    r = pod.requests
    if resource == CPU:
        return node.alloc_cpu, (node.nz_cpu + pod.non_zero_cpu if non_zero
                                else node.req_cpu + r.cpu)
    if resource == MEMORY:
        return node.alloc_memory, (node.nz_memory + pod.non_zero_memory if non_zero
                                   else node.req_memory + r.memory)
    if resource == EPHEMERAL:
        return node.alloc_ephemeral, node.req_ephemeral + r.ephemeral
    return node.alloc_scalar.get(resource, 0), (node.req_scalar.get(resource, 0)
                                                + dict(r.scalar).get(resource, 0))


def _least(requested: int, allocatable: int) -> int:
    if requested > allocatable:
        return 0
    return (allocatable - requested) * MAX_NODE_SCORE // allocatable


def _most(requested: int, allocatable: int) -> int:
    return min(requested, allocatable) * MAX_NODE_SCORE // allocatable


class NodeResourcesFit:
    name = "NodeResourcesFit"

    def __init__(self, args: dict[str, Any] | None = None, handle: Any = None) -> None:
        self.handle = handle
        strategy = (args or {}).get("scoringStrategy") or {}
        self.strategy = strategy.get("type") or LEAST
        if self.strategy not in (LEAST, MOST):
            raise ValueError(f"scoringStrategy.type: Unsupported value: {self.strategy!r}: "
                             f"supported values: {LEAST!r}, {MOST!r}")
        self.resources = tuple((r["name"], int(r.get("weight") or 1))
                               for r in strategy.get("resources") or ()) or DEFAULT_RESOURCES
        self._fast = self.strategy == LEAST and self.resources == DEFAULT_RESOURCES

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        # Inline fast path: the common pod (cpu/memory only) that fits.
        r = pod.requests
        if (len(node.pods) < node.alloc_pods and r.cpu <= node.alloc_cpu - node.req_cpu
                and r.memory <= node.alloc_memory - node.req_memory
                and not r.ephemeral and not r.scalar):
            return None
        reasons = fit_reasons(pod, node)
        return unschedulable(*reasons) if reasons else None

    def filter_nodes(self, state: CycleState, pod: PodInfo,
                     nodes: list[NodeInfo]) -> dict[int, Status]:
        """Many nodes in one call: the cpu/memory/pods check inlined."""
        r = pod.requests
        if r.ephemeral or r.scalar:
            return {i: st for i, n in enumerate(nodes)
                    if (st := self.filter(state, pod, n)) is not None}
        cpu, memory = r.cpu, r.memory
        rejected = {}
        for i, n in enumerate(nodes):
            if len(n.pods) >= n.alloc_pods or cpu > n.alloc_cpu - n.req_cpu or \
                    memory > n.alloc_memory - n.req_memory:
                reasons = fit_reasons(pod, n)
                if reasons:
                    rejected[i] = unschedulable(*reasons)
        return rejected

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """All nodes at once: the default strategy inlined (no call per node)."""
        if not self._fast:
            return [self.score(state, pod, n) for n in nodes]
        if self.handle is not None and self.handle.cache.any_node("zero_allocatable"):
            return [self.score(state, pod, n) for n in nodes]
        pc, pm = pod.non_zero_cpu, pod.non_zero_memory
        return [(((ac - rc) * 100 // ac) if (rc := n.nz_cpu + pc) <= (ac := n.alloc_cpu) else 0)
                + (((am - rm) * 100 // am) if (rm := n.nz_memory + pm) <= (am := n.alloc_memory)
                   else 0) >> 1
                for n in nodes]

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if self._fast:
            total = weights = 0
            if node.alloc_cpu:
                total += _least(node.nz_cpu + pod.non_zero_cpu, node.alloc_cpu)
                weights += 1
            if node.alloc_memory:
                total += _least(node.nz_memory + pod.non_zero_memory, node.alloc_memory)
                weights += 1
            return total // weights if weights else 0
        scorer = _least if self.strategy == LEAST else _most
        total = weights = 0
        for resource, weight in self.resources:
            allocatable, requested = _allocatable_and_requested(pod, node, resource,
                                                                non_zero=True)
            if allocatable:
                total += scorer(requested, allocatable) * weight
                weights += weight
        return total // weights if weights else 0


class NodeResourcesBalancedAllocation:
    name = "NodeResourcesBalancedAllocation"

    def __init__(self, args: dict[str, Any] | None = None, handle: Any = None) -> None:
        self.handle = handle
        self.resources = tuple(r["name"] for r in (args or {}).get("resources") or ()) \
            or (CPU, MEMORY)

    def pre_score(self, state: CycleState, pod: PodInfo,
                  nodes: list[NodeInfo]) -> Status | None:
        return SKIP if pod.requests.zero else None

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """All nodes at once; cpu + memory (the default) inlined."""
        if self.resources != (CPU, MEMORY):
            return [self.score(state, pod, n) for n in nodes]
        if self.handle is not None and self.handle.cache.any_node("zero_allocatable"):
            return [self.score(state, pod, n) for n in nodes]
        pc, pm = pod.requests.cpu, pod.requests.memory
        return [int((1 - abs((fc if (fc := (n.req_cpu + pc) / n.alloc_cpu) < 1.0 else 1.0)
                             - (fm if (fm := (n.req_memory + pm) / n.alloc_memory) < 1.0
                                else 1.0)) / 2) * MAX_NODE_SCORE)
                for n in nodes]

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        fractions = []
        for resource in self.resources:
            allocatable, requested = _allocatable_and_requested(pod, node, resource,
                                                                non_zero=False)
            if allocatable:
                fractions.append(min(requested / allocatable, 1.0))
        if len(fractions) == 2:
            std = abs(fractions[0] - fractions[1]) / 2
        elif len(fractions) > 2:
            mean = sum(fractions) / len(fractions)
            std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
        else:
            std = 0.0
        return int((1 - std) * MAX_NODE_SCORE)
