"""PodTopologySpread: a pod's `topologySpreadConstraints`, and the system default
spreading of the pods of one Service / RC / ReplicaSet / StatefulSet.

As kube-scheduler's plugin. A constraint counts the pods its selector matches (in
the pod's namespace, not terminating) per domain — the values of `topologyKey`
on the nodes that pass the constraint's node inclusion policies
(`nodeAffinityPolicy`, default Honor: the pod's nodeSelector and required node
affinity; `nodeTaintsPolicy`, default Ignore) and carry every constraint's key.

- **DoNotSchedule** constraints filter: a node fits when `matching pods in its
  domain + (1 if the pod matches its own selector) - the global minimum <=
  maxSkew`; the global minimum is 0 while fewer than `minDomains` domains exist.
  A node without the key is UnschedulableAndUnresolvable.
- **ScheduleAnyway** constraints score. When the pod has no constraints at all,
  the system defaults apply: the pod's "default selector" is the AND of the
  selectors of the Services that select it and of its controller, spread over
  `kubernetes.io/hostname` (maxSkew 3) and `topology.kubernetes.io/zone`
  (maxSkew 5). Raw score per node: for each constraint, `matching pods in the
  node's domain * log(domains + 2) + (maxSkew - 1)`; NormalizeScore maps the
  fewest-matching node to 100: `100 * (max + min - s) / max`.

`matchLabelKeys` adds `key in (value)` of the pod's own labels to the selector.
A node without the hostname label is its own hostname domain (our fake and hollow
nodes may not carry the label).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api import labels
from kybernetes.api.meta import controller_ref
from kybernetes.api.resources import (
    REPLICA_SETS,
    REPLICATION_CONTROLLERS,
    SERVICES,
    STATEFUL_SETS,
)
from kybernetes.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    CycleState,
    Handle,
    Status,
    error,
    unresolvable,
    unschedulable,
)
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.plugins.node_affinity import (
    RequiredNodeAffinity,
    required_node_affinity,
)
from kybernetes.scheduler.plugins.tolerations import NO_EXECUTE, NO_SCHEDULE, tolerated
from kybernetes.scheduler.podinfo import PodInfo

HOSTNAME, ZONE = "kubernetes.io/hostname", "topology.kubernetes.io/zone"
HOSTNAME_SKEW, ZONE_SKEW = 3, 5
DO_NOT_SCHEDULE, SCHEDULE_ANYWAY = "DoNotSchedule", "ScheduleAnyway"
HONOR = "Honor"
REASON_SKEW = "node(s) didn't match pod topology spread constraints"
REASON_MISSING_LABEL = (
    "node(s) didn't match pod topology spread constraints (missing required label)")


@dataclass(frozen=True, slots=True)
class Constraint:
    """One parsed constraint (defaults as kube: minDomains 1, Honor, Ignore)."""

    max_skew: int
    topology_key: str
    selector: labels.Selector
    min_domains: int = 1
    honor_node_affinity: bool = True
    honor_taints: bool = False

    def includes(self, pod: PodInfo, node: NodeInfo,
                 required: RequiredNodeAffinity | None) -> bool:
        """Does `node` take part in this constraint's counting (its inclusion policies)?"""
        if self.honor_node_affinity and required is not None and not required.matches(node):
            return False
        if self.honor_taints:
            for key, value, effect in node.taints:
                if effect in (NO_SCHEDULE, NO_EXECUTE) and \
                        not tolerated(pod.tolerations, key, value, effect):
                    return False
        return True


def topology_value(node: NodeInfo, key: str) -> str | None:
    """The node's domain for `key`; a node without a hostname label is its own."""
    value = node.labels.get(key)
    if value is None and key == HOSTNAME:
        return node.name
    return value


def has_keys(node: NodeInfo, constraints: Iterable[Constraint]) -> bool:
    return all(topology_value(node, c.topology_key) is not None for c in constraints)


def count(node: NodeInfo, namespace: str, selector: labels.Selector) -> int:
    """Pods on `node` in `namespace`, not terminating, that `selector` matches."""
    n = 0
    for p in node.pods.values():
        if p.namespace == namespace and not p.terminating and selector.matches(p.labels):
            n += 1
    return n


def parse_constraints(pod: PodInfo, action: str) -> list[Constraint]:
    """The pod's own constraints with `whenUnsatisfiable == action`."""
    out = []
    for c in pod.spec.get("topologySpreadConstraints") or ():
        if (c.get("whenUnsatisfiable") or DO_NOT_SCHEDULE) != action:
            continue
        selector = labels.from_label_selector(c.get("labelSelector"))
        extra = [labels.make_requirement(k, labels.IN, (pod.labels[k],))
                 for k in c.get("matchLabelKeys") or () if k in pod.labels]
        if extra and not selector.nothing:
            selector = labels.Selector(tuple(sorted({*selector.requirements, *extra})))
        out.append(Constraint(
            max_skew=int(c.get("maxSkew") or 1), topology_key=str(c.get("topologyKey") or ""),
            selector=selector, min_domains=int(c.get("minDomains") or 1),
            honor_node_affinity=(c.get("nodeAffinityPolicy") or HONOR) == HONOR,
            honor_taints=(c.get("nodeTaintsPolicy") or "Ignore") == HONOR))
    return out


@dataclass(slots=True)
class _FilterState:
    constraints: list[Constraint]
    #: per constraint: domain value -> matching pods
    counts: list[dict[str, int]]

    def min_match(self, i: int) -> int:
        counts = self.counts[i]
        if len(counts) < self.constraints[i].min_domains or not counts:
            return 0
        return min(counts.values())


@dataclass(slots=True)
class _ScoreState:
    constraints: list[Constraint]
    weights: list[float]
    #: per constraint (not hostname): domain value -> matching pods
    counts: list[dict[str, int]]
    ignored: set[str] = field(default_factory=set)


class PodTopologySpread:
    name = "PodTopologySpread"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        self.handle = handle
        self._services = handle.informer(SERVICES) if handle else None
        self._rcs = handle.informer(REPLICATION_CONTROLLERS) if handle else None
        self._rss = handle.informer(REPLICA_SETS) if handle else None
        self._sts = handle.informer(STATEFUL_SETS) if handle else None

    def _all_nodes(self) -> list[NodeInfo]:
        return self.handle.cache.nodes() if self.handle is not None else []

    def default_selectors(self, pod: PodInfo) -> tuple[labels.Selector, ...]:
        """The selectors of the pod's Services and controller (ANDed by the caller)."""
        merged: dict[str, str] = {}
        for svc in self._services.list(pod.namespace) if self._services else ():
            sel = (svc.get("spec") or {}).get("selector")
            if sel and labels.selector_from_map(sel).matches(pod.labels):
                merged.update(sel)
        out = [labels.selector_from_map(merged)] if merged else []
        owner = controller_ref(pod.pod)
        if owner is not None:
            key = f"{pod.namespace}/{owner.get('name')}"
            kind, api = owner.get("kind"), owner.get("apiVersion")
            if kind == "ReplicationController" and api == "v1" and self._rcs:
                rc = self._rcs.get(key)
                sel = (rc or {}).get("spec", {}).get("selector")
                if sel:
                    out.append(labels.selector_from_map(sel))
            elif api == "apps/v1" and kind in ("ReplicaSet", "StatefulSet"):
                informer = self._rss if kind == "ReplicaSet" else self._sts
                owner_obj = informer.get(key) if informer else None
                if owner_obj is not None:
                    try:
                        out.append(labels.from_label_selector(owner_obj["spec"].get("selector")))
                    except Exception:  # an invalid selector adds nothing
                        pass
        return tuple(s for s in out if not s.empty and not s.nothing)

    def _default_constraints(self, pod: PodInfo) -> list[Constraint]:
        selectors = self.default_selectors(pod)
        if not selectors:
            return []
        selector = labels.Selector(tuple(sorted({r for s in selectors for r in s.requirements})))
        return [Constraint(HOSTNAME_SKEW, HOSTNAME, selector),
                Constraint(ZONE_SKEW, ZONE, selector)]

    # --- Filter: DoNotSchedule ---------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        if not pod.spec.get("topologySpreadConstraints"):
            return SKIP
        try:
            constraints = parse_constraints(pod, DO_NOT_SCHEDULE)
        except Exception as e:
            return error(f"obtaining pod's hard topology spread constraints: {e}")
        if not constraints:
            return SKIP
        required = required_node_affinity(pod)
        counts: list[dict[str, int]] = [{} for _ in constraints]
        for node in self._all_nodes():
            if not has_keys(node, constraints):
                continue
            for i, c in enumerate(constraints):
                if not c.includes(pod, node, required):
                    continue
                value = topology_value(node, c.topology_key) or ""
                counts[i][value] = counts[i].get(value, 0) + \
                    count(node, pod.namespace, c.selector)
        state.write(self.name + "/filter", _FilterState(constraints, counts))
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState = state.read(self.name + "/filter")
        for i, c in enumerate(s.constraints):
            value = topology_value(node, c.topology_key)
            if value is None:
                return unresolvable(REASON_MISSING_LABEL)
            self_match = 1 if c.selector.matches(pod.labels) else 0
            if s.counts[i].get(value, 0) + self_match - s.min_match(i) > c.max_skew:
                return unschedulable(REASON_SKEW)
        return None

    # --- Score: ScheduleAnyway or the system defaults ----------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo,
                  nodes: list[NodeInfo]) -> Status | None:
        own = bool(pod.spec.get("topologySpreadConstraints"))
        try:
            constraints = parse_constraints(pod, SCHEDULE_ANYWAY) if own else \
                self._default_constraints(pod)
        except Exception as e:
            return error(f"obtaining pod's soft topology spread constraints: {e}")
        if not constraints:
            return SKIP
        # The defaults do not require every key, so nodes without a zone still spread.
        require_all = own
        s = _ScoreState(constraints, [], [{} for _ in constraints])
        for node in nodes:
            if require_all and not has_keys(node, constraints):
                s.ignored.add(node.name)
                continue
            for i, c in enumerate(constraints):
                if c.topology_key != HOSTNAME:  # a node without the key: the "" domain
                    s.counts[i].setdefault(node.labels.get(c.topology_key, ""), 0)
        scored = len(nodes) - len(s.ignored)
        s.weights = [math.log((scored if c.topology_key == HOSTNAME else len(s.counts[i])) + 2)
                     for i, c in enumerate(constraints)]
        if any(s.counts[i] for i, c in enumerate(constraints) if c.topology_key != HOSTNAME):
            required = required_node_affinity(pod)
            for node in self._all_nodes():
                if require_all and not has_keys(node, constraints):
                    continue
                for i, c in enumerate(constraints):
                    value = node.labels.get(c.topology_key, "")
                    if c.topology_key == HOSTNAME or value not in s.counts[i] or \
                            not c.includes(pod, node, required):
                        continue
                    s.counts[i][value] += count(node, pod.namespace, c.selector)
        state.write(self.name, s)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        s: _ScoreState = state.read(self.name)
        if node.name in s.ignored:
            return -1
        total = 0.0
        for i, c in enumerate(s.constraints):
            if c.topology_key == HOSTNAME:
                matched = count(node, pod.namespace, c.selector)
            elif c.topology_key in node.labels:
                matched = s.counts[i].get(node.labels[c.topology_key], 0)
            else:
                continue
            total += matched * s.weights[i] + c.max_skew - 1
        return round(total)

    def normalize_scores(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        valid = [v for v in scores if v >= 0]
        if not valid:
            scores[:] = [0] * len(scores)
            return
        low, high = min(valid), max(valid)
        for i, v in enumerate(scores):
            if v < 0:
                scores[i] = 0
            elif high == 0:
                scores[i] = MAX_NODE_SCORE
            else:
                scores[i] = MAX_NODE_SCORE * (high + low - v) // high
