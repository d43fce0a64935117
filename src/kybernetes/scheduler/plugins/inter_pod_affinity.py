"""InterPodAffinity: pods placed by the pods already running, per topology domain.

As kube-scheduler's plugin. A domain is a (topologyKey, value) pair of a node's
labels. Filter, from counts made once per cycle in PreFilter:

- the pod's required **affinity**: every term's domain on the node must hold a pod
  that matches all the terms ("node(s) didn't match pod affinity rules",
  unresolvable) — unless no pod anywhere matches them and the pod matches its own
  terms (the first pod of a group that wants to be together);
- the pod's required **anti-affinity**: no term's domain on the node may hold a
  pod the term matches ("node(s) didn't match pod anti-affinity rules");
- running pods' required anti-affinity: the pod may not go into a domain whose
  pod's term matches it ("node(s) didn't satisfy existing pods anti-affinity
  rules").

Score: for every running pod, its node's domains gain the weight of each of the
pod's preferred affinity terms it matches (anti-affinity: lose it), and the
weights of its own terms that match the incoming pod (a required affinity term
weighs `hardPodAffinityWeight`, default 1); normalized to [0, 100] between the
lowest and the highest node.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kybernetes.api.resources import NAMESPACES
from kybernetes.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    CycleState,
    Handle,
    Status,
    unresolvable,
    unschedulable,
)
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.pod_affinity import AffinityTerm
from kybernetes.scheduler.podinfo import PodInfo

REASON_AFFINITY = "node(s) didn't match pod affinity rules"
REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
_AFFINITY = unresolvable(REASON_AFFINITY)
_ANTI_AFFINITY = unschedulable(REASON_ANTI_AFFINITY)
_EXISTING_ANTI_AFFINITY = unschedulable(REASON_EXISTING_ANTI_AFFINITY)

Domain = tuple[str, str]  # topologyKey, value


def _domain(node: NodeInfo, term: AffinityTerm) -> Domain | None:
    value = node.labels.get(term.topology_key)
    return None if value is None else (term.topology_key, value)


@dataclass(slots=True)
class _FilterState:
    #: the topology keys of the pod's required affinity terms
    affinity_keys: tuple[str, ...]
    #: domains holding pods that match all of the pod's required affinity terms
    affinity: set[Domain]
    #: no pod matches the affinity terms, and the pod matches them itself
    first_of_group: bool
    #: key -> values of the domains holding pods that one of the pod's required
    #: anti-affinity terms matches
    anti_affinity: dict[str, set[str]]
    #: key -> values of the domains whose running pods' required anti-affinity
    #: terms match the pod
    existing_anti_affinity: dict[str, set[str]]

    def verdict(self, node_labels: dict[str, str]) -> Status | None:
        if self.affinity_keys:
            satisfied = True
            for key in self.affinity_keys:
                value = node_labels.get(key)
                if value is None:
                    return _AFFINITY
                if (key, value) not in self.affinity:
                    satisfied = False
            if not satisfied and not self.first_of_group:
                return _AFFINITY
        for key, values in self.anti_affinity.items():
            if node_labels.get(key) in values:
                return _ANTI_AFFINITY
        for key, values in self.existing_anti_affinity.items():
            if node_labels.get(key) in values:
                return _EXISTING_ANTI_AFFINITY
        return None


class InterPodAffinity:
    name = "InterPodAffinity"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        args = args or {}
        self.handle = handle
        self.hard_weight = int(args.get("hardPodAffinityWeight", 1))
        self.ignore_existing_preferred = bool(args.get("ignorePreferredTermsOfExistingPods"))
        self._namespaces = handle.informer(NAMESPACES) if handle else None

    def _namespace_labels(self, namespace: str) -> Mapping[str, str]:
        ns = self._namespaces.get(namespace) if self._namespaces is not None else None
        return ((ns or {}).get("metadata") or {}).get("labels") or {}

    def _indexed(self, term: AffinityTerm) -> tuple[dict[str, int], bool] | None:
        """The cache's label index's answer for `term` (node -> pods, exact?): only when
        the term names an exact label and its namespaces (no namespaceSelector)."""
        assert self.handle is not None
        if term.namespace_selector is not None:
            return None
        return self.handle.cache.labels.candidates(term.namespaces, term.selector)

    def _matched(self, term: AffinityTerm, found: tuple[dict[str, int], bool] | None
                 ) -> list[tuple[NodeInfo, int]]:
        """The nodes running pods that `term` matches, and how many such pods: from
        `found` (the index's answer) where it is exact, otherwise by looking at every
        pod of its candidate nodes (all nodes when `found` is None)."""
        assert self.handle is not None
        cache = self.handle.cache
        if found is None:
            nodes = cache.nodes()
        else:
            per_node, exact = found
            if exact:
                pairs = ((cache.node(name), n) for name, n in per_node.items())
                return [(node, n) for node, n in pairs if node is not None]
            nodes = [n for n in map(cache.node, per_node) if n is not None]
        out = []
        ns_labels: dict[str, Mapping[str, str]] = {}
        for node in nodes:
            n = 0
            for other in node.pods.values():
                if other.namespace not in ns_labels:
                    ns_labels[other.namespace] = self._namespace_labels(other.namespace)
                if term.matches(other, ns_labels[other.namespace]):
                    n += 1
            if n:
                out.append((node, n))
        return out

    def _domain_values(self, term: AffinityTerm) -> set[str]:
        """The values of `term`'s key over the nodes running pods `term` matches."""
        assert self.handle is not None
        key = term.topology_key
        found = self._indexed(term)
        if found is not None and found[1]:
            domain_of = self.handle.cache.domains((key,), key).of
            return {domain_of[name] for name in found[0] if name in domain_of}
        return {value for (_, value) in self._domain_counts(term, found)}

    def _domain_counts(self, term: AffinityTerm,
                       found: tuple[dict[str, int], bool] | None = None) -> Counter[Domain]:
        """Per domain of `term`'s key, the running pods that `term` matches (`found`:
        the index's answer when the caller has it already)."""
        assert self.handle is not None
        cache = self.handle.cache
        key = term.topology_key
        out: Counter[Domain] = Counter()
        if found is None:
            found = self._indexed(term)
        if found is not None and found[1]:  # exact counts: no pod needs looking at
            domain_of = cache.domains((key,), key).of
            for name, n in found[0].items():
                value = domain_of.get(name)
                if value is not None:
                    out[(key, value)] += n
            return out
        for node, n in self._matched(term, found):
            domain = _domain(node, term)
            if domain is not None:
                out[domain] += n
        return out

    # --- Filter ------------------------------------------------------------------------

    def _existing_anti_affinity(self, pod: PodInfo) -> dict[str, set[str]]:
        """Key -> the values of the domains whose running pods' required anti-affinity
        terms match `pod`."""
        assert self.handle is not None
        out: dict[str, set[str]] = {}
        ns_labels = self._namespace_labels(pod.namespace)
        for term, counts in self.handle.cache.affinity_terms.terms("required_anti").items():
            if term.matches(pod, ns_labels):
                out.setdefault(term.topology_key, set()).update(v for _, v in counts)
        return out

    def _existing_terms(self, pod: PodInfo, kind: str, weight: int | None = None
                        ) -> Counter[Domain]:
        """Per domain, the running pods whose `kind` terms match `pod` (times the
        term's weight, or `weight`, when weighted)."""
        assert self.handle is not None
        out: Counter[Domain] = Counter()
        ns_labels = self._namespace_labels(pod.namespace)
        for term, counts in self.handle.cache.affinity_terms.terms(kind).items():
            if term.matches(pod, ns_labels):
                factor = term.weight if weight is None else weight
                for domain, n in counts.items():
                    out[domain] += n * factor
        return out

    def _all_terms_matched(self, terms: tuple[AffinityTerm, ...]) -> Counter[Domain]:
        """Domains of the pods that match every one of `terms` (one count per term)."""
        if len(terms) == 1:
            return self._domain_counts(terms[0])
        out: Counter[Domain] = Counter()
        for node, _ in self._matched(terms[0], self._indexed(terms[0])):
            n = sum(1 for other in node.pods.values() if all(
                t.matches(other, self._namespace_labels(other.namespace)) for t in terms))
            if not n:
                continue
            for term in terms:
                domain = _domain(node, term)
                if domain is not None:
                    out[domain] += n
        return out

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        if self.handle is None:
            return SKIP
        existing = self._existing_anti_affinity(pod)
        affinity = pod.affinity
        required = affinity.required if affinity else ()
        required_anti = affinity.required_anti if affinity else ()
        if not required and not required_anti and not existing:
            return SKIP
        matched = self._all_terms_matched(required) if required else Counter()
        anti: dict[str, set[str]] = {}
        for term in required_anti:
            anti.setdefault(term.topology_key, set()).update(self._domain_values(term))
        own_ns = self._namespace_labels(pod.namespace)
        first = bool(required) and not matched and \
            all(t.matches(pod, own_ns) for t in required)
        state.write(self.name, _FilterState(
            tuple(t.topology_key for t in required), {d for d, n in matched.items() if n > 0},
            first, anti, existing))
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState = state.read(self.name)
        return s.verdict(node.labels)

    def filter_nodes(self, state: CycleState, pod: PodInfo,
                     nodes: list[NodeInfo]) -> dict[int, Status]:
        """`filter` over many nodes in one call (the scheduler's hot loop); without
        required affinity, one set lookup per node and key."""
        s: _FilterState = state.read(self.name)
        if s.affinity_keys:
            verdict = s.verdict
            return {i: st for i, node in enumerate(nodes)
                    if (st := verdict(node.labels)) is not None}
        rejected: dict[int, Status] = {}
        for blocked, status in ((s.anti_affinity, _ANTI_AFFINITY),
                                (s.existing_anti_affinity, _EXISTING_ANTI_AFFINITY)):
            for key, values in blocked.items():
                for i in [i for i, node in enumerate(nodes) if node.labels.get(key) in values]:
                    rejected.setdefault(i, status)
        return rejected

    # --- Score -------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo,
                  nodes: list[NodeInfo]) -> Status | None:
        if self.handle is None:
            return SKIP
        affinity = pod.affinity
        scores: Counter[Domain] = Counter()
        if affinity is not None:
            for terms, sign in ((affinity.preferred, 1), (affinity.preferred_anti, -1)):
                for term in terms:
                    for domain, n in self._domain_counts(term).items():
                        scores[domain] += sign * term.weight * n
        if self.hard_weight > 0:
            scores.update(self._existing_terms(pod, "required", self.hard_weight))
        if not self.ignore_existing_preferred:
            scores.update(self._existing_terms(pod, "preferred"))
            scores.subtract(self._existing_terms(pod, "preferred_anti"))
        if not any(scores.values()):
            return SKIP
        state.write(self.name + "/score", scores)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        scores: Counter[Domain] = state.read(self.name + "/score")
        return sum(scores.get(domain, 0) for domain in node.labels.items())

    def normalize_scores(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        if not scores:
            return
        low, high = min(scores), max(scores)
        spread = high - low
        for i, v in enumerate(scores):
            scores[i] = int(MAX_NODE_SCORE * (v - low) / spread) if spread > 0 else 0
