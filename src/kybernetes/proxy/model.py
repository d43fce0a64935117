"""What the proxy needs from Services and Endpoints, as plain immutable values.

Both proxy modes work from the same two maps, rebuilt from the informer caches on
every sync (as kube-proxy's ServiceChangeTracker/EndpointsChangeTracker end in a
ServicePortMap and EndpointsMap):

- :class:`ServicePort`: one port of one Service (``namespace/name:port``), with its
  cluster IP, protocol, nodePort and ClientIP affinity timeout;
- the ready endpoints of that port: ``(ip, port)`` pairs from the Endpoints'
  ``addresses`` (never ``notReadyAddresses``), matched to the Service port by
  port name, as kube-proxy does.

Headless and ExternalName Services have no cluster IP and are not proxied.
Being pure, this module is what the unit tests cover in depth.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

DEFAULT_AFFINITY_TIMEOUT = 10800  # seconds; Kubernetes' default for ClientIP

Endpoint = tuple[str, int]


@dataclass(frozen=True, slots=True)
class ServicePort:
    namespace: str
    name: str
    port_name: str
    protocol: str  # TCP | UDP
    cluster_ip: str
    port: int
    node_port: int = 0
    affinity_timeout: int = 0  # seconds; 0 = no session affinity

    @property
    def key(self) -> str:
        """`ns/name:port` (`ns/name` for an unnamed port), kube-proxy's name for it."""
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port_name}" if self.port_name else base

    @property
    def service_key(self) -> str:
        return f"{self.namespace}/{self.name}"


def _affinity_timeout(spec: dict[str, Any]) -> int:
    if spec.get("sessionAffinity") != "ClientIP":
        return 0
    config = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
    return int(config.get("timeoutSeconds") or DEFAULT_AFFINITY_TIMEOUT)


def service_ports(service: dict[str, Any]) -> list[ServicePort]:
    """The proxied ports of a Service (none for headless or ExternalName)."""
    meta, spec = service.get("metadata") or {}, service.get("spec") or {}
    cluster_ip = spec.get("clusterIP") or ""
    if spec.get("type") == "ExternalName" or not _ipv4(cluster_ip):
        return []  # headless, or nothing an IPv4 rule could name
    node_ports = spec.get("type") in ("NodePort", "LoadBalancer")
    timeout = _affinity_timeout(spec)
    result = []
    for port in spec.get("ports") or []:
        protocol = port.get("protocol") or "TCP"
        if protocol not in ("TCP", "UDP") or not port.get("port"):
            continue  # SCTP is not proxied here
        result.append(ServicePort(
            namespace=meta.get("namespace") or "default", name=meta.get("name") or "",
            port_name=port.get("name") or "", protocol=protocol, cluster_ip=cluster_ip,
            port=int(port["port"]),
            node_port=int(port.get("nodePort") or 0) if node_ports else 0,
            affinity_timeout=timeout))
    return result


def ready_endpoints(endpoints: dict[str, Any] | None, port: ServicePort) -> list[Endpoint]:
    """Ready (ip, port) pairs for `port`, sorted so every node sees one order."""
    found: set[Endpoint] = set()
    for subset in (endpoints or {}).get("subsets") or []:
        numbers = [p.get("port") for p in subset.get("ports") or []
                   if (p.get("name") or "") == port.port_name
                   and (p.get("protocol") or "TCP") == port.protocol
                   and isinstance(p.get("port"), int) and 0 < p["port"] < 65536]
        for address in subset.get("addresses") or []:
            ip = address.get("ip")
            if _ipv4(ip):  # one bad address must not break every Service's rules
                found.update((ip, int(n)) for n in numbers)
    return sorted(found, key=_order)


def _order(endpoint: Endpoint) -> tuple[int, int]:
    return int(ipaddress.IPv4Address(endpoint[0])), endpoint[1]


def _ipv4(text: Any) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class ProxyState:
    """Everything one sync programs: each service port with its ready endpoints."""

    ports: dict[str, ServicePort]
    endpoints: dict[str, list[Endpoint]]


def build_state(services: list[dict[str, Any]],
                endpoints_by_key: dict[str, dict[str, Any]]) -> ProxyState:
    """Join Services with their Endpoints (keyed `namespace/name`)."""
    ports: dict[str, ServicePort] = {}
    eps: dict[str, list[Endpoint]] = {}
    for service in services:
        for sp in service_ports(service):
            ports[sp.key] = sp
            eps[sp.key] = ready_endpoints(endpoints_by_key.get(sp.service_key), sp)
    return ProxyState(ports, eps)
