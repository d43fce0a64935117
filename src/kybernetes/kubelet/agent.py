"""The kubelet: one node's agent, tying the Node, the pods and the runtime together.

`Kubelet.start()` registers the Node (NodeAgent), rebuilds its view of what
the runtime still runs (adoption after a restart), then follows the pods bound
to this node. Pods arrive through :meth:`pod_changed` / :meth:`pod_deleted`:
a standalone kubelet feeds them from its own informer (fieldSelector
spec.nodeName=<node>); `kyb hollow-nodes` feeds a thousand kubelets from one
shared informer. Each pod gets a :class:`PodWorker` task.

Once the pod list is synced, containers and sandboxes of pods that no longer
exist are removed, as the Kubernetes kubelet's housekeeping does.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any, Protocol

from kybernetes.api.errors import InternalError, ServiceUnavailable, TooManyRequests
from kybernetes.api.quantity import cpu_millis, memory_bytes
from kybernetes.api.resources import PODS, SERVICES
from kybernetes.client import EventRecorder, Informer
from kybernetes.client.transforms import drop_managed_fields
from kybernetes.client.verbs import Deleter, EventWriter, ListerWatcher, SubresourceCreator
from kybernetes.kubelet.backoff import Backoff
from kybernetes.kubelet.config import KubeletConfig
from kybernetes.kubelet.image_gc import ImageGC, ImageGcRuntime
from kybernetes.kubelet.node import HostFacts, NodeAgent, NodeClient, default_node_ip
from kybernetes.kubelet.pod_references import PodReferences
from kybernetes.kubelet.pod_volumes import PodVolumes
from kybernetes.kubelet.runtime.base import Runtime
from kybernetes.kubelet.sandboxes import PodSandboxes
from kybernetes.kubelet.tokens import TokenManager
from kybernetes.kubelet.worker import PodHost, PodWorker
from kybernetes.tasks import cancel_and_wait, spawn

log = logging.getLogger("kybernetes.kubelet")


class KubeletClient(NodeClient, ListerWatcher, EventWriter, Deleter, SubresourceCreator,
                    Protocol):
    """The verbs a kubelet uses: its Node's, its informers', its events', the pod
    workers' (status patches, the final delete) and the pods' tokens (TokenRequest)."""


class Kubelet:
    """Runs the pods bound to one node through one runtime."""

    def __init__(self, client: KubeletClient, config: KubeletConfig, runtime: Runtime, *,
                 host: HostFacts | None = None, own_informer: bool = True,
                 with_services: bool = True, heartbeat_client: NodeClient | None = None
                 ) -> None:
        self.client = client
        self.config = config
        self.runtime = runtime
        self.host = host or HostFacts.read(config.root_dir)
        self.node_ip = config.node_ip or default_node_ip()
        # Leases and node status on their own connections when given (kube's kubelet has
        # a heartbeat client too): pod status writes queued by the thousand must not
        # starve them
        self.node = NodeAgent(heartbeat_client or client, config, host=self.host,
                              runtime_version=runtime.version,
                              node_ip=self.node_ip)
        self.recorder = EventRecorder(client, "kubelet", host=config.node_name)
        self.backoff = Backoff(base=config.backoff_base, cap=config.backoff_max)
        self.references = PodReferences(client)
        self.pod_volumes = PodVolumes(config.root_dir, self.references.lookup,
                                      TokenManager(client))
        self.sandboxes = PodSandboxes(runtime, self.recorder, self.node_ip)
        self.pod_host = PodHost(
            client=client, runtime=runtime, recorder=self.recorder, backoff=self.backoff,
            volumes=self.pod_volumes, sandboxes=self.sandboxes, references=self.references,
            node_ip=self.node_ip, allocatable=self.allocatable,
            sync_seconds=config.sync_seconds, root_dir=config.root_dir)
        self.workers: dict[str, PodWorker] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._own_informer = own_informer
        self._with_services = with_services
        self.pods: Informer | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._image_gc: asyncio.Task[None] | None = None
        self.shutting_down = False
        runtime.on_change(self._container_changed)

    @property
    def allocatable(self) -> dict[str, int]:
        return {"cpu": cpu_millis(self.host.cpus), "memory": memory_bytes(
            f"{self.host.memory_kib}Ki"), "ephemeral-storage": self.host.storage_kib * 1024}

    # -- life cycle ----------------------------------------------------------------

    def serving_on(self, port: int) -> None:
        """The HTTPS API's actual port (when --port 0 asked for any free one)."""
        self.config = replace(self.config, port=port)
        self.node.config = self.config

    async def start(self) -> None:
        """Register, adopt, and begin following this node's pods."""
        await self.runtime.start()
        # a runtime learns its version (docker://27.5.1, containerd://1.6.20) on start
        self.node.runtime_version = self.runtime.version
        await self._register()
        await self.sandboxes.configure(self.node.pod_cidr)
        self._heartbeat = spawn(self.node.run(), name=f"heartbeat-{self.config.node_name}")
        if isinstance(self.runtime, ImageGcRuntime):
            gc = ImageGC(self.runtime, high=self.config.image_gc_high_threshold,
                         low=self.config.image_gc_low_threshold)
            self._image_gc = spawn(gc.run(self.config.image_gc_period),
                                   name=f"image-gc-{self.config.node_name}")
        if self._with_services:
            self.references.service_informer = Informer(self.client, SERVICES)
            await self.references.service_informer.start()
        if self._own_informer:
            self.pods = Informer(self.client, PODS,
                                 field_selector=f"spec.nodeName={self.config.node_name}",
                                 transform=drop_managed_fields)
            self.pods.add_handler(on_add=self.pod_changed,
                                  on_update=self._pod_replaced,
                                  on_delete=self.pod_deleted)
            await self.pods.start()
            async with asyncio.timeout(30):
                await self.pods.wait_synced()
            await self.remove_orphans({p["metadata"]["uid"] for p in self.pods.list()})
        log.info("kubelet started", extra={"node": self.config.node_name,
                                           "runtime": self.runtime.version})

    async def _register(self) -> None:
        """Register, retrying while the API server is unreachable (it may start later)."""
        delay = 0.2
        while True:
            try:
                await self.node.register()
                return
            except (ServiceUnavailable, InternalError, TooManyRequests) as e:
                log.info("registration failed; retrying",
                         extra={"node": self.config.node_name, "error": str(e)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def aclose(self, *, teardown: bool = False) -> None:
        """Stop following pods; with `teardown`, also stop every container and sandbox."""
        for informer in (self.pods, self.references.service_informer):
            if informer is not None:
                await informer.aclose()
        await cancel_and_wait(self._heartbeat, self._image_gc, *self._tasks.values())
        await self.pod_volumes.aclose()
        if teardown:
            await self.remove_orphans(set(), grace=0)
            await self.runtime.teardown()
        await self.recorder.aclose()
        await self.runtime.aclose()

    async def mark_shutting_down(self, message: str) -> list[PodWorker]:
        """Graceful node shutdown (:mod:`.shutdown`) begins: the Node goes not Ready,
        new pods are ignored, and the pod workers stop their own loops and are handed
        over to be stopped."""
        self.shutting_down = True
        self.node.ready_error = message
        try:
            await self.node.post_status()
        except Exception as e:  # the pods are stopped all the same
            log.warning("node status not posted", extra={"error": repr(e)})
        workers = list(self.workers.values())
        await cancel_and_wait(*self._tasks.values())
        return workers

    # -- pods in -------------------------------------------------------------------

    def pod_changed(self, pod: dict[str, Any]) -> None:
        if self.shutting_down:  # a node going down takes no pods
            return
        uid = pod["metadata"]["uid"]
        worker = self.workers.get(uid)
        if worker is not None:
            worker.update(pod)
            return
        worker = PodWorker(self.pod_host, pod, rejected=self._admit(pod))
        self.workers[uid] = worker
        self._tasks[uid] = spawn(self._run_worker(worker), name=f"pod-{uid}")

    def _admit(self, pod: dict[str, Any]) -> str:
        """Why the pod cannot run here ('' when it can): the node's pod capacity."""
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return ""
        used = sum(1 for w in self.workers.values() if w.active)
        if used >= self.config.max_pods:
            return ("Pod was rejected: Node didn't have enough resource: pods, requested: 1, "
                    f"used: {used}, capacity: {self.config.max_pods}")
        return ""

    def _pod_replaced(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if old["metadata"].get("uid") != new["metadata"].get("uid"):
            self.pod_deleted(old)
        self.pod_changed(new)

    def pod_deleted(self, pod: dict[str, Any]) -> None:
        worker = self.workers.get(pod["metadata"]["uid"])
        if worker is not None:
            worker.gone()

    async def _run_worker(self, worker: PodWorker) -> None:
        try:
            await worker.run()
        finally:
            self.workers.pop(worker.uid, None)
            self._tasks.pop(worker.uid, None)
            self.backoff.forget_prefix(worker.uid)

    def _container_changed(self, pod_uid: str) -> None:
        worker = self.workers.get(pod_uid)
        if worker is not None:
            worker.wake()

    async def remove_orphans(self, keep: set[str], *, grace: float = 2.0) -> None:
        """Remove containers and sandboxes whose pod is not in `keep`."""
        async def remove(container_id: str) -> None:
            if grace > 0:
                await self.runtime.stop_container(container_id, grace=grace)
            await self.runtime.remove_container(container_id)
        await asyncio.gather(*(remove(c.id) for c in await self.runtime.list_containers()
                               if c.pod_uid not in keep))
        await self.sandboxes.remove_orphans(keep)

    # -- what the kubelet API serves ----------------------------------------------

    def worker_for(self, namespace: str, name: str) -> PodWorker | None:
        for worker in self.workers.values():
            meta = worker.pod["metadata"]
            if meta["name"] == name and meta.get("namespace", "default") == namespace:
                return worker
        return None
