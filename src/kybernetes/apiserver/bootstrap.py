"""What exists from the first start: the system namespaces and the `kubernetes` Service.

Kubernetes creates ``default``, ``kube-system``, ``kube-public`` and
``kube-node-lease``, and keeps a ``kubernetes`` Service in ``default`` (the first
address of the service range, port 443); its Endpoints list every live API server
(``endpoint_leases.py``). Both are ensured on every start, and several API servers
may start at once on one store (see :func:`ensure`).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

from kybernetes.api import priority
from kybernetes.api import resources as r
from kybernetes.api.errors import AlreadyExists, Invalid, NotFound
from kybernetes.apiserver.registry import Registry

log = logging.getLogger("kybernetes.apiserver.bootstrap")

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


# Pauses before reading back after a create refused as Invalid (below).
RACE_RETRIES = (0.1, 0.2, 0.5, 1.0, 2.0)


async def ensure(registry: Registry, resource: r.Resource, obj: dict[str, Any]) -> None:
    """Create `obj` unless an object of that name exists.

    Safe when several API servers start at once on one store: a create that loses
    the race is AlreadyExists, and for the `kubernetes` Service it may be Invalid
    first (the winner holds the Service's fixed ClusterIP between its allocation and
    its write), so an Invalid create looks again a few times before it counts."""
    meta = obj["metadata"]
    kind = registry.kinds.of(resource)
    for delay in (*RACE_RETRIES, None):
        try:  # look first: creating the existing `kubernetes` Service again would ask
            # the allocator for its taken IP (422) before the store said AlreadyExists
            await registry.get(kind, meta.get("namespace"), meta["name"])
            return
        except NotFound:
            pass
        try:
            await registry.create(kind, meta.get("namespace"), copy.deepcopy(obj))
            return
        except AlreadyExists:
            return
        except Invalid:
            if delay is None:
                raise
            log.info("bootstrap create refused; looking again",
                     extra={"kind": resource.kind, "object": meta["name"]})
            await asyncio.sleep(delay)


async def system_namespaces(registry: Registry) -> None:
    for name in SYSTEM_NAMESPACES:
        await ensure(registry, r.NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": name}})


LOCAL_PATH_CLASS = "local-path"
LOCAL_PATH_PROVISIONER = "kyb.io/local-path"


async def local_path_storage_class(registry: Registry) -> None:
    """The default StorageClass: a directory per claim on the consuming pod's node,
    made once the scheduler has picked the node (WaitForFirstConsumer), removed with
    the claim (Delete). Made again on start when missing; an admin's changes are kept."""
    await ensure(registry, r.STORAGE_CLASSES, {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": LOCAL_PATH_CLASS,
                     "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": LOCAL_PATH_PROVISIONER, "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer"})


async def kubernetes_service(registry: Registry, *, cluster_ip: str | None, port: int
                             ) -> None:
    """The `kubernetes` Service (its Endpoints come from the API servers' leases,
    `endpoint_leases.py`)."""
    labels = {"component": "apiserver", "provider": "kubernetes"}
    spec: dict[str, Any] = {"type": "ClusterIP", "sessionAffinity": "None",
                            "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                                       "targetPort": port}]}
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    await ensure(registry, r.SERVICES, {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": labels},
        "spec": spec})


async def system_priority_classes(registry: Registry) -> None:
    """system-node-critical and system-cluster-critical, as kube-apiserver makes them."""
    for name in priority.SYSTEM_CLASSES:
        await ensure(registry, r.PRIORITY_CLASSES, priority.system_class(name))
