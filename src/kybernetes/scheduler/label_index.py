"""Which nodes run pods carrying a given label, kept up to date as pods come and go.

PodTopologySpread and InterPodAffinity count, for every pod they place, the pods a
label selector matches on every node. Walking every pod of the cluster is O(pods)
per decision (10,000 pods: several milliseconds in Python); but nearly every
selector names at least one exact label (`app=web`), so this index maps
(namespace, label key, label value) to the nodes running such pods and how many,
and only those nodes are looked at. Terminating pods are indexed too
(InterPodAffinity counts them, as Kubernetes does; PodTopologySpread does not, and
looks at the pods of a node that has any terminating ones).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from kybernetes.api import labels
from kybernetes.scheduler.podinfo import PodInfo

_EXACT = (labels.IN, labels.EQUALS, labels.DOUBLE_EQUALS)
_EMPTY: Counter[str] = Counter()


def exact_requirement(selector: labels.Selector) -> labels.Requirement | None:
    """A requirement of `selector` that names the label values a pod must have."""
    for r in selector.requirements:
        if r.operator in _EXACT:
            return r
    return None


class LabelIndex:
    def __init__(self) -> None:
        self._nodes: dict[tuple[str, str, str], Counter[str]] = {}

    def add(self, pod: PodInfo, node: str, sign: int = 1) -> None:
        """Index `pod` on `node` (sign=-1: the same pod leaves it)."""
        for key, value in pod.labels.items():
            entry = (pod.namespace, key, value)
            counts = self._nodes.get(entry)
            if counts is None:
                counts = self._nodes[entry] = Counter()
            counts[node] += sign
            if counts[node] <= 0:
                del counts[node]
                if not counts:
                    del self._nodes[entry]

    def nodes_with(self, namespace: str, key: str, value: str) -> Mapping[str, int]:
        return self._nodes.get((namespace, key, value), _EMPTY)

    def candidates(self, namespaces: Iterable[str], selector: labels.Selector
                   ) -> tuple[dict[str, int], bool] | None:
        """The nodes that may run pods `selector` matches in `namespaces`.

        Returns (node -> pods, exact): when `exact`, the counts are the matching
        pods (the selector is that one requirement); otherwise they only name the
        nodes to look at. None when the selector names no exact label: the caller
        must look at every pod.
        """
        if selector.nothing:
            return {}, True
        seed = exact_requirement(selector)
        if seed is None:
            return None
        exact = len(selector.requirements) == 1
        out: dict[str, int] = {}
        for namespace in namespaces:
            for value in seed.values:
                for node, n in self.nodes_with(namespace, seed.key, value).items():
                    out[node] = out.get(node, 0) + n
        return out, exact
