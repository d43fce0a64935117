"""Who the other nodes are, read from Node objects (pure logic, no side effects)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Peer:
    """A node's pod CIDR and the address its traffic goes to."""

    name: str
    ip: str
    pod_cidr: str

    @property
    def vtep(self) -> str:
        """The node's VXLAN device address: its pod CIDR's network address (as flannel's
        `flannel.1` holds `10.244.1.0/32`)."""
        return str(ipaddress.ip_network(self.pod_cidr, strict=False).network_address)

    @property
    def vtep_mac(self) -> str:
        """The VXLAN device's MAC, derived from `vtep` (0a:58 + the four address bytes),
        so peers need not publish it in an annotation as flannel does."""
        return vtep_mac(self.vtep)


def vtep_mac(address: str) -> str:
    raw = ipaddress.IPv4Address(address).packed
    return "0a:58:" + ":".join(f"{b:02x}" for b in raw)


def internal_ip(node: dict[str, Any]) -> str | None:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP" and address.get("address"):
            return str(address["address"])
    return None


def pod_cidr(node: dict[str, Any]) -> str | None:
    cidr = (node.get("spec") or {}).get("podCIDR")
    if not cidr:
        return None
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None
    return str(network) if network.version == 4 else None


def peer_of(node: dict[str, Any]) -> tuple[Peer | None, str]:
    """The node as a peer, or None and why not (no usable podCIDR or InternalIP)."""
    name = node["metadata"]["name"]
    cidr = pod_cidr(node)
    if cidr is None:
        return None, f"node {name} has no IPv4 spec.podCIDR: no route to its pods"
    ip = internal_ip(node)
    if ip is None:
        return None, f"node {name} has no InternalIP: no route to its pods"
    return Peer(name, ip, cidr), ""
