"""The root CA publisher: a `kube-root-ca.crt` ConfigMap in every namespace.

As Kubernetes' pkg/controller/certificates/rootcacertpublisher: the work item is
a namespace, synced when it is added or updated while Active, and when its
`kube-root-ca.crt` is updated or deleted (so an edited or deleted copy is put
back). A sync creates the ConfigMap (`ca.crt`: the cluster CA bundle, with
Kubernetes' `kubernetes.io/description` annotation) or rewrites its data and
annotation when they differ; other keys, labels and annotations are kept. Pods
read it through their kube-api-access volume to verify the API server.
"""

from __future__ import annotations

import logging

from kybernetes.api import errors
from kybernetes.api.resources import CONFIGMAPS, NAMESPACES
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers.base import Controller, Obj, deep_copy, meta

log = logging.getLogger("kybernetes.controllers.root_ca_publisher")

CONFIGMAP_NAME = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when "
               "using internal endpoints such as the internal service IP or "
               "kubernetes.default.svc. No other usage is guaranteed across distributions "
               "of Kubernetes clusters.")


class RootCaPublisher(Controller):
    """Keeps `kube-root-ca.crt` (key `ca.crt`) equal to the cluster CA in every namespace."""

    name = "root-ca-cert-publisher"
    component = "root-ca-cert-publisher"
    default_workers = 1

    def __init__(self, client: ApiClient, informers: InformerFactory, root_ca: str) -> None:
        super().__init__(client, informers)
        self.root_ca = root_ca
        self.namespaces = informers.get(NAMESPACES)
        self.configmaps = informers.get(CONFIGMAPS)
        self.namespaces.add_handler(on_add=self.enqueue, on_update=self._namespace_updated)
        self.configmaps.add_handler(on_update=lambda old, new: self._configmap_changed(new),
                                    on_delete=self._configmap_changed)

    def _namespace_updated(self, old: Obj, new: Obj) -> None:
        if (new.get("status") or {}).get("phase", "Active") == "Active":
            self.enqueue(new)

    def _configmap_changed(self, configmap: Obj) -> None:
        if meta(configmap).get("name") == CONFIGMAP_NAME:
            self.queue.add(meta(configmap).get("namespace", ""))

    async def sync(self, key: str) -> None:
        data = {"ca.crt": self.root_ca}
        current = self.configmaps.get(f"{key}/{CONFIGMAP_NAME}")
        if current is None:
            await self._create(key, data)
            return
        if current.get("data") == data and \
                (meta(current).get("annotations") or {}).get(DESCRIPTION_ANNOTATION):
            return
        updated = deep_copy(current)
        updated["data"] = data
        updated["metadata"].setdefault("annotations", {})[DESCRIPTION_ANNOTATION] = DESCRIPTION
        await self.client.update(CONFIGMAPS, updated)

    async def _create(self, namespace: str, data: dict[str, str]) -> None:
        configmap = {"apiVersion": "v1", "kind": "ConfigMap", "data": data, "metadata": {
            "name": CONFIGMAP_NAME, "namespace": namespace,
            "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}}}
        try:
            await self.client.create(CONFIGMAPS, configmap)
        except errors.ApiError as e:
            if isinstance(e, errors.NotFound) or _terminating(e):
                return  # the namespace is gone or going: not retried, as in Kubernetes
            raise
        log.debug("published the root CA", extra={"namespace": namespace})


def _terminating(error: errors.ApiError) -> bool:
    return any(c.get("reason") == "NamespaceTerminating"
               for c in error.details.get("causes") or [])
