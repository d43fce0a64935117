"""NetworkPolicies (networking.k8s.io/v1): defaults and validation as
pkg/apis/networking (SetDefaults_NetworkPolicy, ValidateNetworkPolicy), with
Kubernetes' paths and wording."""

from __future__ import annotations

import ipaddress
from typing import Any

from kybernetes.api import meta as names
from kybernetes.api.field_errors import ErrorList, as_dict, as_list, label_selector_errors

Obj = dict[str, Any]
INGRESS, EGRESS = "Ingress", "Egress"
POLICY_TYPES = (INGRESS, EGRESS)
PROTOCOLS = ("TCP", "UDP", "SCTP")
_CIDR_MESSAGE = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"


def network_policy_defaults(policy: Obj) -> None:
    """policyTypes: Ingress, plus Egress when there are egress rules; ports: TCP."""
    spec = policy.get("spec")
    if not isinstance(spec, dict):
        return
    if not spec.get("policyTypes"):
        spec["policyTypes"] = [INGRESS] + ([EGRESS] if spec.get("egress") else [])
    for direction in ("ingress", "egress"):
        for rule in as_list(spec.get(direction)):
            for port in as_list(as_dict(rule).get("ports")):
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")


def _network(text: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(str(text), strict=False)
    except ValueError:
        return None


def _strict_subset(inner: ipaddress.IPv4Network | ipaddress.IPv6Network,
                   outer: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    return (inner.version == outer.version and inner.prefixlen > outer.prefixlen
            and inner.network_address in outer)


def _port(errs: ErrorList, port: Obj, path: str) -> None:
    protocol = port.get("protocol")
    if protocol is not None and protocol not in PROTOCOLS:
        errs.not_supported(f"{path}.protocol", protocol, PROTOCOLS)
    number, end = port.get("port"), port.get("endPort")
    if number is None:
        if end is not None:
            errs.invalid(f"{path}.endPort", end, "may not be specified when `port` is not "
                                                 "specified")
    elif isinstance(number, int) and not isinstance(number, bool):
        errs.each(f"{path}.port", number, names.is_valid_port_num(number))
        if end is not None:
            if isinstance(end, int) and end < number:
                errs.invalid(f"{path}.endPort", number, "must be greater than or equal to "
                                                        "`port`")
            errs.each(f"{path}.endPort", end, names.is_valid_port_num(end))
    else:
        if end is not None:
            errs.invalid(f"{path}.endPort", end, "may not be specified when `port` is "
                                                 "non-numeric")
        errs.each(f"{path}.port", number, names.is_valid_port_name(str(number)))


def _ip_block(errs: ErrorList, block: Obj, path: str) -> None:
    cidr = block.get("cidr")
    if not cidr:
        errs.required(f"{path}.cidr")
        return
    network = _network(cidr) if "/" in str(cidr) else None
    if network is None:
        errs.invalid(f"{path}.cidr", cidr, _CIDR_MESSAGE)
        return
    for i, text in enumerate(as_list(block.get("except"))):
        excepted = _network(text) if "/" in str(text) else None
        if excepted is None:
            errs.invalid(f"{path}.except[{i}]", text, _CIDR_MESSAGE)
        elif not _strict_subset(excepted, network):
            errs.invalid(f"{path}.except[{i}]", text, "must be a strict subset of `cidr`")


def _peer(errs: ErrorList, peer: Obj, path: str) -> None:
    count = 0
    for key in ("podSelector", "namespaceSelector"):
        if peer.get(key) is not None:
            count += 1
            errs.causes.extend(label_selector_errors(peer[key], f"{path}.{key}"))
    if peer.get("ipBlock") is not None:
        count += 1
        _ip_block(errs, as_dict(peer["ipBlock"]), f"{path}.ipBlock")
    if count == 0:
        errs.required(path, "must specify a peer")
    elif count > 1 and peer.get("ipBlock") is not None:
        errs.forbidden(path, "may not specify both ipBlock and another peer")


def validate_network_policy(errs: ErrorList, policy: Obj, old: Obj | None) -> None:
    """ValidateNetworkPolicy (an update is validated as a create: every field may change)."""
    spec = as_dict(policy.get("spec"))
    errs.causes.extend(label_selector_errors(spec.get("podSelector") or {}, "spec.podSelector"))
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(as_list(spec.get(direction))):
            rule, path = as_dict(rule), f"spec.{direction}[{i}]"
            for j, port in enumerate(as_list(rule.get("ports"))):
                _port(errs, as_dict(port), f"{path}.ports[{j}]")
            for j, peer in enumerate(as_list(rule.get(peers))):
                _peer(errs, as_dict(peer), f"{path}.{peers}[{j}]")
    types = as_list(spec.get("policyTypes"))
    if len(types) > len(POLICY_TYPES):
        errs.invalid("spec.policyTypes", types, "may not specify more than two policyTypes")
        return
    for i, kind in enumerate(types):
        if kind not in POLICY_TYPES:
            errs.not_supported(f"spec.policyTypes[{i}]", kind, POLICY_TYPES)
