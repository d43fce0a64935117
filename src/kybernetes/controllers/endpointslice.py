"""The EndpointSlice controller: every Service with a selector gets its EndpointSlices.

The pods a Service selects become endpoints (kube's podToEndpoint: ready = serving and
not terminating, or the Service publishes not-ready addresses; serving = the pod's
Ready condition; terminating = a deletionTimestamp; targetRef, nodeName, the node's
zone, hostname), grouped by their resolved port set, at most `max_endpoints` (kube's
--max-endpoints-per-slice, 100) per slice. Reconciling keeps endpoints in the slice
they are in, fills slices with room before creating new ones, deletes slices left
empty, and keeps one empty placeholder slice for a Service with no endpoints, as
kube's reconciler does. Slices carry kubernetes.io/service-name,
endpointslice.kubernetes.io/managed-by and a controller ownerReference to the Service.

Our own writes are remembered until the slice informer has seen them, so a sync that
runs before the watch caught up waits instead of creating a slice twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api import errors
from kybernetes.api.labels import selector_from_map
from kybernetes.api.meta import is_pod_ready, split_key
from kybernetes.api.resources import ENDPOINT_SLICES, NODES, PODS, SERVICES
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers.base import Controller, Obj, deep_copy, meta
from kybernetes.controllers.endpoints import HEADLESS_LABEL, find_port, services_selecting

log = logging.getLogger("kybernetes.controllers.endpointslice")

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
ZONE_LABEL = "topology.kubernetes.io/zone"
MAX_ENDPOINTS_PER_SLICE = 100
PortsKey = tuple[tuple[Any, ...], ...]


def _should_publish(pod: Obj) -> bool:
    """ShouldPodBeInEndpoints(pod, includeTerminating=true)."""
    status = pod.get("status") or {}
    if not status.get("podIP"):
        return False
    phase = status.get("phase")
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    if policy == "Never":
        return phase not in ("Failed", "Succeeded")
    if policy == "OnFailure":
        return phase != "Succeeded"
    return True


def pod_endpoint(pod: Obj, service: Obj, zone: str | None) -> Obj:
    """podToEndpoint."""
    pmeta, spec = meta(pod), pod.get("spec") or {}
    serving = is_pod_ready(pod)
    terminating = bool(pmeta.get("deletionTimestamp"))
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    ep: Obj = {"addresses": [(pod.get("status") or {})["podIP"]],
               "conditions": {"ready": publish or (serving and not terminating),
                              "serving": serving, "terminating": terminating},
               "targetRef": {"kind": "Pod", "namespace": pmeta.get("namespace"),
                             "name": pmeta.get("name"), "uid": pmeta.get("uid")}}
    if spec.get("nodeName"):
        ep["nodeName"] = spec["nodeName"]
    if zone:
        ep["zone"] = zone
    if spec.get("hostname") and spec.get("subdomain") == meta(service).get("name"):
        ep["hostname"] = spec["hostname"]
    return ep


def _slice_port(service_port: Obj, number: int) -> Obj:
    port: Obj = {"name": service_port.get("name") or "", "port": number,
                 "protocol": service_port.get("protocol") or "TCP"}
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def ports_key(ports: list[Obj]) -> PortsKey:
    return tuple(sorted(tuple(sorted(p.items())) for p in ports))


def desired(service: Obj, pods: list[Obj], zones: dict[str, str]
            ) -> dict[PortsKey, tuple[list[Obj], list[Obj]]]:
    """Endpoints by port set: {ports key: (ports, endpoints)}."""
    spec = service.get("spec") or {}
    groups: dict[PortsKey, tuple[list[Obj], list[Obj]]] = {}
    for pod in sorted(pods, key=lambda p: meta(p).get("name", "")):
        if not _should_publish(pod):
            continue
        ports = []
        for service_port in spec.get("ports") or ():
            number = find_port(pod, service_port)
            if number is not None:
                ports.append(_slice_port(service_port, number))
        ports.sort(key=lambda p: (p["name"], p["port"], p["protocol"]))
        zone = zones.get((pod.get("spec") or {}).get("nodeName") or "")
        group = groups.setdefault(ports_key(ports), (ports, []))
        group[1].append(pod_endpoint(pod, service, zone))
    return groups


def _endpoint_id(ep: Obj) -> str:
    ref = ep.get("targetRef") or {}
    return str(ref.get("uid") or ref.get("name") or ep.get("addresses"))


@dataclass
class Plan:
    """What one sync writes: slices to create, update (full bodies) and delete (names)."""

    create: list[Obj] = field(default_factory=list)
    update: list[Obj] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)


def plan(existing: list[Obj], groups: dict[PortsKey, tuple[list[Obj], list[Obj]]],
         template: Obj, max_endpoints: int = MAX_ENDPOINTS_PER_SLICE) -> Plan:
    """Pack the desired endpoints into slices, moving as little as possible."""
    out = Plan()
    by_ports: dict[PortsKey, list[Obj]] = {}
    for s in sorted(existing, key=lambda s: meta(s).get("name", "")):
        by_ports.setdefault(ports_key(s.get("ports") or []), []).append(s)
    if not groups:
        _placeholder(out, existing, template)
        return out
    for key, (ports, endpoints) in groups.items():
        _pack(out, by_ports.pop(key, []), ports, endpoints, template, max_endpoints)
    for stale in by_ports.values():
        out.delete.extend(meta(s)["name"] for s in stale)
    return out


def _placeholder(out: Plan, existing: list[Obj], template: Obj) -> None:
    """No endpoints: one slice with no ports and no endpoints (kube's placeholder)."""
    keep = next((s for s in existing if not s.get("endpoints") and not s.get("ports")), None)
    out.delete.extend(meta(s)["name"] for s in existing if s is not keep)
    if keep is None:
        body = deep_copy(template)
        body["ports"], body["endpoints"] = [], []
        out.create.append(body)
    elif _meta_differs(keep, template):
        body = deep_copy(keep)
        _apply_template(body, template)
        out.update.append(body)


def _pack(out: Plan, slices: list[Obj], ports: list[Obj], endpoints: list[Obj],
          template: Obj, max_endpoints: int) -> None:
    """One port set: keep endpoints where they are, fill slices with room, then new ones."""
    wanted = {_endpoint_id(ep): ep for ep in endpoints}
    placed: set[str] = set()
    bodies: list[tuple[Obj, bool]] = []  # (body, changed)
    for s in slices:
        ids = [i for i in (_endpoint_id(ep) for ep in s.get("endpoints") or [])
               if i in wanted and i not in placed][:max_endpoints]
        placed.update(ids)
        body = deep_copy(s)
        body["endpoints"] = [wanted[i] for i in ids]
        bodies.append((body, body["endpoints"] != (s.get("endpoints") or [])
                       or _meta_differs(s, template)))
    rest = [ep for i, ep in wanted.items() if i not in placed]
    for body, changed in bodies:
        room = max_endpoints - len(body["endpoints"])
        if rest and room > 0:
            body["endpoints"] += rest[:room]
            rest, changed = rest[room:], True
        if not body["endpoints"]:
            out.delete.append(meta(body)["name"])
        elif changed:
            _apply_template(body, template)
            out.update.append(body)
    while rest:
        body = deep_copy(template)
        body["ports"], body["endpoints"] = ports, rest[:max_endpoints]
        rest = rest[max_endpoints:]
        out.create.append(body)


def _meta_differs(s: Obj, template: Obj) -> bool:
    m, t = meta(s), template["metadata"]
    return (m.get("labels") != t["labels"] or m.get("ownerReferences") != t["ownerReferences"]
            or s.get("addressType") != template["addressType"])


def _apply_template(body: Obj, template: Obj) -> None:
    body["metadata"]["labels"] = dict(template["metadata"]["labels"])
    body["metadata"]["ownerReferences"] = deep_copy(template["metadata"]["ownerReferences"])


def owned_slice_template(owner: Obj, managed_by: str, address_type: str = "IPv4",
                         **extra_labels: str) -> Obj:
    """A new slice's metadata for `owner` (a Service, or the Endpoints that are
    mirrored): its labels but ours, the service-name and managed-by labels, a
    controller ownerReference, a name generated from the owner's."""
    ometa = meta(owner)
    labels = {k: v for k, v in (ometa.get("labels") or {}).items()
              if k not in (SERVICE_NAME_LABEL, MANAGED_BY_LABEL)}
    labels.update({SERVICE_NAME_LABEL: ometa["name"], MANAGED_BY_LABEL: managed_by},
                  **extra_labels)
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"generateName": f"{ometa['name'][:62]}-",
                         "namespace": ometa.get("namespace"), "labels": labels,
                         "ownerReferences": [{"apiVersion": "v1", "kind": owner["kind"],
                                              "name": ometa["name"], "uid": ometa.get("uid"),
                                              "controller": True,
                                              "blockOwnerDeletion": True}]},
            "addressType": address_type}


def slice_template(service: Obj) -> Obj:
    """A new slice's metadata for the Service (name generated from it)."""
    spec = service.get("spec") or {}
    headless = {HEADLESS_LABEL: ""} if spec.get("clusterIP") == "None" else {}
    return owned_slice_template({**service, "kind": "Service"}, CONTROLLER_NAME,
                                (spec.get("ipFamilies") or ["IPv4"])[0], **headless)


class EndpointSliceController(Controller):
    """Keeps the EndpointSlices of every selector Service."""

    name = "endpointslice"
    component = "endpoint-slice-controller"
    default_workers = 5  # kube's --concurrent-service-endpoint-syncs

    def __init__(self, client: ApiClient, informers: InformerFactory, *,
                 max_endpoints: int = MAX_ENDPOINTS_PER_SLICE) -> None:
        super().__init__(client, informers)
        self.max_endpoints = max_endpoints
        self.services = informers.get(SERVICES)
        self.pods = informers.get(PODS)
        self.nodes = informers.get(NODES)
        self.slices = informers.get(ENDPOINT_SLICES)
        self.slices.add_index("service", lambda s: [
            f"{meta(s).get('namespace')}/{(meta(s).get('labels') or {}).get(SERVICE_NAME_LABEL)}"]
            if (meta(s).get("labels") or {}).get(MANAGED_BY_LABEL) == CONTROLLER_NAME else [])
        self.services.add_handler(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n),
                                  on_delete=self.enqueue)
        self.pods.add_handler(on_add=self._pod_changed,
                              on_update=lambda o, n: self._pod_changed(n, o),
                              on_delete=self._pod_changed)
        self.slices.add_handler(on_update=lambda o, n: self._slice_changed(n),
                                on_delete=self._slice_changed)
        # Per Service: slice name -> resourceVersion we wrote ("" for a delete).
        self._written: dict[str, dict[str, str]] = {}

    def _pod_changed(self, pod: Obj, old: Obj | None = None) -> None:
        for service in services_selecting(self.services, pod, old):
            self.enqueue(service)

    def _slice_changed(self, s: Obj) -> None:
        labels = meta(s).get("labels") or {}
        if labels.get(MANAGED_BY_LABEL) == CONTROLLER_NAME and labels.get(SERVICE_NAME_LABEL):
            self.queue.add(f"{meta(s).get('namespace')}/{labels[SERVICE_NAME_LABEL]}")

    def _caught_up(self, key: str) -> bool:
        """Whether the slice informer has seen every write of ours for this Service."""
        written = self._written.get(key)
        if not written:
            return True
        namespace, _ = split_key(key)
        for name, rv in written.items():
            cached = self.slices.get(f"{namespace}/{name}")
            if rv == "" and cached is not None:
                return False
            if rv and (cached is None or int(meta(cached).get("resourceVersion") or 0) < int(rv)):
                return False
        del self._written[key]
        return True

    async def sync(self, key: str) -> None:
        namespace, _ = split_key(key)
        service = self.services.get(key)
        selector = ((service or {}).get("spec") or {}).get("selector")
        if service is None or not selector:
            return  # the garbage collector deletes the slices of a deleted Service
        if not self._caught_up(key):
            self.queue.add_after(key, 0.1)
            return
        sel = selector_from_map(selector)
        pods = [p for p in self.pods.list(namespace or "") if sel.matches(meta(p).get("labels"))]
        zones = {meta(n).get("name", ""): (meta(n).get("labels") or {}).get(ZONE_LABEL, "")
                 for n in self.nodes.list()}
        existing = [s for s in self.slices.by_index("service", key)
                    if not meta(s).get("deletionTimestamp")]
        todo = plan(existing, desired(service, pods, zones), slice_template(service),
                    self.max_endpoints)
        await self._write(key, namespace or "", todo)

    async def _write(self, key: str, namespace: str, todo: Plan) -> None:
        written = self._written.setdefault(key, {})
        try:
            for body in todo.create:
                created = await self.client.create(ENDPOINT_SLICES, body)
                written[meta(created)["name"]] = str(meta(created)["resourceVersion"])
            for body in todo.update:
                updated = await self.client.update(ENDPOINT_SLICES, body)
                written[meta(updated)["name"]] = str(meta(updated)["resourceVersion"])
            for slice_name in todo.delete:
                try:
                    await self.client.delete(ENDPOINT_SLICES, slice_name, namespace=namespace)
                except errors.NotFound:
                    pass
                written[slice_name] = ""
        except errors.Forbidden as e:
            if "terminat" not in e.message:
                raise
