"""What NetworkPolicies allow for the pods of one node, worked out from the API objects.

Kubernetes' semantics (networking.k8s.io/v1):

- A pod is *isolated for ingress* when some policy in its namespace selects it
  (`podSelector`) and lists `Ingress` in `policyTypes`; then only what one of
  those policies' ingress rules allows may reach it. Likewise for egress. A pod
  no policy selects is not isolated: everything is allowed.
- A rule allows traffic from/to any of its peers (all sources when `from`/`to`
  is empty or absent) on any of its ports (all ports when `ports` is empty).
- Peers: `podSelector` (pods of the policy's namespace), `namespaceSelector`
  (every pod of the matching namespaces), both (the matching pods of the
  matching namespaces), or `ipBlock` (a CIDR less its `except` CIDRs).
- Ports: a number, a range (`port`..`endPort`), a named container port (of the
  destination pod: the target for ingress, each peer for egress), or only a
  protocol.

The result is data for :mod:`kybernetes.netpolicy.nft`; host-network pods are
neither targets nor peers, and pods without an IP yet are left out until they
have one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api import labels

Obj = dict[str, Any]
INGRESS, EGRESS = "Ingress", "Egress"


@dataclass(frozen=True, order=True)
class Ports:
    """One protocol's destination ports; `ranges` empty: every port of it."""

    protocol: str  # tcp, udp, sctp
    ranges: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Allow:
    """Traffic one rule allows: from/to `ips` and `blocks` (None: anywhere), on
    `ports` (None: every port and protocol)."""

    ips: frozenset[str] | None
    blocks: tuple[tuple[str, tuple[str, ...]], ...] = ()
    ports: tuple[Ports, ...] | None = None


@dataclass
class PodRules:
    """A local pod's allowances; None: not isolated in that direction."""

    ip: str
    key: str
    ingress: list[Allow] | None = None
    egress: list[Allow] | None = None


@dataclass
class Snapshot:
    """The objects the rules are made from (as the informers hold them)."""

    policies: list[Obj]
    pods: list[Obj]
    namespaces: Mapping[str, Obj]
    always_allowed: tuple[Allow, ...] = field(default=())


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _selector(raw: Any) -> labels.Selector:
    try:
        return labels.from_label_selector(raw if raw is not None else {})
    except Exception:  # refused by validation; an old object selects nothing
        return labels.NOTHING


def pod_ip(pod: Obj) -> str | None:
    """The IP of a pod that takes part in policy (not host-network, running or pending)."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    if spec.get("hostNetwork") or status.get("phase") in ("Succeeded", "Failed"):
        return None
    return status.get("podIP") or None


def _named_ports(pod: Obj) -> dict[str, list[tuple[str, int]]]:
    out: dict[str, list[tuple[str, int]]] = {}
    for c in (pod.get("spec") or {}).get("containers") or ():
        for p in c.get("ports") or ():
            if p.get("name") and p.get("containerPort"):
                out.setdefault(p["name"], []).append(
                    ((p.get("protocol") or "TCP").lower(), int(p["containerPort"])))
    return out


def _ports(raw: list[Obj] | None, destination: Obj | None) -> tuple[Ports, ...] | None:
    """A rule's ports (None: all); named ones resolved on `destination`. An empty tuple
    means none could be resolved: the rule allows nothing."""
    if not raw:
        return None
    whole: set[str] = set()
    ranges: dict[str, set[tuple[int, int]]] = {}
    for p in raw:
        protocol = str(p.get("protocol") or "TCP").lower()
        port = p.get("port")
        if port is None:
            whole.add(protocol)
        elif isinstance(port, str):
            named = _named_ports(destination).get(port, []) if destination else []
            for proto, number in named:
                if proto == protocol:
                    ranges.setdefault(protocol, set()).add((number, number))
        else:
            ranges.setdefault(protocol, set()).add((int(port), int(p.get("endPort") or port)))
    return tuple([Ports(proto) for proto in sorted(whole)] +
                 [Ports(proto, tuple(sorted(found))) for proto, found in sorted(ranges.items())
                  if proto not in whole])


def _has_named(raw: list[Obj] | None) -> bool:
    return any(isinstance(p.get("port"), str) for p in raw or ())


class _Index:
    """Pods and namespaces, for matching peers."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.pods = [(p, ip) for p in snapshot.pods if (ip := pod_ip(p)) is not None]
        self.namespaces = snapshot.namespaces
        # a rule's peers are the same for every pod its policy selects: found once
        self._peers: dict[tuple[int, str], list[tuple[Obj, str]]] = {}

    def namespace_labels(self, name: str) -> Mapping[str, str]:
        return _meta(self.namespaces.get(name) or {}).get("labels") or {}

    def peers(self, peer: Obj, policy_namespace: str) -> list[tuple[Obj, str]]:
        """The pods (and their IPs) a podSelector/namespaceSelector peer names."""
        found = self._peers.get((id(peer), policy_namespace))
        if found is None:
            found = self._peers[(id(peer), policy_namespace)] = self._match(peer,
                                                                            policy_namespace)
        return found

    def _match(self, peer: Obj, policy_namespace: str) -> list[tuple[Obj, str]]:
        pod_sel = _selector(peer["podSelector"]) if "podSelector" in peer else None
        ns_sel = _selector(peer["namespaceSelector"]) if "namespaceSelector" in peer else None
        out = []
        for pod, ip in self.pods:
            namespace = _meta(pod).get("namespace") or "default"
            if ns_sel is None:
                if namespace != policy_namespace:
                    continue
            elif not ns_sel.matches(self.namespace_labels(namespace)):
                continue
            if pod_sel is not None and not pod_sel.matches(_meta(pod).get("labels") or {}):
                continue
            out.append((pod, ip))
        return out


def _rule_allows(rule: Obj, direction: str, target: Obj, policy_namespace: str,
                 index: _Index) -> list[Allow]:
    peers_key = "from" if direction == INGRESS else "to"
    raw_ports = rule.get("ports")
    peers = rule.get(peers_key) or []
    if not peers:  # any peer
        destination = target if direction == INGRESS else None
        if direction == EGRESS and _has_named(raw_ports):
            # a named port on any destination: allow it to every pod that names it
            return [a for pod, ip in index.pods
                    if (a := Allow(frozenset({ip}), (), _ports(raw_ports, pod))).ports != ()]
        ports = _ports(raw_ports, destination)
        return [] if ports == () else [Allow(None, (), ports)]
    out: list[Allow] = []
    for peer in peers:
        block = peer.get("ipBlock")
        if block is not None:
            ports = _ports(raw_ports, target if direction == INGRESS else None)
            if ports != ():
                out.append(Allow(frozenset(), ((str(block.get("cidr")),
                                                tuple(str(e) for e in block.get("except")
                                                      or ())),), ports))
            continue
        matched = index.peers(peer, policy_namespace)
        if direction == EGRESS and _has_named(raw_ports):
            for pod, ip in matched:
                allow = Allow(frozenset({ip}), (), _ports(raw_ports, pod))
                if allow.ports != ():
                    out.append(allow)
            continue
        ports = _ports(raw_ports, target if direction == INGRESS else None)
        if matched and ports != ():
            out.append(Allow(frozenset(ip for _, ip in matched), (), ports))
    return out


def node_rules(snapshot: Snapshot, node_name: str) -> list[PodRules]:
    """Every policy-bearing pod on `node_name` with what it may receive and send."""
    index = _Index(snapshot)
    by_namespace: dict[str, list[tuple[Obj, labels.Selector]]] = {}
    for policy in snapshot.policies:  # each selector parsed once, not once per pod
        by_namespace.setdefault(_meta(policy).get("namespace") or "default", []).append(
            (policy, _selector((policy.get("spec") or {}).get("podSelector"))))
    out = []
    for pod, ip in index.pods:
        if (pod.get("spec") or {}).get("nodeName") != node_name:
            continue
        namespace = _meta(pod).get("namespace") or "default"
        pod_labels = _meta(pod).get("labels") or {}
        rules = PodRules(ip, f"{namespace}/{_meta(pod).get('name')}")
        for policy, selector in by_namespace.get(namespace, ()):
            if not selector.matches(pod_labels):
                continue
            spec = policy.get("spec") or {}
            types = spec.get("policyTypes") or [INGRESS]
            for direction, key in ((INGRESS, "ingress"), (EGRESS, "egress")):
                if direction in types:  # `key` is the PodRules field and the spec's
                    allows = _allows_of(spec.get(key) or [], direction, pod, namespace, index)
                    setattr(rules, key, (getattr(rules, key) or []) + allows)
        if rules.egress is not None:
            rules.egress = list(snapshot.always_allowed) + rules.egress
        if rules.ingress is not None or rules.egress is not None:
            out.append(rules)
    return out


def _allows_of(rules: Iterable[Obj], direction: str, target: Obj, namespace: str,
               index: _Index) -> list[Allow]:
    out: list[Allow] = []
    for rule in rules:
        out.extend(_rule_allows(rule or {}, direction, target, namespace, index))
    return out
