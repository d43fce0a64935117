"""The API objects a pod's containers are built from: the Services whose link
variables they get, and the ConfigMaps, Secrets and claims their environment and
volumes name."""

from __future__ import annotations

from typing import Any

from kybernetes.api.errors import NotFound
from kybernetes.api.resources import (
    CONFIGMAPS,
    PERSISTENT_VOLUME_CLAIMS,
    PERSISTENT_VOLUMES,
    SECRETS,
)
from kybernetes.client import Informer
from kybernetes.client.verbs import Getter


class PodReferences:
    """Reads what pods reference: objects by name, Services from an informer once one
    is given (`kyb hollow-nodes` gives none: its pods get no link variables)."""

    def __init__(self, client: Getter) -> None:
        self.client = client
        self.service_informer: Informer | None = None

    def services(self, pod: dict[str, Any]) -> list[dict[str, Any]]:
        """The Services whose link variables the pod's containers get (and `kubernetes`)."""
        if self.service_informer is None:
            return []
        namespace = pod["metadata"].get("namespace", "default")
        services = self.service_informer.list(namespace)
        master = self.service_informer.get("default/kubernetes")
        if master is not None and namespace != "default":
            services.append(master)
        return services

    async def lookup(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        resource = {"ConfigMap": CONFIGMAPS, "PersistentVolumeClaim": PERSISTENT_VOLUME_CLAIMS,
                    "PersistentVolume": PERSISTENT_VOLUMES}.get(kind, SECRETS)
        try:
            return await self.client.get(resource, name, namespace=namespace or None)
        except NotFound:
            return None
