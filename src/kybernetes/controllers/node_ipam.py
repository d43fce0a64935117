"""Node IPAM: give every node its own slice of the cluster's pod range.

As Kubernetes' range allocator: the cluster CIDR (`--cluster-cidr`) is cut
into subnets of `--node-cidr-mask-size`; a node without `spec.podCIDR` gets the
lowest subnet no node holds. Nothing is stored besides the nodes themselves:
the set of used subnets is derived from the nodes in the informer cache, so a
restart (or a new leader) continues where the last one stopped and never hands
a subnet out twice. Subnets this process has just assigned but not yet seen
through the watch are remembered, and the controller runs one worker, so two
nodes cannot race for the same subnet. A full range is a Warning event
`CIDRNotAvailable` on the node.
"""

from __future__ import annotations

import logging
from ipaddress import IPv4Network, IPv6Network, ip_network

from kybernetes.api import errors
from kybernetes.api.resources import NODES
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers.base import Controller, Obj, meta

log = logging.getLogger("kybernetes.controllers.node_ipam")

Network = IPv4Network | IPv6Network


def _node_cidrs(node: Obj) -> list[str]:
    spec = node.get("spec") or {}
    cidrs = list(spec.get("podCIDRs") or [])
    if spec.get("podCIDR") and spec["podCIDR"] not in cidrs:
        cidrs.append(spec["podCIDR"])
    return cidrs


class NodeIpamController(Controller):
    """Assigns `spec.podCIDR(s)` to nodes from the cluster CIDR."""

    name = "nodeipam"
    component = "cidrAllocator"
    default_workers = 1  # one allocator: no two nodes race for a subnet

    def __init__(self, client: ApiClient, informers: InformerFactory, *,
                 cluster_cidr: Network | str = "10.244.0.0/16", mask_size: int = 24) -> None:
        super().__init__(client, informers)
        self.cluster_cidr = ip_network(cluster_cidr, strict=False) if isinstance(
            cluster_cidr, str) else cluster_cidr
        if not self.cluster_cidr.prefixlen < mask_size <= self.cluster_cidr.max_prefixlen:
            raise ValueError(f"mask size {mask_size} does not fit in {self.cluster_cidr}")
        self.mask_size = mask_size
        self._assigned: dict[str, str] = {}  # node name -> subnet we wrote, until seen
        self.nodes = informers.get(NODES)
        self.nodes.add_handler(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n),
                               on_delete=self._node_deleted)

    def _node_deleted(self, node: Obj) -> None:
        self._assigned.pop(meta(node).get("name", ""), None)

    def _used(self) -> set[Network]:
        used: set[Network] = set()
        for node in self.nodes.list():
            for cidr in _node_cidrs(node):
                try:
                    used.add(ip_network(cidr, strict=False))
                except ValueError:
                    continue
        used.update(ip_network(c) for c in self._assigned.values())
        return used

    def next_free(self) -> Network | None:
        """The lowest subnet of the cluster CIDR that no node holds."""
        used = self._used()
        for subnet in self.cluster_cidr.subnets(new_prefix=self.mask_size):
            if not any(subnet.overlaps(u) for u in used):
                return subnet
        return None

    async def sync(self, key: str) -> None:
        node = self.nodes.get(key)
        if node is None:
            return
        if _node_cidrs(node):
            self._assigned.pop(key, None)
            return
        if key in self._assigned:
            return  # written; the watch has not shown it yet
        subnet = self.next_free()
        if subnet is None:
            self.event(node, "Warning", "CIDRNotAvailable",
                       f"Node {key} status is now: CIDRNotAvailable")
            return
        patch = {"spec": {"podCIDR": str(subnet), "podCIDRs": [str(subnet)]}}
        try:
            await self.client.patch(NODES, key, patch)
        except errors.NotFound:
            return
        self._assigned[key] = str(subnet)
        log.info("assigned pod CIDR", extra={"node": key, "cidr": str(subnet)})
