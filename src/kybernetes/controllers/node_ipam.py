"""Node IPAM: give every node its own slice of the cluster's pod range.

As Kubernetes' range allocator: the cluster CIDR (`--cluster-cidr`) is cut
into subnets of `--node-cidr-mask-size`, kept as a bitmap (:mod:`.cidr_set`)
that node events update, so handing out a subnet is O(1) amortised however many
nodes there are. Nothing is stored besides the nodes themselves: the bitmap is
rebuilt from the nodes in the informer cache, so a restart (or a new leader)
continues where the last one stopped and never hands a subnet out twice.
Subnets this process has just assigned but not yet seen through the watch stay
occupied. Taking a subnet from the bitmap has no await in it and the work queue
never gives one node to two workers, so several workers (kube runs 30) patch
nodes at once without two nodes racing for one subnet.

When the range is full the node gets kube's event (Normal, `CIDRNotAvailable`,
"Node n status is now: CIDRNotAvailable", as kube's RecordNodeStatusChange) and,
beyond kube's range allocator (which says nothing on the node), the condition
NetworkUnavailable=True (reason `CIDRNotAvailable`), so `kubectl describe node`
shows why; it is retried as nodes go, and the node's own
status updates meanwhile cost a counter check, never a scan. A node whose podCIDR
lies outside the cluster CIDR (kube refuses it: "cidr … is out the range of
cluster cidr …") is not counted and gets a Warning event `PodCIDROutOfRange`.
"""

from __future__ import annotations

import contextlib
import logging
from ipaddress import IPv4Network, IPv6Network, ip_network

from kybernetes.api import errors
from kybernetes.api.meta import now_rfc3339
from kybernetes.api.resources import NODES
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers.base import Controller, Obj, meta
from kybernetes.controllers.cidr_set import CidrSet, OutOfRange

log = logging.getLogger("kybernetes.controllers.node_ipam")

Network = IPv4Network | IPv6Network
UNAVAILABLE = "CIDRNotAvailable"
OUT_OF_RANGE = "PodCIDROutOfRange"


def _node_cidrs(node: Obj) -> list[Network]:
    spec = node.get("spec") or {}
    texts = list(spec.get("podCIDRs") or [])
    if spec.get("podCIDR") and spec["podCIDR"] not in texts:
        texts.append(spec["podCIDR"])
    out = []
    for text in texts:
        try:
            out.append(ip_network(text, strict=False))
        except ValueError:
            continue
    return out


class NodeIpamController(Controller):
    """Assigns `spec.podCIDR(s)` to nodes from the cluster CIDR."""

    name = "nodeipam"
    component = "cidrAllocator"
    default_workers = 8  # patches in flight at once; allocation itself is atomic

    def __init__(self, client: ApiClient, informers: InformerFactory, *,
                 cluster_cidr: Network | str = "10.244.0.0/16", mask_size: int = 24) -> None:
        super().__init__(client, informers)
        self.cluster_cidr = ip_network(cluster_cidr, strict=False) if isinstance(
            cluster_cidr, str) else cluster_cidr
        self.cidrs = CidrSet(self.cluster_cidr, mask_size)
        self.mask_size = mask_size
        self._assigned: dict[str, Network] = {}  # node name -> subnet we wrote, until seen
        self._waiting: set[str] = set()  # nodes left without a subnet (the range was full)
        self.nodes = informers.get(NODES)
        self._flagged: set[str] = set()  # nodes told their podCIDR is out of range
        self.nodes.add_handler(on_add=self._node_seen, on_update=self._node_updated,
                               on_delete=self._node_deleted)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        """A heartbeat or status update of a node that has its CIDR: nothing to do."""
        spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
        if spec.get("podCIDRs") and spec.get("podCIDRs") == old_spec.get("podCIDRs"):
            return
        self._node_seen(new)

    def _node_seen(self, node: Obj) -> None:
        for net in _node_cidrs(node):
            try:
                self.cidrs.occupy(net)
            except OutOfRange as e:
                self._out_of_range(node, net, e)
        self.enqueue(node)

    def _out_of_range(self, node: Obj, net: Network, error: OutOfRange) -> None:
        """Kube refuses such a node (its controller manager will not start); we say so."""
        name = meta(node).get("name", "")
        if name in self._flagged:
            return
        self._flagged.add(name)
        message = f"failed to mark cidr[{net}] at idx [0] as occupied for node: {name}: {error}"
        self.event(node, "Warning", OUT_OF_RANGE, message)
        log.error("pod CIDR out of range", extra={"node": name, "cidr": str(net),
                                                   "cluster_cidr": str(self.cluster_cidr)})

    def _node_deleted(self, node: Obj) -> None:
        name = meta(node).get("name", "")
        pending = self._assigned.pop(name, None)
        for net in [*_node_cidrs(node), *([pending] if pending else [])]:
            with contextlib.suppress(OutOfRange):
                self.cidrs.release(net)
        self._waiting.discard(name)
        self._flagged.discard(name)
        for waiting in list(self._waiting):  # a subnet came free: try again
            self.queue.add(waiting)

    def next_free(self) -> Network | None:
        """The next subnet of the cluster CIDR that no node holds (now taken)."""
        return self.cidrs.allocate()

    async def sync(self, key: str) -> None:
        node = self.nodes.get(key)
        if node is None:
            return
        if _node_cidrs(node):
            self._assigned.pop(key, None)
            self._waiting.discard(key)
            return
        if key in self._assigned:
            return  # written; the watch has not shown it yet
        subnet = self.next_free()
        if subnet is None:
            await self._range_full(node)
            return
        patch = {"spec": {"podCIDR": str(subnet), "podCIDRs": [str(subnet)]}}
        self._assigned[key] = subnet  # before the await: the watch may be quicker
        try:
            await self.client.patch(NODES, key, patch)
        except errors.NotFound:
            self._give_back(key, subnet)
            return
        except errors.ApiError:
            self._give_back(key, subnet)
            raise
        if key in self._waiting:
            self._waiting.discard(key)
            await self._set_network_unavailable(key, "False", "CIDRAssigned",
                                                f"pod CIDR {subnet} assigned")
        log.info("assigned pod CIDR", extra={"node": key, "cidr": str(subnet)})

    def _give_back(self, key: str, subnet: Network) -> None:
        """The patch failed: the subnet is free again, unless the node shows it or
        its deletion has released it already (then it may be someone else's now)."""
        if self._assigned.get(key) != subnet:
            return
        del self._assigned[key]
        node = self.nodes.get(key)
        if node is None or subnet not in _node_cidrs(node):
            self.cidrs.release(subnet)

    async def _range_full(self, node: Obj) -> None:
        """Say so on the node, once: an event and NetworkUnavailable=True."""
        name = meta(node)["name"]
        if name in self._waiting:
            return
        self._waiting.add(name)
        message = f"no pod CIDR of /{self.mask_size} is left in {self.cluster_cidr}"
        self.event(node, "Normal", UNAVAILABLE, f"Node {name} status is now: {UNAVAILABLE}")
        await self._set_network_unavailable(name, "True", UNAVAILABLE, message)
        log.warning("pod CIDR range exhausted", extra={"node": name,
                                                       "cluster_cidr": str(self.cluster_cidr)})

    async def _set_network_unavailable(self, name: str, status: str, reason: str,
                                       message: str) -> None:
        """The node's NetworkUnavailable condition (merged by type: others stay)."""
        now = now_rfc3339()
        condition = {"type": "NetworkUnavailable", "status": status, "reason": reason,
                     "message": message, "lastTransitionTime": now, "lastHeartbeatTime": now}
        try:
            await self.client.patch(NODES, name, {"status": {"conditions": [condition]}},
                                    patch_type="strategic", subresource="status")
        except errors.NotFound:
            return
