"""The endpoints controller: every Service with a selector gets its Endpoints.

For a Service `ns/name` with `spec.selector`, the Endpoints object `ns/name`
lists the pods the selector matches: ready pods in `addresses`, unready ones in
`notReadyAddresses` (all of them in `addresses` when the Service publishes
not-ready addresses), each with its IP, nodeName and a targetRef to the pod.
Each Service port becomes an EndpointPort whose number is the pod's: a numeric
targetPort as is, a named one looked up among the pod's container ports (same
protocol); a pod without that port is left out of that port's subset.
Addresses with the same ports are packed into one subset, sorted, as
Kubernetes' RepackSubsets, so the object is stable and unchanged writes are
skipped.

Any pod change enqueues the Services whose selectors match the pod's old or new
labels, so readiness reaches the Endpoints in one sync. A Service without a
selector is left alone (its Endpoints belong to the user); a deleted Service's
Endpoints are deleted.
"""

from __future__ import annotations

import logging
from typing import Any

from kybernetes.api import errors
from kybernetes.api.labels import selector_from_map
from kybernetes.api.meta import is_being_deleted, is_pod_ready, object_key, split_key
from kybernetes.api.resources import ENDPOINTS, PODS, SERVICES
from kybernetes.client import ApiClient, Informer, InformerFactory
from kybernetes.controllers.base import Controller, Obj, deep_copy, meta

log = logging.getLogger("kybernetes.controllers.endpoints")

HEADLESS_LABEL = "service.kubernetes.io/headless"


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """The pod's port for a Service port's targetPort (number, or container port name)."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    for container in (pod.get("spec") or {}).get("containers") or ():
        for port in container.get("ports") or ():
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


def _should_publish(pod: Obj, publish_not_ready: bool) -> bool:
    """As ShouldPodBeInEndpoints: an IP, not being deleted, not finished for good."""
    status = pod.get("status") or {}
    if not status.get("podIP") or (is_being_deleted(pod) and not publish_not_ready):
        return False
    phase = status.get("phase")
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    if policy == "Never":
        return phase not in ("Failed", "Succeeded")
    if policy == "OnFailure":
        return phase != "Succeeded"
    return True


def _address(pod: Obj, service_name: str) -> Obj:
    pmeta, spec = meta(pod), pod.get("spec") or {}
    address: Obj = {"ip": (pod.get("status") or {})["podIP"],
                    "targetRef": {"kind": "Pod", "namespace": pmeta.get("namespace"),
                                  "name": pmeta.get("name"), "uid": pmeta.get("uid")}}
    if spec.get("nodeName"):
        address["nodeName"] = spec["nodeName"]
    if spec.get("hostname") and spec.get("subdomain") == service_name:
        address["hostname"] = spec["hostname"]
    return address


def _endpoint_port(service_port: Obj, number: int) -> Obj:
    port: Obj = {"port": number, "protocol": service_port.get("protocol") or "TCP"}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def _ip_key(address: Obj) -> tuple[Any, ...]:
    ip = address.get("ip", "")
    return (tuple(int(p) for p in ip.split(".")) if ip.count(".") == 3 else (ip,),
            (address.get("targetRef") or {}).get("name", ""))


def build_subsets(service: Obj, pods: list[Obj]) -> list[Obj]:
    """The packed, sorted subsets for a Service and the pods it selects."""
    spec = service.get("spec") or {}
    name = meta(service).get("name", "")
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for pod in pods:
        if not _should_publish(pod, publish_not_ready):
            continue
        ports = []
        for service_port in spec.get("ports") or ():
            number = find_port(pod, service_port)
            if number is not None:
                ports.append(_endpoint_port(service_port, number))
        if spec.get("ports") and not ports:
            continue
        ports.sort(key=lambda p: (p.get("name", ""), p["port"], p["protocol"]))
        group = groups.setdefault(tuple(tuple(sorted(p.items())) for p in ports),
                                  {"ports": ports, "ready": [], "unready": []})
        ready = is_pod_ready(pod) or publish_not_ready
        group["ready" if ready else "unready"].append(_address(pod, name))
    subsets = []
    for group in groups.values():
        subset: Obj = {}
        if group["ready"]:
            subset["addresses"] = sorted(group["ready"], key=_ip_key)
        if group["unready"]:
            subset["notReadyAddresses"] = sorted(group["unready"], key=_ip_key)
        if group["ports"]:
            subset["ports"] = group["ports"]
        subsets.append(subset)
    return sorted(subsets, key=lambda s: str(s.get("ports")))



def services_selecting(services: Informer, pod: Obj, old: Obj | None = None) -> list[Obj]:
    """The Services in the pod's namespace whose selector matches its labels now or
    before the change (a pod relabelled out of a Service must leave its endpoints)."""
    label_sets = [meta(pod).get("labels") or {}]
    if old is not None:
        label_sets.append(meta(old).get("labels") or {})
    out = []
    for service in services.list(meta(pod).get("namespace") or ""):
        selector = (service.get("spec") or {}).get("selector")
        if selector and any(selector_from_map(selector).matches(ls) for ls in label_sets):
            out.append(service)
    return out

class EndpointsController(Controller):
    """Keeps an Endpoints object per selector Service."""

    name = "endpoint"
    component = "endpoint-controller"
    default_workers = 4

    def __init__(self, client: ApiClient, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.services = informers.get(SERVICES)
        self.pods = informers.get(PODS)
        self.endpoints = informers.get(ENDPOINTS)
        self.services.add_handler(on_add=self.enqueue, on_update=lambda o, n: self.enqueue(n),
                                  on_delete=self.enqueue)
        self.pods.add_handler(on_add=self._pod_changed,
                              on_update=lambda o, n: self._pod_changed(n, o),
                              on_delete=self._pod_changed)
        self.endpoints.add_handler(on_delete=self._endpoints_deleted)

    def _pod_changed(self, pod: Obj, old: Obj | None = None) -> None:
        if old is not None and meta(old).get("resourceVersion") == meta(pod).get(
                "resourceVersion"):
            return
        for service in services_selecting(self.services, pod, old):
            self.enqueue(service)

    def _endpoints_deleted(self, endpoints: Obj) -> None:
        if self.services.get(object_key(endpoints)) is not None:
            self.enqueue(endpoints)  # same key as its Service: recreate it

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        service = self.services.get(key)
        if service is None or is_being_deleted(service):
            # The Service is gone: so are its Endpoints.
            if service is None and self.endpoints.get(key) is not None:
                try:
                    await self.client.delete(ENDPOINTS, name, namespace=namespace)
                except errors.NotFound:
                    pass
            return
        selector = (service.get("spec") or {}).get("selector")
        if not selector:
            return
        sel = selector_from_map(selector)
        pods = [p for p in self.pods.list(namespace or "") if sel.matches(meta(p).get("labels"))]
        subsets = build_subsets(service, pods)
        labels = dict(meta(service).get("labels") or {})
        if (service.get("spec") or {}).get("clusterIP") == "None":
            labels[HEADLESS_LABEL] = ""
        current = self.endpoints.get(key)
        if current is not None and (current.get("subsets") or []) == subsets and (
                meta(current).get("labels") or {}) == labels:
            return
        await self._write(current, service, subsets, labels)

    async def _write(self, current: Obj | None, service: Obj, subsets: list[Obj],
                     labels: dict[str, str]) -> None:
        smeta = meta(service)
        if current is None:
            body: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                         "metadata": {"name": smeta["name"], "namespace": smeta["namespace"]}}
        else:
            body = deep_copy(current)
        body["metadata"]["labels"] = labels or None
        if subsets:
            body["subsets"] = subsets
        else:
            body.pop("subsets", None)
        try:
            if current is None:
                await self.client.create(ENDPOINTS, body)
            else:
                await self.client.update(ENDPOINTS, body)
        except errors.AlreadyExists:
            # Our cache is behind; re-read and write over it (a retry with back-off).
            raise errors.Conflict(f"endpoints {smeta['name']} exists but not in cache") from None
        except errors.Forbidden as e:
            if "terminat" not in e.message:
                raise
