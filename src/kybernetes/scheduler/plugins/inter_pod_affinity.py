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

Domain = tuple[str, str]  # topologyKey, value


def _domain(node: NodeInfo, term: AffinityTerm) -> Domain | None:
    value = node.labels.get(term.topology_key)
    return None if value is None else (term.topology_key, value)


@dataclass(slots=True)
class _FilterState:
    #: domains holding pods that match all of the pod's required affinity terms
    affinity: Counter[Domain]
    #: domains holding pods that match one of the pod's required anti-affinity terms
    anti_affinity: Counter[Domain]
    #: domains whose running pods' required anti-affinity terms match the pod
    existing_anti_affinity: Counter[Domain]
    #: no pod matches the affinity terms, and the pod matches them itself
    first_of_group: bool


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

    def _nodes(self) -> list[NodeInfo]:
        return self.handle.cache.nodes() if self.handle is not None else []

    # --- Filter ------------------------------------------------------------------------

    def _existing_anti_affinity(self, pod: PodInfo) -> Counter[Domain]:
        out: Counter[Domain] = Counter()
        ns_labels = self._namespace_labels(pod.namespace)
        for node in self._nodes():
            for other in node.affinity_pods.values():
                assert other.affinity is not None
                for term in other.affinity.required_anti:
                    domain = _domain(node, term)
                    if domain is not None and term.matches(pod, ns_labels):
                        out[domain] += 1
        return out

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        existing = self._existing_anti_affinity(pod)
        affinity = pod.affinity
        required = affinity.required if affinity else ()
        required_anti = affinity.required_anti if affinity else ()
        if not required and not required_anti and not existing:
            return SKIP
        matched: Counter[Domain] = Counter()
        anti: Counter[Domain] = Counter()
        if required or required_anti:
            ns_labels: dict[str, Mapping[str, str]] = {}
            for node in self._nodes():
                for other in node.pods.values():
                    if other.key == pod.key:
                        continue
                    if other.namespace not in ns_labels:
                        ns_labels[other.namespace] = self._namespace_labels(other.namespace)
                    labels_of_ns = ns_labels[other.namespace]
                    if required and all(t.matches(other, labels_of_ns) for t in required):
                        for term in required:
                            domain = _domain(node, term)
                            if domain is not None:
                                matched[domain] += 1
                    for term in required_anti:
                        domain = _domain(node, term)
                        if domain is not None and term.matches(other, labels_of_ns):
                            anti[domain] += 1
        own_ns = self._namespace_labels(pod.namespace)
        first = bool(required) and not matched and \
            all(t.matches(pod, own_ns) for t in required)
        state.write(self.name, _FilterState(matched, anti, existing, first))
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState = state.read(self.name)
        affinity = pod.affinity
        if affinity is not None and affinity.required:
            satisfied = True
            for term in affinity.required:
                domain = _domain(node, term)
                if domain is None:
                    return unresolvable(REASON_AFFINITY)
                if s.affinity[domain] <= 0:
                    satisfied = False
            if not satisfied and not s.first_of_group:
                return unresolvable(REASON_AFFINITY)
        if affinity is not None:
            for term in affinity.required_anti:
                domain = _domain(node, term)
                if domain is not None and s.anti_affinity[domain] > 0:
                    return unschedulable(REASON_ANTI_AFFINITY)
        if s.existing_anti_affinity:
            for domain in node.labels.items():
                if s.existing_anti_affinity[domain] > 0:
                    return unschedulable(REASON_EXISTING_ANTI_AFFINITY)
        return None

    # --- Score -------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo,
                  nodes: list[NodeInfo]) -> Status | None:
        affinity = pod.affinity
        own_preferred = affinity is not None and affinity.has_preferred
        if not own_preferred and self.ignore_existing_preferred:
            return SKIP
        scores: Counter[Domain] = Counter()
        own_ns = self._namespace_labels(pod.namespace)
        ns_labels: dict[str, Mapping[str, str]] = {}

        def add(terms: tuple[AffinityTerm, ...], target: PodInfo,
                target_ns: Mapping[str, str], node: NodeInfo, sign: int,
                weight: int | None = None) -> None:
            for term in terms:
                domain = _domain(node, term)
                if domain is not None and term.matches(target, target_ns):
                    scores[domain] += sign * (term.weight if weight is None else weight)

        for node in self._nodes():
            if not node.labels:
                continue
            others = node.pods.values() if own_preferred else node.affinity_pods.values()
            for other in others:
                if other.key == pod.key:
                    continue
                if own_preferred and affinity is not None:
                    if other.namespace not in ns_labels:
                        ns_labels[other.namespace] = self._namespace_labels(other.namespace)
                    add(affinity.preferred, other, ns_labels[other.namespace], node, 1)
                    add(affinity.preferred_anti, other, ns_labels[other.namespace], node, -1)
                theirs = other.affinity
                if theirs is None:
                    continue
                if self.hard_weight > 0:
                    add(theirs.required, pod, own_ns, node, 1, self.hard_weight)
                if not self.ignore_existing_preferred:
                    add(theirs.preferred, pod, own_ns, node, 1)
                    add(theirs.preferred_anti, pod, own_ns, node, -1)
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
