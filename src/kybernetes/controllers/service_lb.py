"""The service load-balancer controller without a cloud (kube name
`service-lb-controller`, role `system:controller:service-controller`), as k3s'
ServiceLB: every Service of type LoadBalancer (without a `spec.loadBalancerClass`,
which names some other implementation) gets the addresses of the Ready nodes in
`status.loadBalancer.ingress` (`ip` entries, `ipMode: VIP`), and every node's proxy
answers the Service's ports on those addresses.

It runs in the controller manager rather than in each proxy so that one
leader-elected writer owns the status (proxies on every node would race to write
the same field), from the Node and Service informers the manager shares; the
proxies only read the status, as they read any Service. A node counts when its
Ready condition is True and it is not labelled
`node.kubernetes.io/exclude-from-external-load-balancers` (kube's service
controller's rule); its ExternalIP is used if it has one, else its InternalIP (k3s'
choice). A Service that stops being a LoadBalancer has its ingress cleared, as
kube's service controller does. Changes are written with a merge patch of
`services/status` and reported with kube's `EnsuredLoadBalancer` event.
"""

from __future__ import annotations

import ipaddress
import logging

from kybernetes.api import errors
from kybernetes.api.resources import NODES, SERVICES
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers.base import Controller, Obj, meta

log = logging.getLogger("kybernetes.controllers.service_lb")

EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"


def node_ready(node: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def node_address(node: Obj) -> str | None:
    """The node's ExternalIP, else its InternalIP (IPv4), else None."""
    addresses = (node.get("status") or {}).get("addresses") or []
    for kind in ("ExternalIP", "InternalIP"):
        for a in addresses:
            if a.get("type") == kind:
                try:
                    return str(ipaddress.IPv4Address(a.get("address")))
                except ValueError:
                    continue
    return None


def ingress_for(nodes: list[Obj]) -> list[Obj]:
    """The ingress list for the Ready, not excluded nodes, in address order."""
    ips = {ip for n in nodes
           if node_ready(n) and EXCLUDE_LABEL not in (meta(n).get("labels") or {})
           and (ip := node_address(n))}
    return [{"ip": ip, "ipMode": "VIP"}
            for ip in sorted(ips, key=lambda a: int(ipaddress.IPv4Address(a)))]


def wanted(service: Obj, ingress: list[Obj]) -> list[Obj] | None:
    """The ingress `service` should have; None when it is not ours to manage."""
    spec = service.get("spec") or {}
    if spec.get("loadBalancerClass"):
        return None  # another implementation's Service
    return ingress if spec.get("type") == "LoadBalancer" else []


class ServiceLbController(Controller):
    """Writes Ready nodes' addresses into LoadBalancer Services' status."""

    name = "service-lb-controller"
    component = "service-lb-controller"

    def __init__(self, client: ApiClient, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.services = informers.get(SERVICES)
        self.nodes = informers.get(NODES)
        self.services.add_handler(on_add=self.enqueue,
                                  on_update=lambda old, new: self.enqueue(new))
        self.nodes.add_handler(on_add=self._nodes_changed, on_delete=self._nodes_changed,
                               on_update=self._node_updated)
        self._ingress: list[Obj] | None = None

    def _node_updated(self, old: Obj, new: Obj) -> None:
        if ingress_for([old]) != ingress_for([new]):
            self._nodes_changed()

    def _nodes_changed(self, *_: Obj) -> None:
        """A node joined, left or changed readiness: recheck every LoadBalancer."""
        ingress = ingress_for(self.nodes.list())
        if ingress == self._ingress:
            return
        self._ingress = ingress
        for service in self.services.list():
            if (service.get("spec") or {}).get("type") == "LoadBalancer":
                self.enqueue(service)

    async def sync(self, key: str) -> None:
        service = self.services.get(key)
        if service is None:
            return
        target = wanted(service, ingress_for(self.nodes.list()))
        current = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if target is None or target == current:
            return
        m = meta(service)
        try:
            await self.client.patch(SERVICES, m["name"], {"status": {"loadBalancer": {
                "ingress": target or None}}}, namespace=m.get("namespace"),
                subresource="status")
        except errors.NotFound:
            return
        if target:
            self.event(service, "Normal", "EnsuredLoadBalancer", "Ensured load balancer")
        log.info("load balancer status written", extra={
            "service": key, "ingress": [i["ip"] for i in target]})
