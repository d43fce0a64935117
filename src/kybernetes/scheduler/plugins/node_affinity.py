"""NodeAffinity: `spec.nodeSelector` and required node affinity filter; preferred
node affinity scores.

A NodeSelector is a list of terms ORed together; a term ANDs its matchExpressions
(on labels: In, NotIn, Exists, DoesNotExist, Gt, Lt) and matchFields (only
`metadata.name`, In/NotIn); a term with neither matches no node. Preferred terms
add their weight when they match; scores are scaled to [0, 100] by the best node.
Everything is parsed once per pod in PreFilter/PreScore; the per-node work is
plain requirement matching.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kybernetes.api import labels
from kybernetes.scheduler.framework import SKIP, CycleState, Handle, Status, unresolvable
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.plugins.tolerations import default_normalize
from kybernetes.scheduler.podinfo import PodInfo

_OPERATORS = {"In": labels.IN, "NotIn": labels.NOT_IN, "Exists": labels.EXISTS,
              "DoesNotExist": labels.DOES_NOT_EXIST, "Gt": labels.GT, "Lt": labels.LT}
_NEVER = labels.Requirement("", "never")  # an unknown operator matches nothing

Term = tuple[tuple[labels.Requirement, ...], tuple[labels.Requirement, ...]]


def _requirements(exprs: list[dict[str, Any]] | None) -> tuple[labels.Requirement, ...]:
    out = []
    for e in exprs or ():
        op = _OPERATORS.get(e.get("operator", ""))
        out.append(_NEVER if op is None else
                   labels.Requirement(e.get("key", ""), op, tuple(e.get("values") or ())))
    return tuple(out)


def parse_term(term: dict[str, Any]) -> Term:
    return _requirements(term.get("matchExpressions")), _requirements(term.get("matchFields"))


def term_matches(term: Term, node: NodeInfo) -> bool:
    exprs, fields = term
    if not exprs and not fields:
        return False
    node_labels = node.labels
    for r in exprs:
        if r is _NEVER or not r.matches(node_labels):
            return False
    for r in fields:
        if r.key != "metadata.name" or r.operator not in (labels.IN, labels.NOT_IN) or \
                not r.matches({"metadata.name": node.name}):
            return False
    return True


def _node_affinity(pod: PodInfo) -> dict[str, Any]:
    return (pod.spec.get("affinity") or {}).get("nodeAffinity") or {}


@dataclass(frozen=True, slots=True)
class RequiredNodeAffinity:
    """A pod's nodeSelector AND its required node affinity terms (ORed), as
    `nodeaffinity.GetRequiredNodeAffinity`; PodTopologySpread's nodeAffinityPolicy
    uses it too."""

    selector: dict[str, str]
    terms: tuple[Term, ...] | None  # None: no required node affinity

    def matches(self, node: NodeInfo) -> bool:
        node_labels = node.labels
        for k, v in self.selector.items():
            if node_labels.get(k) != v:
                return False
        return self.terms is None or any(term_matches(t, node) for t in self.terms)


def required_node_affinity(pod: PodInfo) -> RequiredNodeAffinity | None:
    """None when the pod requires nothing of a node's labels."""
    selector = pod.spec.get("nodeSelector") or {}
    required = _node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")
    if not selector and required is None:
        return None
    terms = None if required is None else tuple(
        parse_term(t) for t in required.get("nodeSelectorTerms") or ())
    return RequiredNodeAffinity(selector, terms)


class NodeAffinity:
    name = "NodeAffinity"
    reason = "node(s) didn't match Pod's node affinity/selector"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        args = args or {}
        added = args.get("addedAffinity") or {}
        required = added.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
        self._added = [parse_term(t) for t in required.get("nodeSelectorTerms") or ()]

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        required = required_node_affinity(pod)
        if required is None and not self._added:
            return SKIP
        state.write(self.name, required)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        required: RequiredNodeAffinity | None = state.read(self.name)
        if required is not None and not required.matches(node):
            return unresolvable(self.reason)
        if self._added and not any(term_matches(t, node) for t in self._added):
            return unresolvable(self.reason)
        return None

    def pre_score(self, state: CycleState, pod: PodInfo,
                  nodes: list[NodeInfo]) -> Status | None:
        preferred = _node_affinity(pod).get(
            "preferredDuringSchedulingIgnoredDuringExecution") or []
        weighted = [(int(p.get("weight") or 0), parse_term(p.get("preference") or {}))
                    for p in preferred]
        weighted = [(w, t) for w, t in weighted if w]
        if not weighted:
            return SKIP
        state.write(self.name + "/preferred", weighted)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return sum(w for w, t in state.read(self.name + "/preferred") if term_matches(t, node))

    def normalize_scores(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize(scores, reverse=False)
