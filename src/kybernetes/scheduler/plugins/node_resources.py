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

import numpy as np

from kybernetes.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    CycleState,
    Handle,
    Status,
    unschedulable,
)
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


def _least_vector(requested: np.ndarray, allocatable: np.ndarray) -> np.ndarray:
    """`_least` over arrays (allocatable is never zero here)."""
    return np.where(requested <= allocatable,
                    (allocatable - requested) * MAX_NODE_SCORE // allocatable, 0)


def _most(requested: int, allocatable: int) -> int:
    return min(requested, allocatable) * MAX_NODE_SCORE // allocatable


class NodeResourcesFit:
    name = "NodeResourcesFit"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
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
        """Many nodes at once: pods/cpu/memory as vector compares on the node table."""
        r = pod.requests
        if r.ephemeral or r.scalar or self.handle is None:
            return {i: st for i, n in enumerate(nodes)
                    if (st := self.filter(state, pod, n)) is not None}
        t = self.handle.cache.table()
        rows = t.rows(nodes, state.rows)
        fits = ((t.npods[rows] < t.alloc_pods[rows])
                & (t.alloc_cpu[rows] - t.req_cpu[rows] >= r.cpu)
                & (t.alloc_memory[rows] - t.req_memory[rows] >= r.memory))
        rejected = {}
        for i in np.flatnonzero(~fits).tolist():
            reasons = fit_reasons(pod, nodes[i])  # also forgives zero requests
            if reasons:
                rejected[i] = unschedulable(*reasons)
        return rejected

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Any:
        """All nodes at once: the default strategy as vector arithmetic."""
        if not self._fast or self.handle is None or \
                self.handle.cache.any_node("zero_allocatable"):
            return [self.score(state, pod, n) for n in nodes]
        t = self.handle.cache.table()
        rows = t.rows(nodes, state.rows)
        return ((_least_vector(t.nz_cpu[rows] + pod.non_zero_cpu, t.alloc_cpu[rows])
                 + _least_vector(t.nz_memory[rows] + pod.non_zero_memory,
                                 t.alloc_memory[rows])) >> 1)

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

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        self.handle = handle
        self.resources = tuple(r["name"] for r in (args or {}).get("resources") or ()) \
            or (CPU, MEMORY)

    def pre_score(self, state: CycleState, pod: PodInfo,
                  nodes: list[NodeInfo]) -> Status | None:
        return SKIP if pod.requests.zero else None

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Any:
        """All nodes at once; cpu + memory (the default) as vector arithmetic."""
        if self.resources != (CPU, MEMORY) or self.handle is None or \
                self.handle.cache.any_node("zero_allocatable"):
            return [self.score(state, pod, n) for n in nodes]
        t = self.handle.cache.table()
        rows = t.rows(nodes, state.rows)
        fc = np.minimum((t.req_cpu[rows] + pod.requests.cpu) / t.alloc_cpu[rows], 1.0)
        fm = np.minimum((t.req_memory[rows] + pod.requests.memory) / t.alloc_memory[rows], 1.0)
        return ((1 - np.abs(fc - fm) / 2) * MAX_NODE_SCORE).astype(np.int64)

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
