"""DefaultPreemption: when no node fits a pod, make room by evicting lower-priority pods.

As kube-scheduler's PostFilter (framework/preemption):

1. A pod with `preemptionPolicy: Never` never preempts; one whose nominated node
   still has lower-priority pods terminating waits for them (and keeps its place).
2. Candidates are the nodes that rejected the pod as Unschedulable (not
   unresolvable: a taint or a node selector cannot be helped by evicting pods),
   tried from a random offset until max(10% of the nodes, 100) candidates are
   found. On a copy of each, every pod of lower priority is taken off; if the
   pod then passes the profile's filters, the victims are given back one by
   one, most important first (those whose eviction would break a
   PodDisruptionBudget before the others), keeping each that still lets the pod
   fit.
3. The node chosen has the fewest PDB violations, then the lowest highest victim
   priority, the lowest sum of priorities, the fewest victims, the latest start
   among its most important victims.
4. The preemptor is nominated to that node (status.nominatedNodeName, and its
   room is held in the cache) and the victims are evicted (a DisruptionTarget
   condition, a `Preempted` event, a delete); the pod is tried again when they
   are gone.

Not built: filters are re-run on the node copy only (the pod-counting plugins'
cluster-wide state is not recomputed, so preemption does not help a pod turned
away by its own anti-affinity or spreading), and extenders.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api import labels
from kybernetes.api.resources import POD_DISRUPTION_BUDGETS
from kybernetes.scheduler.framework import (
    Code,
    CycleState,
    Handle,
    Status,
    unresolvable,
    unschedulable,
)
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
NEVER = "not eligible due to preemptionPolicy=Never"
WAITING = "not eligible due to a terminating pod on the nominated node"
_LATEST = "9999"  # a pod that has not started sorts as the newest


@dataclass
class Candidate:
    node: str
    victims: list[PodInfo] = field(default_factory=list)
    pdb_violations: int = 0

    def rank(self) -> tuple[Any, ...]:
        """Smaller is better (pickOneNodeForPreemption's order)."""
        priorities = [v.priority for v in self.victims]
        highest = max(priorities, default=-(2 ** 31))
        earliest = min((_start(v) for v in self.victims if v.priority == highest),
                       default=_LATEST)
        return (self.pdb_violations, highest, sum(p + 2 ** 31 for p in priorities),
                len(self.victims), _Reversed(earliest))


@dataclass(frozen=True)
class _Reversed:
    """Orders strings backwards: a later start time ranks first."""

    value: str

    def __lt__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.value > other.value


def _start(pod: PodInfo) -> str:
    return str((pod.pod.get("status") or {}).get("startTime") or _LATEST)


def _importance(pod: PodInfo) -> tuple[int, str]:
    """MoreImportantPod: higher priority first, then the earlier started."""
    return -pod.priority, _start(pod)


def split_by_budget(pods: list[PodInfo], budgets: list[dict[str, Any]]
                    ) -> tuple[list[PodInfo], list[PodInfo]]:
    """(pods whose eviction breaks a PodDisruptionBudget, the others), in order."""
    allowed = [int((b.get("status") or {}).get("disruptionsAllowed") or 0) for b in budgets]
    selectors = []
    for b in budgets:
        try:
            selectors.append(labels.from_label_selector((b.get("spec") or {}).get("selector")))
        except Exception:  # a budget with a bad selector protects nothing
            selectors.append(labels.NOTHING)
    violating: list[PodInfo] = []
    fine: list[PodInfo] = []
    for pod in pods:
        breaks = False
        for i, budget in enumerate(budgets):
            meta = budget.get("metadata") or {}
            if meta.get("namespace") != pod.namespace or selectors[i].empty or \
                    not selectors[i].matches(pod.labels) or \
                    pod.name in ((budget.get("status") or {}).get("disruptedPods") or {}):
                continue
            allowed[i] -= 1
            if allowed[i] < 0:
                breaks = True
        (violating if breaks else fine).append(pod)
    return violating, fine


class DefaultPreemption:
    name = "DefaultPreemption"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        args = args or {}
        self.handle = handle
        self.min_percentage = int(args.get("minCandidateNodesPercentage", 10))
        self.min_absolute = int(args.get("minCandidateNodesAbsolute", 100))
        self._budgets = handle.informer(POD_DISRUPTION_BUDGETS) if handle else None
        self.rng = random.Random()

    def post_filter(self, state: CycleState, pod: PodInfo,
                    statuses: dict[str, Status]) -> Status | None:
        total = len(self.handle.cache) if self.handle is not None else len(statuses)
        if (pod.spec.get("preemptionPolicy") or "") == "Never":
            return unschedulable(f"preemption: {NEVER}")
        if self.handle is None or state.run_filters is None:
            return unschedulable(f"preemption: 0/{total} nodes are available: {total} "
                                 f"{NOT_HELPFUL}")
        waiting = self._waiting_on_nominated_node(pod, statuses)
        if waiting is not None:
            return waiting
        candidates, reasons = self._candidates(state, pod, statuses)
        if not candidates:
            summary = ", ".join(sorted(f"{n} {r}" for r, n in reasons.items()))
            return unschedulable(f"preemption: 0/{total} nodes are available: {summary}")
        best = min(candidates, key=Candidate.rank)
        if self.handle.preemptor is not None:
            self.handle.preemptor.preempt(pod, best.node, best.victims)
        return Status(Code.SUCCESS)

    def _waiting_on_nominated_node(self, pod: PodInfo,
                                   statuses: dict[str, Status]) -> Status | None:
        """A pod that preempted already waits while its victims terminate."""
        assert self.handle is not None
        nominated = str((pod.pod.get("status") or {}).get("nominatedNodeName") or "")
        status = statuses.get(nominated)
        if not nominated or (status is not None and
                             status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE):
            return None
        node = self.handle.cache.node(nominated)
        if node is None or not any(p.terminating and p.priority < pod.priority
                                   for p in node.pods.values()):
            return None
        if self.handle.preemptor is not None:
            self.handle.preemptor.nominate(pod, nominated)
        return unschedulable(f"preemption: {WAITING}")

    def _candidates(self, state: CycleState, pod: PodInfo, statuses: dict[str, Status]
                    ) -> tuple[list[Candidate], Counter[str]]:
        assert self.handle is not None
        nodes = self.handle.cache.nodes()
        reasons: Counter[str] = Counter()
        potential = []
        for node in nodes:
            status = statuses.get(node.name)
            if status is not None and status.code == Code.UNSCHEDULABLE:
                potential.append(node)
            else:
                reasons[NOT_HELPFUL] += 1
        wanted = max(len(nodes) * self.min_percentage // 100, self.min_absolute)
        offset = self.rng.randrange(len(potential)) if potential else 0
        budgets = self._budgets.list() if self._budgets is not None else []
        candidates: list[Candidate] = []
        for node in potential[offset:] + potential[:offset]:
            found = self._victims(state, pod, node, budgets)
            if isinstance(found, Status):
                reasons.update(found.reasons)
                continue
            candidates.append(found)
            if len(candidates) >= wanted:
                break
        return candidates, reasons

    def _victims(self, state: CycleState, pod: PodInfo, node: NodeInfo,
                 budgets: list[dict[str, Any]]) -> Candidate | Status:
        """SelectVictimsOnNode: the fewest, least important pods whose eviction makes
        room, or why there are none."""
        assert self.handle is not None and state.run_filters is not None
        cache, fits = self.handle.cache, state.run_filters
        lower = sorted((p for p in node.pods.values()
                        if p.priority < pod.priority and not cache.is_nominated(p.key)),
                       key=_importance)
        if not lower:
            return unresolvable(NO_VICTIMS)
        trial = node.clone()
        for victim in lower:
            trial.remove_pod(victim.key)
        rejected = fits(state, pod, trial)
        if rejected is not None:
            return rejected
        candidate = Candidate(node.name)
        violating, fine = split_by_budget(lower, budgets)
        for group, breaks_budget in ((violating, True), (fine, False)):
            for victim in group:
                trial.add_pod(victim)
                if fits(state, pod, trial) is None:
                    continue  # reprieved: the pod fits with this one kept
                trial.remove_pod(victim.key)
                candidate.victims.append(victim)
                candidate.pdb_violations += breaks_budget
        return candidate
