"""The subnets of a cluster CIDR as a bitmap, as Kubernetes' cidrset keeps them.

Node IPAM asks for the next free subnet on every node that lacks one; scanning the
whole range against every used subnet each time made a 5,000-node cluster stall
(its cost grew with the square of the nodes). Here occupancy is one byte per
subnet, updated as nodes come and go, and allocation walks on from where the last
one stopped (kube's nextCandidate), so it is O(1) amortised and never scans used
subnets twice in a row.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network

Network = IPv4Network | IPv6Network
# kube's clusterSubnetMaxDiff (applied to IPv6 there); we apply it to IPv4 beyond /8
# of subnets too, since one byte per subnet of a /0 cut into /32s would be 4 GiB.
MAX_DIFF = {4: 24, 6: 16}


class OutOfRange(ValueError):
    """A network that is not inside the cluster CIDR (kube's wording)."""


class CidrSet:
    """Which /mask subnets of `cluster` are taken; allocate, occupy and release them."""

    def __init__(self, cluster: Network, mask: int) -> None:
        if not cluster.prefixlen < mask <= cluster.max_prefixlen:
            raise ValueError(f"mask size {mask} does not fit in {cluster}")
        if mask - cluster.prefixlen > MAX_DIFF[cluster.version]:
            raise ValueError("New CIDR set failed; the node CIDR size is too big")
        self.cluster, self.mask = cluster, mask
        self.size = 1 << (mask - cluster.prefixlen)
        self._shift = cluster.max_prefixlen - mask
        self._base = int(cluster.network_address)
        self._used = bytearray(self.size)
        self.count = 0
        self._next = 0

    def subnet(self, index: int) -> Network:
        return ip_network((self._base + (index << self._shift), self.mask))

    def full(self) -> bool:
        return self.count >= self.size

    def _indexes(self, net: Network) -> range:
        """The subnets `net` covers or sits in; OutOfRange when it is outside the cluster."""
        if net.version != self.cluster.version or not net.overlaps(self.cluster):
            raise OutOfRange(f"cidr {net} is out the range of cluster cidr {self.cluster}")
        first = (max(int(net.network_address), self._base) - self._base) >> self._shift
        if net.prefixlen >= self.mask:
            return range(first, first + 1)
        return range(first, min(first + (1 << (self.mask - net.prefixlen)), self.size))

    def occupy(self, net: Network) -> None:
        """Mark `net` used (idempotent: counted once); OutOfRange as kube's Occupy."""
        for i in self._indexes(net):
            if not self._used[i]:
                self._used[i] = 1
                self.count += 1

    def release(self, net: Network) -> None:
        for i in self._indexes(net):
            if self._used[i]:
                self._used[i] = 0
                self.count -= 1

    def allocate(self) -> Network | None:
        """The next free subnet after the last one given (wrapping), or None when full."""
        if self.full():
            return None
        found = self._used.find(0, self._next)
        if found < 0:
            found = self._used.find(0, 0, self._next)
        self._used[found] = 1
        self.count += 1
        self._next = (found + 1) % self.size
        return self.subnet(found)
