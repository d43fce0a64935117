"""What exists from the first start: the system namespaces and the `kubernetes` Service.

Kubernetes creates ``default``, ``kube-system``, ``kube-public`` and
``kube-node-lease``, and keeps a ``kubernetes`` Service in ``default`` (the first
address of the service range, port 443) whose Endpoints point at the API
server's advertised address and port. Both are reconciled on every start, so
a restart on another port or address updates the Endpoints.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from kybernetes.api import resources as r
from kybernetes.api.errors import AlreadyExists, NotFound
from kybernetes.apiserver.registry import Registry

log = logging.getLogger("kybernetes.apiserver.bootstrap")

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


async def ensure(registry: Registry, resource: r.Resource, obj: dict[str, Any]) -> None:
    """Create `obj` unless an object of that name exists."""
    meta = obj["metadata"]
    kind = registry.kinds.of(resource)
    try:  # look first: creating the existing `kubernetes` Service again would ask the
        # allocator for its taken IP (422) before the store could answer AlreadyExists
        await registry.get(kind, meta.get("namespace"), meta["name"])
        return
    except NotFound:
        pass
    try:
        await registry.create(kind, meta.get("namespace"), copy.deepcopy(obj))
    except AlreadyExists:
        pass


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


async def kubernetes_service(registry: Registry, *, cluster_ip: str | None,
                             address: str, port: int) -> None:
    """The `kubernetes` Service and its Endpoints (address:port of this server)."""
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
    subsets = [{"addresses": [{"ip": address}],
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]

    def point_here(ep: dict[str, Any]) -> dict[str, Any]:
        ep["subsets"] = subsets
        ep["metadata"].setdefault("labels", {}).update(
            {"endpointslice.kubernetes.io/skip-mirror": "true"})
        return ep

    try:
        await registry.guaranteed_update(registry.kinds.of(r.ENDPOINTS), "default",
                                         "kubernetes", point_here)
    except NotFound:
        await ensure(registry, r.ENDPOINTS, {
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": subsets})
    await _kubernetes_slice(registry, address=address, port=port)


async def _kubernetes_slice(registry: Registry, *, address: str, port: int) -> None:
    """The `kubernetes` EndpointSlice, as kube's EndpointsAdapter derives it from the
    Endpoints (endpointSliceFromEndpoints): same name, the service-name label, one ready
    endpoint per address, the Endpoints' ports."""
    family = "IPv6" if ":" in address else "IPv4"
    wanted: dict[str, Any] = {
        "addressType": family,
        "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}

    def point_here(eps: dict[str, Any]) -> dict[str, Any]:
        eps.update(copy.deepcopy(wanted))
        eps["metadata"].setdefault("labels", {})["kubernetes.io/service-name"] = "kubernetes"
        return eps

    try:
        await registry.guaranteed_update(registry.kinds.of(r.ENDPOINT_SLICES), "default",
                                         "kubernetes", point_here)
    except NotFound:
        await ensure(registry, r.ENDPOINT_SLICES, {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": "kubernetes"}},
            **wanted})
