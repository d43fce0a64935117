"""Many fake kubelets in one process, for scale tests (`kyb hollow-nodes`).

As kubemark's hollow nodes and kwok: every node is a real :class:`Kubelet`
(registration, Lease, status, pod workers, events) on the fake runtime, so the
control plane sees N ordinary nodes. What is shared is what a machine would
not need to duplicate: one API client (one connection pool), one host-facts
read, and one pod informer whose events are routed to the kubelet named by
`spec.nodeName`. Registrations and heartbeats are spread out, so a thousand
nodes do not all renew their Lease in the same instant.

Memory is what bounds how many nodes one process holds (bench/hollow_nodes.py):
the informer keeps its pods without managedFields and with their repeated strings
shared (:mod:`kybernetes.client.transforms`), and only the pods of this process's
nodes (field selectors cannot name a set of nodes, so the rest are dropped as they
arrive); each node keeps a few fields of its Node and Lease, events are remembered
by name. The heartbeats and the informer may have clients of their own
(`heartbeat_client`, `watch_client`): with tens of thousands of pod status writes
queued in the main pool, a Lease renewal or the informer's re-list waiting behind
them would time out, and the nodes go NotReady or the pods unseen.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from kybernetes.api.resources import PODS
from kybernetes.client import Informer
from kybernetes.client.transforms import compact
from kybernetes.client.verbs import ListerWatcher
from kybernetes.kubelet.agent import Kubelet, KubeletClient
from kybernetes.kubelet.config import KubeletConfig
from kybernetes.kubelet.node import HostFacts, NodeClient
from kybernetes.kubelet.runtime.fake import FakeRuntime

log = logging.getLogger("kybernetes.kubelet.hollow")


class HollowNodes:
    """N fake-runtime kubelets sharing one client and one pod informer."""

    def __init__(self, client: KubeletClient, template: KubeletConfig, *, count: int,
                 prefix: str = "hollow-node", start_index: int = 0,
                 concurrency: int = 50, heartbeat_client: NodeClient | None = None,
                 watch_client: ListerWatcher | None = None) -> None:
        self.client = client
        self.watch_client = watch_client or client
        self.host = HostFacts.read(template.root_dir)
        self.kubelets: dict[str, Kubelet] = {}
        for i in range(start_index, start_index + count):
            name = f"{prefix}-{i}"
            config = replace(template, node_name=name, runtime="fake", serve=False)
            runtime = FakeRuntime(node_ip=template.node_ip or "127.0.0.1",
                                  fail_pattern=template.fail_pods_matching)
            self.kubelets[name] = Kubelet(client, config, runtime, host=self.host,
                                          own_informer=False, with_services=False,
                                          heartbeat_client=heartbeat_client)
        self._gate = asyncio.Semaphore(concurrency)
        self.pods: Informer | None = None

    async def _start_one(self, kubelet: Kubelet) -> None:
        async with self._gate:
            await kubelet.start()

    async def start(self) -> None:
        """Register every node, then route pod events to their kubelets."""
        await asyncio.gather(*(self._start_one(k) for k in self.kubelets.values()))
        self.pods = Informer(self.watch_client, PODS, field_selector="spec.nodeName!=",
                             transform=compact, keep=self._ours)
        self.pods.add_handler(on_add=self._route, on_update=self._route_update,
                              on_delete=self._route_delete)
        await self.pods.start()
        log.info("hollow nodes started", extra={"count": len(self.kubelets)})

    def _ours(self, pod: dict[str, Any]) -> bool:
        """Only this process's nodes' pods are cached: with several hollow-nodes
        processes, each would otherwise hold every pod of the cluster."""
        return self._kubelet(pod) is not None

    def _kubelet(self, pod: dict[str, Any]) -> Kubelet | None:
        return self.kubelets.get((pod.get("spec") or {}).get("nodeName", ""))

    def _route(self, pod: dict[str, Any]) -> None:
        kubelet = self._kubelet(pod)
        if kubelet is not None:
            kubelet.pod_changed(pod)

    def _route_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if old["metadata"].get("uid") != new["metadata"].get("uid"):
            self._route_delete(old)
        self._route(new)

    def _route_delete(self, pod: dict[str, Any]) -> None:
        kubelet = self._kubelet(pod)
        if kubelet is not None:
            kubelet.pod_deleted(pod)

    async def aclose(self) -> None:
        if self.pods is not None:
            await self.pods.aclose()
        await asyncio.gather(*(k.aclose() for k in self.kubelets.values()))
