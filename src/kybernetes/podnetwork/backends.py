"""How a node reaches another node's pods: flannel's host-gw and vxlan backends.

Both change only the network namespace they run in (the node's), with iproute2:

- host-gw: ``ip route replace <peer podCIDR> via <peer InternalIP>`` — the nodes
  must share a link (one L2 segment), as with flannel's host-gw.
- vxlan: one VXLAN device (VNI 1, UDP 8472, flannel's defaults) holding the node's
  VTEP address (its pod CIDR's network address, /32); per peer a permanent
  neighbour entry (VTEP → MAC), an FDB entry (MAC → peer InternalIP) and a route
  ``<peer podCIDR> via <peer VTEP> dev <device> onlink`` — what flanneld writes.
"""

from __future__ import annotations

import json
from typing import Protocol

from kybernetes.kubelet.network import run_tool
from kybernetes.podnetwork.peers import Peer

MODES = ("host-gw", "vxlan")
VXLAN_ID = 1
VXLAN_PORT = 8472
VXLAN_OVERHEAD = 50  # outer Ethernet + IP + UDP + VXLAN headers


class Backend(Protocol):
    """Routes to the other nodes' pods in this node's network namespace."""

    async def setup(self, own: Peer) -> None: ...

    async def add(self, peer: Peer) -> None: ...

    async def remove(self, peer: Peer) -> None: ...

    async def teardown(self) -> None: ...

    async def prune(self, cluster_cidr: str, keep: set[str]) -> None: ...


class HostGw:
    """A route per peer via its address. The routes outlive the agent (as flannel's
    do): a restarted agent replaces them, and a node's namespace takes them along."""

    async def setup(self, own: Peer) -> None:
        return None

    async def add(self, peer: Peer) -> None:
        await run_tool("ip", "route", "replace", peer.pod_cidr, "via", peer.ip)

    async def remove(self, peer: Peer) -> None:
        await run_tool("ip", "route", "del", peer.pod_cidr, "via", peer.ip, check=False)

    async def teardown(self) -> None:
        return None

    async def prune(self, cluster_cidr: str, keep: set[str]) -> None:
        """Delete routes via a gateway into the cluster CIDR to pod CIDRs not in `keep`:
        those of nodes deleted while this agent was not running."""
        listed = await run_tool("ip", "-o", "route", "show", "root", cluster_cidr, check=False)
        for line in listed.splitlines():
            dest, *rest = line.split()
            if "via" in rest and dest not in keep:
                await run_tool("ip", "route", "del", dest, *rest[:rest.index("via") + 2],
                               check=False)


class Vxlan:
    """The VXLAN device `device` and a neighbour, FDB entry and route per peer."""

    def __init__(self, device: str) -> None:
        self.device = device

    async def setup(self, own: Peer) -> None:
        """(Re)create the device for this node's address and VTEP."""
        dev = self.device
        await run_tool("ip", "link", "del", dev, check=False)
        mtu = await _mtu_of(own.ip) - VXLAN_OVERHEAD
        await run_tool("ip", batch=(
            f"link add {dev} type vxlan id {VXLAN_ID} local {own.ip} dstport {VXLAN_PORT} "
            "nolearning\n"
            f"link set {dev} address {own.vtep_mac} mtu {mtu}\n"
            f"addr add {own.vtep}/32 dev {dev}\n"
            f"link set {dev} up\n"))

    async def add(self, peer: Peer) -> None:
        dev = self.device
        await run_tool("ip", batch=(
            f"neigh replace {peer.vtep} lladdr {peer.vtep_mac} dev {dev} nud permanent\n"
            f"route replace {peer.pod_cidr} via {peer.vtep} dev {dev} onlink\n"))
        await run_tool("bridge", "fdb", "replace", peer.vtep_mac, "dev", dev, "dst", peer.ip,
                       "self", "permanent")

    async def remove(self, peer: Peer) -> None:
        dev = self.device
        await run_tool("ip", "route", "del", peer.pod_cidr, "dev", dev, check=False)
        await run_tool("ip", "neigh", "del", peer.vtep, "dev", dev, check=False)
        await run_tool("bridge", "fdb", "del", peer.vtep_mac, "dev", dev, "self", check=False)

    async def teardown(self) -> None:
        """Delete the device: its routes, neighbours and FDB entries go with it."""
        await run_tool("ip", "link", "del", self.device, check=False)

    async def prune(self, cluster_cidr: str, keep: set[str]) -> None:
        return None  # `setup` made the device afresh: it has no stale entries


async def _mtu_of(address: str) -> int:
    """The MTU of the link holding `address` (1500 when none does)."""
    out = await run_tool("ip", "-j", "addr", "show", check=False)
    try:
        links = json.loads(out or "[]")
    except ValueError:
        return 1500
    for link in links:
        if any(a.get("local") == address for a in link.get("addr_info") or []):
            return int(link.get("mtu") or 1500)
    return 1500


def make_backend(mode: str, device: str) -> Backend:
    if mode == "host-gw":
        return HostGw()
    if mode == "vxlan":
        return Vxlan(device)
    raise ValueError(f"unknown pod network mode {mode!r}: want one of {', '.join(MODES)}")
