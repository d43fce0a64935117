"""The per-node agent: keeps this node's routes to the other nodes' pods in step with
the Node objects (added, changed, deleted), as flanneld's subnet watch does.

Level-based: every change of any Node (and a resync every `resync` seconds)
recomputes the wanted peers from the informer's cache and applies the difference,
so a missed event or a failed `ip` command heals at the next pass. A Node without
a podCIDR or InternalIP gets no route and one Warning event; the others go on.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any, Protocol

from kybernetes.api.resources import NODES
from kybernetes.client import EventRecorder, Informer
from kybernetes.client.verbs import EventWriter, ListerWatcher
from kybernetes.kubelet.network import NetworkError
from kybernetes.podnetwork.backends import Backend, make_backend
from kybernetes.podnetwork.masquerade import NoMasquerade
from kybernetes.podnetwork.peers import Peer, peer_of
from kybernetes.tasks import wait_for_change

log = logging.getLogger("kybernetes.podnetwork")


class AgentClient(ListerWatcher, EventWriter, Protocol):
    """What the agent needs of the API: watch Nodes, write Events."""


def vxlan_device(node_name: str) -> str:
    """`kyx` + a hash of the node name: unique even when several agents share one
    network namespace (nodes on the host network), and under 16 characters."""
    return "kyx" + hashlib.sha256(node_name.encode()).hexdigest()[:8]


class PodNetworkAgent:
    """Routes from this node (`node_name`) to every other node's pod CIDR."""

    def __init__(self, client: AgentClient, node_name: str, mode: str, cluster_cidr: str, *,
                 resync: float = 30.0, backend: Backend | None = None) -> None:
        self.node_name = node_name
        self.backend = backend or make_backend(mode, vxlan_device(node_name))
        self.cluster_cidr = cluster_cidr
        self.no_masquerade = NoMasquerade(node_name, cluster_cidr)
        self.nodes = Informer(client, NODES)
        self.recorder = EventRecorder(client, "pod-network", host=node_name)
        self.resync = resync
        self.own: Peer | None = None
        self.applied: dict[str, Peer] = {}
        self._warned: dict[str, str] = {}
        self._changed = asyncio.Event()

    def _poke(self, *_: Any) -> None:
        self._changed.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the Nodes until `stop`; then remove the VXLAN device and the rule."""
        self.nodes.add_handler(on_add=self._poke, on_update=self._poke, on_delete=self._poke)
        await self.nodes.start()
        try:
            await self.nodes.wait_synced()
            await self.no_masquerade.add()
            while not stop.is_set():
                self._changed.clear()
                try:
                    await self.sync()
                except NetworkError as e:
                    log.warning("routes not synced; retrying", extra={"error": str(e)})
                    self.own = None  # set the device up again at the next pass
                    await asyncio.sleep(1.0)
                    continue
                await wait_for_change(self._changed, stop, self.resync)
        finally:
            await self.nodes.aclose()
            await self.backend.teardown()
            await self.no_masquerade.remove()
            await self.recorder.aclose()

    async def sync(self) -> None:
        """Bring the routes to what the Nodes say now."""
        wanted: dict[str, Peer] = {}
        own_node = None
        for node in self.nodes.list():
            name = node["metadata"]["name"]
            peer, why = peer_of(node)
            if name == self.node_name:
                own_node = peer
            elif peer is None:
                self._warn(node, why)
            else:
                self._warned.pop(name, None)
                wanted[name] = peer
        if own_node is None:
            log.info("waiting for this node's podCIDR and InternalIP",
                     extra={"node": self.node_name})
            return
        if own_node != self.own:  # first pass, or this node's address or CIDR changed
            await self.backend.setup(own_node)
            await self.backend.prune(self.cluster_cidr, {p.pod_cidr for p in wanted.values()})
            self.own, self.applied = own_node, {}
        for name, peer in list(self.applied.items()):
            if wanted.get(name) != peer:
                await self.backend.remove(peer)
                del self.applied[name]
                log.info("route removed", extra={"peer": name, "cidr": peer.pod_cidr})
        for name, peer in wanted.items():
            if name not in self.applied:
                await self.backend.add(peer)
                self.applied[name] = peer
                log.info("route added", extra={"peer": name, "cidr": peer.pod_cidr,
                                               "via": peer.ip})

    def _warn(self, node: dict[str, Any], why: str) -> None:
        name = node["metadata"]["name"]
        if self._warned.get(name) != why:
            self._warned[name] = why
            log.warning(why, extra={"peer": name})
            self.recorder.event(node, "Warning", "NoPodRoute", why)
