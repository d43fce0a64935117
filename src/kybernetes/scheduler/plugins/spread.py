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
Counting goes through the cache's label index (only nodes running pods with the
selector's exact label are looked at) and its memoized domains per key, so a
decision does not walk every pod of the cluster.
"""

from __future__ import annotations

import math
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
from kybernetes.scheduler.cache import Cache
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
from kybernetes.scheduler.label_index import exact_requirement
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


def count(node: NodeInfo, namespace: str, selector: labels.Selector) -> int:
    """Pods on `node` in `namespace`, not terminating, that `selector` matches."""
    n = 0
    for p in node.pods.values():
        if p.namespace == namespace and not p.terminating and selector.matches(p.labels):
            n += 1
    return n


@dataclass(slots=True)
class PerNode:
    """Matching pods per node for one selector, from the cache's label index."""

    namespace: str
    selector: labels.Selector
    #: node -> pods (exact) or the only nodes that may hold matches; None: any node
    candidates: dict[str, int] | None
    exact: bool
    #: nodes whose indexed counts include terminating pods (which are not counted)
    terminating: set[str]

    def of(self, node: NodeInfo) -> int:
        if self.candidates is None:
            return count(node, self.namespace, self.selector)
        found = self.candidates.get(node.name, 0)
        if not found or (self.exact and node.name not in self.terminating):
            return found
        return count(node, self.namespace, self.selector)


def per_node(cache: Cache, namespace: str, selector: labels.Selector) -> PerNode:
    found = cache.labels.candidates((namespace,), selector)
    if found is None:
        return PerNode(namespace, selector, None, False, cache.terminating_nodes)
    return PerNode(namespace, selector, *found, cache.terminating_nodes)


def domain_counts(cache: Cache, pod: PodInfo, c: Constraint, keys: tuple[str, ...],
                  required: RequiredNodeAffinity | None) -> tuple[dict[str, int], int]:
    """Matching pods per domain of `c` (domains with none left out), and how many
    domains there are, over the nodes that carry every key in `keys` and pass c's
    inclusion policies."""
    key = c.topology_key
    if (c.honor_node_affinity and required is not None) or c.honor_taints:
        eligible = [n for n in cache.nodes_with_keys(keys) if c.includes(pod, n, required)]
        domain_of = {n.name: n.labels[key] for n in eligible}
        total = len(set(domain_of.values()))
    else:
        eligible = cache.nodes_with_keys(keys)
        domains = cache.domains(keys, key)
        domain_of, total = domains.of, domains.count
        seed = exact_requirement(c.selector)
        if keys == (key,) and seed is not None and len(c.selector.requirements) == 1 and \
                not c.selector.nothing and not cache.terminating_nodes:
            # the common case (`app=web` over one key): counts kept per domain
            counts: dict[str, int] = {}
            for wanted in seed.values:
                for where, pods in cache.label_domain_counts(
                        pod.namespace, seed.key, wanted, key).items():
                    counts[where] = counts.get(where, 0) + pods
            return counts, total
    counts = {}
    matches = per_node(cache, pod.namespace, c.selector)
    if matches.candidates is None:  # the selector names no exact label: every node
        for n in eligible:
            found = count(n, pod.namespace, c.selector)
            if found:
                value = domain_of[n.name]
                counts[value] = counts.get(value, 0) + found
        return counts, total
    for name, pods in matches.candidates.items():
        domain = domain_of.get(name)
        if domain is None:
            continue
        if not matches.exact or name in cache.terminating_nodes:
            node = cache.node(name)
            pods = count(node, pod.namespace, c.selector) if node is not None else 0
        if pods:
            counts[domain] = counts.get(domain, 0) + pods
    return counts, total


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
    #: per constraint: its topology key, and the domains the pod may not join
    #: (matching pods + self-match - global minimum > maxSkew)
    blocked: list[tuple[str, frozenset[str]]]


def blocked_domains(c: Constraint, counts: dict[str, int], total: int,
                    self_match: int) -> frozenset[str]:
    """The global minimum is 0 while some domain has no match or fewer than
    minDomains domains exist."""
    minimum = min(counts.values()) if len(counts) == total and total >= c.min_domains else 0
    return frozenset(v for v, n in counts.items() if n + self_match - minimum > c.max_skew)


_MISSING_LABEL = unresolvable(REASON_MISSING_LABEL)
_SKEW = unschedulable(REASON_SKEW)


@dataclass(slots=True)
class _ScoreState:
    constraints: list[Constraint]
    weights: list[float]
    #: per constraint (not hostname): domain value -> matching pods
    counts: list[dict[str, int]]
    #: per constraint (hostname): matching pods per node
    hosts: list[PerNode | None]
    ignored: set[str] = field(default_factory=set)


class PodTopologySpread:
    name = "PodTopologySpread"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        self.handle = handle
        self._services = handle.informer(SERVICES) if handle else None
        self._rcs = handle.informer(REPLICATION_CONTROLLERS) if handle else None
        self._rss = handle.informer(REPLICA_SETS) if handle else None
        self._sts = handle.informer(STATEFUL_SETS) if handle else None

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
        if not pod.spec.get("topologySpreadConstraints") or self.handle is None:
            return SKIP
        try:
            constraints = parse_constraints(pod, DO_NOT_SCHEDULE)
        except Exception as e:
            return error(f"obtaining pod's hard topology spread constraints: {e}")
        if not constraints:
            return SKIP
        required = required_node_affinity(pod)
        keys = tuple(sorted({c.topology_key for c in constraints}))
        blocked = []
        for c in constraints:
            counts, total = domain_counts(self.handle.cache, pod, c, keys, required)
            self_match = 1 if c.selector.matches(pod.labels) else 0
            blocked.append((c.topology_key, blocked_domains(c, counts, total, self_match)))
        state.write(self.name + "/filter", _FilterState(blocked))
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState = state.read(self.name + "/filter")
        node_labels = node.labels
        for key, blocked in s.blocked:
            value = node_labels.get(key)
            if value is None:
                return _MISSING_LABEL
            if value in blocked:
                return _SKEW
        return None

    def filter_nodes(self, state: CycleState, pod: PodInfo,
                     nodes: list[NodeInfo]) -> dict[int, Status]:
        """`filter` over many nodes in one call (the scheduler's hot loop)."""
        s: _FilterState = state.read(self.name + "/filter")
        rejected: dict[int, Status] = {}
        for key, blocked in s.blocked:
            for i, node in enumerate(nodes):
                if i in rejected:
                    continue
                value = node.labels.get(key)
                if value is None:
                    rejected[i] = _MISSING_LABEL
                elif value in blocked:
                    rejected[i] = _SKEW
        return rejected

    # --- Score: ScheduleAnyway or the system defaults ----------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo,
                  nodes: list[NodeInfo]) -> Status | None:
        if self.handle is None:
            return SKIP
        own = bool(pod.spec.get("topologySpreadConstraints"))
        try:
            constraints = parse_constraints(pod, SCHEDULE_ANYWAY) if own else \
                self._default_constraints(pod)
        except Exception as e:
            return error(f"obtaining pod's soft topology spread constraints: {e}")
        if not constraints:
            return SKIP
        cache = self.handle.cache
        # Own constraints need every key on a node; the defaults do not, so nodes
        # without a zone still spread over hostnames.
        all_keys = tuple(sorted({c.topology_key for c in constraints}))
        ignored = {n.name for n in nodes if not all(k in n.labels for k in all_keys)} \
            if own else set()
        scored = len(nodes) - len(ignored)
        required = required_node_affinity(pod)
        weights: list[float] = []
        counts: list[dict[str, int]] = []
        hosts: list[PerNode | None] = []
        for c in constraints:
            if c.topology_key == HOSTNAME:
                weights.append(math.log(scored + 2))
                counts.append({})
                hosts.append(per_node(cache, pod.namespace, c.selector))
                continue
            # a node without the key is the "" domain (kube counts it in the weight)
            domains = {n.labels.get(c.topology_key, "") for n in nodes if n.name not in ignored}
            weights.append(math.log(len(domains) + 2))
            keys = all_keys if own else (c.topology_key,)
            counts.append(domain_counts(cache, pod, c, keys, required)[0])
            hosts.append(None)
        state.write(self.name, _ScoreState(constraints, weights, counts, hosts, ignored))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        s: _ScoreState = state.read(self.name)
        if node.name in s.ignored:
            return -1
        total = 0.0
        for i, c in enumerate(s.constraints):
            value = node.labels.get(c.topology_key)
            if value is None:
                continue
            host = s.hosts[i]
            matched = host.of(node) if host is not None else s.counts[i].get(value, 0)
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
