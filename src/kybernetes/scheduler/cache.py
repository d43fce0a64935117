"""The scheduler's cache: nodes, and the pods committed to each, including assumed ones.

Binding is asynchronous: once the scheduling cycle picks a node, the pod is
*assumed* onto it (counted in the node's aggregates) before the binding request
even leaves, so the next pod already sees the node as fuller. Then:

- the watch shows the pod bound  → `add_pod` confirms the assumption;
- the binding fails              → `forget_pod` takes the pod off again;
- the binding succeeded but the watch never shows it (the pod was deleted at
  once, say) → the assumption expires `ttl` seconds after `finish_binding`.

Pods that name a node the cache has not seen yet are kept on a placeholder
NodeInfo, so the sums are right when the Node arrives.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kybernetes.scheduler.affinity_index import AffinityTermIndex
from kybernetes.scheduler.label_index import LabelIndex
from kybernetes.scheduler.nodeinfo import NodeInfo, new_node_info
from kybernetes.scheduler.podinfo import PodInfo
from kybernetes.scheduler.table import NodeTable

NODE_FLAGS: dict[str, Callable[[NodeInfo], bool]] = {
    "tainted": lambda n: any(e in ("NoSchedule", "NoExecute") for _, _, e in n.taints),
    "prefer_no_schedule": lambda n: any(e == "PreferNoSchedule" for _, _, e in n.taints),
    "unschedulable": lambda n: n.unschedulable,
    "not_ready": lambda n: n.ready != "True",
    "zero_allocatable": lambda n: not (n.alloc_cpu and n.alloc_memory),
}


@dataclass(frozen=True, slots=True)
class Domains:
    """One topology key's domains over a set of nodes."""

    #: node name -> the node's value of the key
    of: dict[str, str]
    #: how many distinct values
    count: int


@dataclass(slots=True)
class _PodState:
    pod: PodInfo
    node: str
    assumed: bool
    deadline: float | None = None  # set by finish_binding


class Cache:
    """Nodes and committed pods; single-threaded (the event loop), no locks needed."""

    def __init__(self, *, ttl: float = 30.0, clock: Any = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._infos: dict[str, NodeInfo] = {}
        self._present: set[str] = set()
        self._pods: dict[str, _PodState] = {}
        self._list: list[NodeInfo] | None = None
        self._table: NodeTable | None = None
        #: Nodes with a property most nodes lack, so filters can skip themselves
        #: for the whole cycle when no node has it (see `any_node`).
        self._flagged: dict[str, set[str]] = {f: set() for f in NODE_FLAGS}
        #: (namespace, label key, value) -> nodes running such pods
        self.labels = LabelIndex()
        #: nodes running pods with inter-pod (anti-)affinity terms
        self.affinity_nodes: set[str] = set()
        #: nodes running terminating pods (which PodTopologySpread does not count)
        self.terminating_nodes: set[str] = set()
        #: pods that preempted others, holding their place on the node they were
        #: nominated to (counted there like assumed pods) until they are scheduled
        self._nominated: dict[str, tuple[PodInfo, str]] = {}
        #: running pods' inter-pod affinity terms, counted per domain
        self.affinity_terms = AffinityTermIndex(self.nodes_with_affinity_pods)
        #: (namespace, label key, value, topology key) -> domain -> pods with the label,
        #: made on first use and kept up to date (see label_domain_counts)
        self._label_domains: dict[tuple[str, str, str, str], Counter[str]] = {}
        self._label_domain_keys: dict[tuple[str, str, str], set[str]] = {}
        #: nodes_with_keys() and domains() answers, until a node comes, goes or
        #: changes its labels
        self._with_keys: dict[tuple[str, ...], list[NodeInfo]] = {}
        self._domains: dict[tuple[tuple[str, ...], str], Domains] = {}

    # --- nodes ---------------------------------------------------------------------

    def add_node(self, node: dict[str, Any]) -> NodeInfo:
        name = node["metadata"]["name"]
        info = self._infos.get(name)
        if info is None:
            info = self._infos[name] = new_node_info(node)
        else:
            old_labels = info.labels
            info.set_node(node)
            if info.labels != old_labels:
                self._labels_changed()
        if name not in self._present:
            self._present.add(name)
            self._list = self._table = None
            self._labels_changed()
        else:
            self._sync(info)
        for flag, test in NODE_FLAGS.items():
            (self._flagged[flag].add if test(info) else self._flagged[flag].discard)(name)
        return info

    update_node = add_node

    def remove_node(self, name: str) -> None:
        if name in self._present:
            self._present.discard(name)
            self._list = self._table = None
            self._labels_changed()
        for names in self._flagged.values():
            names.discard(name)
        info = self._infos.get(name)
        if info is not None and not info.pods:
            del self._infos[name]

    def any_node(self, flag: str) -> bool:
        """Does any node have `flag` (a key of NODE_FLAGS)?"""
        return bool(self._flagged[flag])

    def node(self, name: str) -> NodeInfo | None:
        return self._infos.get(name) if name in self._present else None

    def nodes(self) -> list[NodeInfo]:
        """The present nodes, in a stable order (for round-robin starts)."""
        if self._list is None:
            self._list = [self._infos[n] for n in sorted(self._present)]
            self._table = NodeTable(self._list)
        return self._list

    def _labels_changed(self) -> None:
        self._with_keys.clear()
        self._domains.clear()
        self.affinity_terms.invalidate()
        self._label_domains.clear()
        self._label_domain_keys.clear()

    def label_domain_counts(self, namespace: str, key: str, value: str,
                            topology_key: str) -> Counter[str]:
        """Pods of `namespace` labelled `key=value` per value of the present nodes'
        `topology_key` label (terminating pods included). Built from the label index on
        first use, then updated as pods come and go, so PodTopologySpread's common case
        costs O(domains) per decision instead of O(nodes with such pods)."""
        wanted = (namespace, key, value, topology_key)
        found = self._label_domains.get(wanted)
        if found is None:
            found = Counter()
            for name, pods in self.labels.nodes_with(namespace, key, value).items():
                info = self._infos.get(name)
                if info is not None and name in self._present and topology_key in info.labels:
                    found[info.labels[topology_key]] += pods
            self._label_domains[wanted] = found
            self._label_domain_keys.setdefault((namespace, key, value), set()).add(
                topology_key)
        return found

    def _count_label_domains(self, pod: PodInfo, info: NodeInfo, sign: int) -> None:
        if not self._label_domain_keys or info.name not in self._present:
            return
        for key, value in pod.labels.items():
            for topology_key in self._label_domain_keys.get((pod.namespace, key, value), ()):
                domain = info.labels.get(topology_key)
                if domain is not None:
                    counts = self._label_domains[(pod.namespace, key, value, topology_key)]
                    counts[domain] += sign
                    if counts[domain] <= 0:
                        del counts[domain]

    def nodes_with_affinity_pods(self) -> list[NodeInfo]:
        """The present nodes running pods with inter-pod (anti-)affinity terms."""
        return [self._infos[n] for n in self.affinity_nodes if n in self._present]

    def domains(self, keys: tuple[str, ...], key: str) -> Domains:
        """The topology domains of label `key` over `nodes_with_keys(keys)` (memoized;
        `key` must be one of `keys`). Callers must not change the answer."""
        found = self._domains.get((keys, key))
        if found is None:
            of = {n.name: n.labels[key] for n in self.nodes_with_keys(keys)}
            found = self._domains[(keys, key)] = Domains(of, len(set(of.values())))
        return found

    def nodes_with_keys(self, keys: tuple[str, ...]) -> list[NodeInfo]:
        """The present nodes that carry every label in `keys` (memoized)."""
        found = self._with_keys.get(keys)
        if found is None:
            found = self._with_keys[keys] = [
                n for n in self.nodes() if all(k in n.labels for k in keys)]
        return found

    def table(self) -> NodeTable:
        """The sums of `nodes()` as numpy columns (row i is nodes()[i])."""
        if self._table is None:
            self.nodes()
        assert self._table is not None
        return self._table

    def _sync(self, info: NodeInfo) -> None:
        if self._table is not None and info.name in self._present:
            self._table.write(info)

    def __len__(self) -> int:
        return len(self._present)

    # --- pods ----------------------------------------------------------------------

    def _place(self, pod: PodInfo, node: str) -> None:
        info = self._infos.get(node)
        if info is None:
            info = self._infos[node] = NodeInfo(name=node, node={})
        info.add_pod(pod)
        self.labels.add(pod, node)
        self._count_label_domains(pod, info, 1)
        if pod.affinity is not None:
            self.affinity_nodes.add(node)
            if node in self._present:
                self.affinity_terms.add(pod, info)
        if pod.terminating:
            self.terminating_nodes.add(node)
        self._sync(info)

    def _unplace(self, key: str, node: str) -> None:
        info = self._infos.get(node)
        if info is None:
            return
        pod = info.remove_pod(key)
        if pod is not None:
            self.labels.add(pod, node, -1)
            self._count_label_domains(pod, info, -1)
            if node in self._present:
                self.affinity_terms.add(pod, info, -1)
            if not info.affinity_pods:
                self.affinity_nodes.discard(node)
            if not info.terminating:
                self.terminating_nodes.discard(node)
        self._sync(info)
        if not info.pods and node not in self._present:
            del self._infos[node]

    def nominate(self, pod: PodInfo, node: str) -> None:
        """Hold `node`'s room for a pod that preempted pods there (kube's nominator: a
        lower-priority pod must not take the room the victims free)."""
        self.unnominate(pod.key)
        if pod.key not in self._pods:
            self._nominated[pod.key] = (pod, node)
            self._place(pod, node)

    def unnominate(self, key: str) -> None:
        entry = self._nominated.pop(key, None)
        if entry is not None:
            self._unplace(key, entry[1])

    def is_nominated(self, key: str) -> bool:
        return key in self._nominated

    def assume_pod(self, pod: PodInfo, node: str) -> None:
        """Count `pod` on `node` before the binding is confirmed."""
        self.unnominate(pod.key)
        if pod.key in self._pods:
            raise ValueError(f"pod {pod.key} is already in the cache")
        self._pods[pod.key] = _PodState(pod, node, assumed=True)
        self._place(pod, node)

    def finish_binding(self, key: str) -> None:
        state = self._pods.get(key)
        if state is not None and state.assumed:
            state.deadline = self.clock() + self.ttl

    def forget_pod(self, key: str) -> None:
        """The binding failed: take the assumed pod off its node."""
        state = self._pods.get(key)
        if state is not None and state.assumed:
            del self._pods[key]
            self._unplace(key, state.node)

    def is_assumed(self, key: str) -> bool:
        state = self._pods.get(key)
        return state is not None and state.assumed

    def add_pod(self, pod: PodInfo) -> None:
        """A pod seen bound through the watch (new, or confirming an assumption)."""
        self.unnominate(pod.key)
        state = self._pods.get(pod.key)
        if state is not None:
            self._unplace(pod.key, state.node)
        self._pods[pod.key] = _PodState(pod, pod.node_name, assumed=False)
        self._place(pod, pod.node_name)

    update_pod = add_pod

    def remove_pod(self, key: str) -> None:
        self.unnominate(key)
        state = self._pods.pop(key, None)
        if state is not None:
            self._unplace(key, state.node)

    def has_pod(self, key: str) -> bool:
        return key in self._pods

    def cleanup_expired(self) -> list[str]:
        """Drop assumptions whose binding finished `ttl` ago without being seen."""
        now = self.clock()
        expired = [k for k, s in self._pods.items()
                   if s.assumed and s.deadline is not None and s.deadline <= now]
        for key in expired:
            self.forget_pod(key)
        return expired
