"""A pod's inter-pod (anti-)affinity terms, parsed once when the pod is parsed.

As kube-scheduler's `framework.AffinityTerm`: a term matches another pod when
that pod's namespace is in the term's namespaces (or its namespace's labels match
the term's `namespaceSelector`) and its labels match the term's `labelSelector`.
A term naming neither namespaces nor a namespaceSelector means the pod's own
namespace; an empty namespaceSelector (`{}`) means every namespace; a missing
labelSelector matches no pod. `matchLabelKeys` / `mismatchLabelKeys` add
`key in (value)` / `key notin (value)` with the pod's own label values, as the
MatchLabelKeysInPodAffinity feature does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kybernetes.api import labels


class Labelled(Protocol):
    """What a term needs of a pod to match it."""

    namespace: str
    labels: dict[str, str]


@dataclass(frozen=True, slots=True)
class AffinityTerm:
    selector: labels.Selector
    namespaces: frozenset[str]
    #: None: only `namespaces` count (no namespaceSelector was given).
    namespace_selector: labels.Selector | None
    topology_key: str
    weight: int = 0

    def matches(self, pod: Labelled, namespace_labels: Mapping[str, str] | None) -> bool:
        """Does `pod` (whose namespace carries `namespace_labels`) match this term?"""
        if pod.namespace not in self.namespaces and not (
                self.namespace_selector is not None and namespace_labels is not None
                and self.namespace_selector.matches(namespace_labels)):
            return False
        return self.selector.matches(pod.labels)


@dataclass(frozen=True, slots=True)
class PodAffinity:
    """The four kinds of terms a pod's `spec.affinity` may hold."""

    required: tuple[AffinityTerm, ...] = ()
    required_anti: tuple[AffinityTerm, ...] = ()
    preferred: tuple[AffinityTerm, ...] = ()
    preferred_anti: tuple[AffinityTerm, ...] = ()


def _selector(term: Mapping[str, Any], pod_labels: Mapping[str, str]) -> labels.Selector:
    selector = labels.from_label_selector(term.get("labelSelector"))
    extra = [labels.make_requirement(k, labels.IN, (pod_labels[k],))
             for k in term.get("matchLabelKeys") or () if k in pod_labels]
    extra += [labels.make_requirement(k, labels.NOT_IN, (pod_labels[k],))
              for k in term.get("mismatchLabelKeys") or () if k in pod_labels]
    if not extra or selector.nothing:
        return selector
    return labels.Selector(tuple(sorted({*selector.requirements, *extra})))


def parse_term(term: Mapping[str, Any], namespace: str, pod_labels: Mapping[str, str], *,
               weight: int = 0) -> AffinityTerm:
    """One PodAffinityTerm of a pod in `namespace` (raises on a malformed selector)."""
    names = frozenset(term.get("namespaces") or ())
    raw_ns_selector = term.get("namespaceSelector")
    ns_selector = None if raw_ns_selector is None else \
        labels.from_label_selector(raw_ns_selector)
    if not names and ns_selector is None:
        names = frozenset((namespace,))
    return AffinityTerm(_selector(term, pod_labels), names, ns_selector,
                        str(term.get("topologyKey") or ""), weight)


def _terms(section: Mapping[str, Any], namespace: str, pod_labels: Mapping[str, str]
           ) -> tuple[tuple[AffinityTerm, ...], tuple[AffinityTerm, ...]]:
    required = tuple(parse_term(t, namespace, pod_labels) for t in
                     section.get("requiredDuringSchedulingIgnoredDuringExecution") or ())
    preferred = tuple(
        parse_term(w.get("podAffinityTerm") or {}, namespace, pod_labels,
                   weight=int(w.get("weight") or 0))
        for w in section.get("preferredDuringSchedulingIgnoredDuringExecution") or ())
    return required, tuple(t for t in preferred if t.weight)


def pod_affinity(spec: Mapping[str, Any], namespace: str,
                 pod_labels: Mapping[str, str]) -> PodAffinity | None:
    """The pod's parsed terms; None when it has none (most pods), or when a term is
    malformed (the API server refuses such pods, so this only guards old objects)."""
    affinity = spec.get("affinity") or {}
    pa, anti = affinity.get("podAffinity"), affinity.get("podAntiAffinity")
    if not pa and not anti:
        return None
    try:
        required, preferred = _terms(pa or {}, namespace, pod_labels)
        required_anti, preferred_anti = _terms(anti or {}, namespace, pod_labels)
    except Exception:  # a malformed selector or value: no terms, as for an old object
        return None
    parsed = PodAffinity(required, required_anti, preferred, preferred_anti)
    return parsed if any((required, required_anti, preferred, preferred_anti)) else None
