"""VolumeBinding: a pod's PersistentVolumeClaims decide where it may run, and a
WaitForFirstConsumer claim learns its node from the scheduler.

PreFilter refuses a pod whose claim is missing (unresolvable) or unbound with an
Immediate class (unschedulable until the binder binds it: PVC and PV events retry
the pod). Filter keeps the nodes a bound volume's required nodeAffinity allows.
At bind time (before DefaultBinder) the unbound WaitForFirstConsumer claims get
kube's `volume.kubernetes.io/selected-node` annotation and the pod is bound only
once the binder (and the local-path provisioner) has bound them all."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

from kybernetes.api import storage
from kybernetes.api.resources import PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES, STORAGE_CLASSES
from kybernetes.client.verbs import Patcher
from kybernetes.scheduler.framework import (
    SKIP,
    CycleState,
    Handle,
    Status,
    error,
    unresolvable,
    unschedulable,
)
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo

Obj = dict[str, Any]
BIND_TIMEOUT = 600.0  # kube's bindTimeoutSeconds


class VolumeBinding:
    name = "VolumeBinding"
    conflict = "node(s) had volume node affinity conflict"

    def __init__(self, args: dict[str, Any] | None, handle: Handle,
                 poll_interval: float = 0.1) -> None:
        self.handle = handle
        self.claims = handle.informer(PERSISTENT_VOLUME_CLAIMS)
        self.volumes = handle.informer(PERSISTENT_VOLUMES)
        self.classes = handle.informer(STORAGE_CLASSES)
        self.poll_interval = poll_interval

    def _claim_names(self, pod: PodInfo) -> list[str]:
        return [str(v["persistentVolumeClaim"].get("claimName", ""))
                for v in pod.spec.get("volumes") or []
                if isinstance(v, dict) and isinstance(v.get("persistentVolumeClaim"), dict)]

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        names = self._claim_names(pod)
        if not names:
            return SKIP
        bound: list[Obj] = []
        delayed: list[str] = []
        for name in names:
            pvc = self.claims.get(f"{pod.namespace}/{name}")
            if pvc is None:
                return unresolvable(f'persistentvolumeclaim "{name}" not found')
            if (pvc["metadata"].get("deletionTimestamp")):
                return unresolvable(f'persistentvolumeclaim "{name}" is being deleted')
            volume_name = (pvc.get("spec") or {}).get("volumeName")
            if volume_name:
                pv = self.volumes.get(volume_name)
                if pv is None:
                    return unschedulable(f'persistentvolume "{volume_name}" not found')
                bound.append(pv)
                continue
            sc = self.classes.get(storage.claim_class(pvc))
            if sc is None or sc.get("volumeBindingMode") != "WaitForFirstConsumer":
                return unschedulable("pod has unbound immediate PersistentVolumeClaims")
            delayed.append(name)
        state.write(self.name, (bound, delayed))
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        bound, _ = state.read(self.name)
        node_obj = {"metadata": {"name": node.name, "labels": node.labels}}
        if any(not storage.pv_fits_node(pv, node_obj) for pv in bound):
            return unschedulable(self.conflict)
        return None

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        """PreBind's work: name the node on the delayed claims, wait until they are bound."""
        try:
            _, delayed = state.read(self.name)
        except KeyError:
            return SKIP
        client = cast(Patcher, self.handle.client)
        for name in delayed:
            pvc = self.claims.get(f"{pod.namespace}/{name}") or {}
            annotations = (pvc.get("metadata") or {}).get("annotations") or {}
            if annotations.get(storage.SELECTED_NODE_ANNOTATION) != node_name and \
                    not (pvc.get("spec") or {}).get("volumeName"):
                await client.patch(PERSISTENT_VOLUME_CLAIMS, name, {"metadata": {
                    "annotations": {storage.SELECTED_NODE_ANNOTATION: node_name}}},
                    namespace=pod.namespace)
        deadline = time.monotonic() + BIND_TIMEOUT
        while delayed:
            delayed = [n for n in delayed
                       if ((self.claims.get(f"{pod.namespace}/{n}") or {}).get("status")
                           or {}).get("phase") != "Bound"]
            if not delayed:
                break
            if time.monotonic() > deadline:
                return error("binding volumes: timed out waiting for the condition")
            await asyncio.sleep(self.poll_interval)
        return SKIP
