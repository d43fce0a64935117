"""Running pods' inter-pod affinity terms, grouped by term and counted per domain.

InterPodAffinity must ask, for every pod it places, which running pods' terms
match it (their required anti-affinity keeps it out of their domains; their
affinity terms score). The replicas of one workload carry the same terms, so
grouping equal terms turns a walk over every such pod into one match per
distinct term: for each term, how many running pods carry it in each
(topologyKey, value) domain of their nodes.

Domains come from the nodes' labels, so a change of any node's labels (or a node
arriving for pods already bound to it) marks the index stale, and it is rebuilt
from the nodes' pods when next read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.pod_affinity import AffinityTerm
from kybernetes.scheduler.podinfo import PodInfo

Domain = tuple[str, str]  # topologyKey, value
KINDS = ("required", "required_anti", "preferred", "preferred_anti")


class AffinityTermIndex:
    def __init__(self, nodes_with_affinity_pods: Callable[[], Iterable[NodeInfo]]) -> None:
        self._nodes = nodes_with_affinity_pods
        self._counts: dict[str, dict[AffinityTerm, Counter[Domain]]] = {k: {} for k in KINDS}
        self._stale = False

    def add(self, pod: PodInfo, node: NodeInfo, sign: int = 1) -> None:
        """Count `pod`'s terms in `node`'s domains (sign=-1: the pod leaves)."""
        if self._stale or pod.affinity is None:
            return
        for kind in KINDS:
            by_term = self._counts[kind]
            for term in getattr(pod.affinity, kind):
                value = node.labels.get(term.topology_key)
                if value is None:
                    continue
                counts = by_term.get(term)
                if counts is None:
                    counts = by_term[term] = Counter()
                domain = (term.topology_key, value)
                counts[domain] += sign
                if counts[domain] <= 0:
                    del counts[domain]
                    if not counts:
                        del by_term[term]

    def invalidate(self) -> None:
        self._stale = True

    def terms(self, kind: str) -> dict[AffinityTerm, Counter[Domain]]:
        """Term -> running pods carrying it per domain, for one kind of term."""
        if self._stale:
            self._counts = {k: {} for k in KINDS}
            self._stale = False
            for node in self._nodes():
                for pod in node.affinity_pods.values():
                    self.add(pod, node)
        return self._counts[kind]
