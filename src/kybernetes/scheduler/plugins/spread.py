"""PodTopologySpread with the system default constraints: spread the pods of one
Service / ReplicationController / ReplicaSet across nodes and zones.

This is the core promise of replication: copies of a pod should not share a host,
so losing a host loses one copy. As kube-scheduler since 1.24 (which replaced the
old SelectorSpread plugin), the pod's "default selector" is the AND of the
selectors of the Services that select it and of its controller (RC or RS), and
two soft constraints apply (ScheduleAnyway, so they only score):

    kubernetes.io/hostname         maxSkew 3
    topology.kubernetes.io/zone    maxSkew 5   (only if nodes carry zone labels)

Raw score per node: for each constraint, `matching pods in the node's domain *
log(domains + 2) + (maxSkew - 1)`; NormalizeScore maps the fewest-matching node
to 100: `100 * (max + min - s) / max`. A node without the hostname label is its
own hostname domain (our fake and hollow nodes may not carry the label).
Pods that no Service or controller selects skip this plugin at PreScore.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from kybernetes.api import labels
from kybernetes.api.meta import controller_ref
from kybernetes.api.resources import REPLICA_SETS, REPLICATION_CONTROLLERS, SERVICES
from kybernetes.scheduler.framework import MAX_NODE_SCORE, SKIP, CycleState, Handle, Status
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo

HOSTNAME, ZONE = "kubernetes.io/hostname", "topology.kubernetes.io/zone"
HOSTNAME_SKEW, ZONE_SKEW = 3, 5


@dataclass(slots=True)
class _State:
    selectors: tuple[labels.Selector, ...]
    host_weight: float
    zone_weight: float
    zone_counts: dict[str, int]


class PodTopologySpread:
    name = "PodTopologySpread"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        self.handle = handle
        self._services = handle.informer(SERVICES) if handle else None
        self._rcs = handle.informer(REPLICATION_CONTROLLERS) if handle else None
        self._rss = handle.informer(REPLICA_SETS) if handle else None

    def default_selectors(self, pod: PodInfo) -> tuple[labels.Selector, ...]:
        """The AND of the selectors of the pod's Services and controller."""
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
            elif kind == "ReplicaSet" and api == "apps/v1" and self._rss:
                rs = self._rss.get(key)
                if rs is not None:
                    try:
                        out.append(labels.from_label_selector(rs["spec"].get("selector")))
                    except Exception:  # an invalid selector adds nothing
                        pass
        return tuple(s for s in out if not s.empty)

    @staticmethod
    def count(node: NodeInfo, namespace: str, selectors: tuple[labels.Selector, ...]) -> int:
        n = 0
        for p in node.pods.values():
            if p.namespace == namespace and not p.terminating and \
                    all(s.matches(p.labels) for s in selectors):
                n += 1
        return n

    def pre_score(self, state: CycleState, pod: PodInfo,
                  nodes: list[NodeInfo]) -> Status | None:
        selectors = self.default_selectors(pod)
        if not selectors:
            return SKIP
        zones = {n.labels[ZONE] for n in nodes if ZONE in n.labels}
        zone_counts: dict[str, int] = dict.fromkeys(zones, 0)
        if zones and self.handle is not None:
            for node in self.handle.cache.nodes():
                zone = node.labels.get(ZONE)
                if zone in zone_counts:
                    zone_counts[zone] += self.count(node, pod.namespace, selectors)
        state.write(self.name, _State(selectors, math.log(len(nodes) + 2),
                                      math.log(len(zones) + 2), zone_counts))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        s: _State = state.read(self.name)
        score = self.count(node, pod.namespace, s.selectors) * s.host_weight + HOSTNAME_SKEW - 1
        zone = node.labels.get(ZONE)
        if zone in s.zone_counts:
            score += s.zone_counts[zone] * s.zone_weight + ZONE_SKEW - 1
        return round(score)

    def normalize_scores(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        if not scores:
            return
        low, high = min(scores), max(scores)
        for i, s in enumerate(scores):
            scores[i] = MAX_NODE_SCORE if high == 0 else \
                MAX_NODE_SCORE * (high + low - s) // high
