"""The EndpointSliceMirroring controller: a Service without a selector gets EndpointSlices
mirrored from the Endpoints its owner writes by hand.

As kube's endpointslicemirroring controller: the proxy and DNS read EndpointSlices
only, so a selectorless Service (an external database, the cluster DNS that runs on
the host) would have no endpoints without it. Each Endpoints subset's addresses
become endpoints (ready; `notReadyAddresses` not ready), grouped by the subset's
ports, packed as the EndpointSlice controller packs them; slices carry
kubernetes.io/service-name, endpointslice.kubernetes.io/managed-by
`endpointslicemirroring-controller.k8s.io` and a controller ownerReference to the
Endpoints. Endpoints labelled `endpointslice.kubernetes.io/skip-mirror: "true"` (the
`kubernetes` Service's, whose slice the API server keeps) are not mirrored, nor are a
selector Service's (the EndpointSlice controller's). A Service that goes away or gains
a selector loses its mirrored slices.
"""

from __future__ import annotations

from kybernetes.api import errors
from kybernetes.api.meta import split_key
from kybernetes.api.resources import ENDPOINT_SLICES, ENDPOINTS, SERVICES
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers.base import Controller, Obj, meta
from kybernetes.controllers.endpointslice import (
    MANAGED_BY_LABEL,
    MAX_ENDPOINTS_PER_SLICE,
    SERVICE_NAME_LABEL,
    EndpointSliceController,
    PortsKey,
    owned_slice_template,
    plan,
    ports_key,
)

MIRRORING_CONTROLLER = "endpointslicemirroring-controller.k8s.io"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"


def _endpoint(address: Obj, ready: bool) -> Obj:
    ep: Obj = {"addresses": [address.get("ip")],
               "conditions": {"ready": ready, "serving": ready, "terminating": False}}
    for field in ("nodeName", "hostname"):
        if address.get(field):
            ep[field] = address[field]
    if address.get("targetRef"):
        ep["targetRef"] = address["targetRef"]
    return ep


def mirrored(endpoints: Obj) -> dict[PortsKey, tuple[list[Obj], list[Obj]]]:
    """The Endpoints' addresses by port set: {ports key: (ports, endpoints)}."""
    groups: dict[PortsKey, tuple[list[Obj], list[Obj]]] = {}
    for subset in endpoints.get("subsets") or ():
        ports = sorted(({"name": p.get("name") or "", "port": p.get("port"),
                         "protocol": p.get("protocol") or "TCP"}
                        for p in subset.get("ports") or ()),
                       key=lambda p: (p["name"], p["port"], p["protocol"]))
        group = groups.setdefault(ports_key(ports), (ports, []))
        group[1].extend(_endpoint(a, True) for a in subset.get("addresses") or ()
                        if a.get("ip"))
        group[1].extend(_endpoint(a, False) for a in subset.get("notReadyAddresses") or ()
                        if a.get("ip"))
    return {k: v for k, v in groups.items() if v[1]}


def mirror_template(endpoints: Obj) -> Obj:
    return owned_slice_template({**endpoints, "kind": "Endpoints"}, MIRRORING_CONTROLLER)


class EndpointSliceMirroringController(EndpointSliceController):
    """Mirrors the Endpoints of selectorless Services into EndpointSlices (the write path
    and the wait for our own writes are the EndpointSlice controller's)."""

    name = "endpointslicemirroring"
    component = "endpointslicemirroring-controller"

    def __init__(self, client: ApiClient, informers: InformerFactory) -> None:
        Controller.__init__(self, client, informers)
        self.max_endpoints = MAX_ENDPOINTS_PER_SLICE
        self.services = informers.get(SERVICES)
        self.endpoints = informers.get(ENDPOINTS)
        self.slices = informers.get(ENDPOINT_SLICES)
        self.slices.add_index("mirrored", lambda s: [
            f"{meta(s).get('namespace')}/{(meta(s).get('labels') or {}).get(SERVICE_NAME_LABEL)}"]
            if (meta(s).get("labels") or {}).get(MANAGED_BY_LABEL) == MIRRORING_CONTROLLER
            else [])
        for informer in (self.services, self.endpoints):
            informer.add_handler(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n),
                                 on_delete=self.enqueue)
        self.slices.add_handler(on_update=lambda o, n: self._mirror_changed(n),
                                on_delete=self._mirror_changed)
        self._written: dict[str, dict[str, str]] = {}

    def _mirror_changed(self, s: Obj) -> None:
        labels = meta(s).get("labels") or {}
        if labels.get(MANAGED_BY_LABEL) == MIRRORING_CONTROLLER and \
                labels.get(SERVICE_NAME_LABEL):
            self.queue.add(f"{meta(s).get('namespace')}/{labels[SERVICE_NAME_LABEL]}")

    async def sync(self, key: str) -> None:
        namespace, _ = split_key(key)
        if not self._caught_up(key):
            self.queue.add_after(key, 0.1)
            return
        service, endpoints = self.services.get(key), self.endpoints.get(key)
        existing = [s for s in self.slices.by_index("mirrored", key)
                    if not meta(s).get("deletionTimestamp")]
        wanted = self._wanted(service, endpoints)
        if not wanted:
            for s in existing:
                try:
                    await self.client.delete(ENDPOINT_SLICES, meta(s)["name"],
                                             namespace=namespace)
                except errors.NotFound:
                    pass
            return
        assert endpoints is not None
        await self._write(key, namespace or "", plan(existing, wanted,
                                                     mirror_template(endpoints),
                                                     self.max_endpoints))

    @staticmethod
    def _wanted(service: Obj | None, endpoints: Obj | None
                ) -> dict[PortsKey, tuple[list[Obj], list[Obj]]]:
        if service is None or endpoints is None or (service.get("spec") or {}).get("selector"):
            return {}
        if (meta(endpoints).get("labels") or {}).get(SKIP_MIRROR_LABEL) == "true":
            return {}
        return mirrored(endpoints)

