"""What the proxy needs from Services and EndpointSlices, as plain immutable values.

Both proxy modes work from the same maps, rebuilt from the informer caches on
every sync (as kube-proxy's ServiceChangeTracker/EndpointSliceCache end in a
ServicePortMap and EndpointsMap):

- :class:`ServicePort`: one port of one Service (``namespace/name:port``), with its
  cluster IP, protocol, nodePort, load-balancer ingress IPs, traffic policies and
  ClientIP affinity timeout;
- the endpoints of that port, ``(ip, port)`` pairs from every EndpointSlice
  labelled ``kubernetes.io/service-name`` with the Service's name (several slices
  per Service, duplicates merged), matched by port name and protocol. As
  kube-proxy's CategorizeEndpoints: the ready endpoints; when none is ready, the
  serving and terminating ones (a rolling update's last pods keep their traffic
  until they stop serving). The same rule is applied a second time to the
  endpoints on this node (``nodeName``) for the ``Local`` traffic policies.

``ready_endpoints`` reads the old Endpoints kind (``addresses``, never
``notReadyAddresses``); the proxy itself no longer uses it.
Headless and ExternalName Services have no cluster IP and are not proxied.
Being pure, this module is what the unit tests cover in depth.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
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
    load_balancer_ips: tuple[str, ...] = ()  # status.loadBalancer.ingress[].ip
    external_local: bool = False  # externalTrafficPolicy: Local (NodePort / LB)
    internal_local: bool = False  # internalTrafficPolicy: Local (cluster IP)
    health_check_node_port: int = 0

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
    lb_ips: tuple[str, ...] = ()
    if spec.get("type") == "LoadBalancer":
        ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress")
        lb_ips = tuple(sorted({i["ip"] for i in ingress or []
                               if isinstance(i, dict) and _ipv4(i.get("ip"))}))
    external_local = node_ports and spec.get("externalTrafficPolicy") == "Local"
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
            affinity_timeout=timeout, load_balancer_ips=lb_ips,
            external_local=external_local,
            internal_local=spec.get("internalTrafficPolicy") == "Local",
            health_check_node_port=int(spec.get("healthCheckNodePort") or 0)
            if external_local else 0))
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


SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def _condition(conditions: dict[str, Any], name: str, default: bool) -> bool:
    value = conditions.get(name)
    return default if value is None else bool(value)


def slice_endpoints(slices: list[dict[str, Any]], port: ServicePort, node_name: str = ""
                    ) -> tuple[list[Endpoint], list[Endpoint]]:
    """(cluster, local) endpoints of `port` from its Service's EndpointSlices.

    kube's rules: an unset `ready` means ready, an unset `serving` means `ready`, an
    unset `terminating` means not terminating. Each list is the ready endpoints, or,
    when none is ready, the serving-and-terminating ones; `local` only looks at the
    endpoints whose nodeName is `node_name`.
    """
    ready: set[Endpoint] = set()
    fallback: set[Endpoint] = set()
    local_ready: set[Endpoint] = set()
    local_fallback: set[Endpoint] = set()
    for s in slices:
        if (s.get("addressType") or "IPv4") != "IPv4":
            continue
        numbers = [p.get("port") for p in s.get("ports") or []
                   if (p.get("name") or "") == port.port_name
                   and (p.get("protocol") or "TCP") == port.protocol
                   and isinstance(p.get("port"), int) and 0 < p["port"] < 65536]
        for ep in s.get("endpoints") or []:
            conditions = ep.get("conditions") or {}
            is_ready = _condition(conditions, "ready", True)
            serving = _condition(conditions, "serving", is_ready)
            terminating = _condition(conditions, "terminating", False)
            if not (is_ready or (serving and terminating)):
                continue
            local = bool(node_name) and ep.get("nodeName") == node_name
            for ip in ep.get("addresses") or []:
                if not _ipv4(ip):  # one bad address must not break every Service's rules
                    continue
                pairs = {(ip, int(n)) for n in numbers}
                (ready if is_ready else fallback).update(pairs)
                if local:
                    (local_ready if is_ready else local_fallback).update(pairs)
    return (sorted(ready or fallback, key=_order),
            sorted(local_ready or local_fallback, key=_order))


@dataclass(frozen=True, slots=True)
class ProxyState:
    """Everything one sync programs: each service port with its endpoints.

    `endpoints` are cluster-wide (ready, or serving-and-terminating as fallback);
    `local` the same choice among this node's endpoints, for the Local policies.
    """

    ports: dict[str, ServicePort]
    endpoints: dict[str, list[Endpoint]]
    local: dict[str, list[Endpoint]] = field(default_factory=dict)

    def internal(self, key: str) -> list[Endpoint]:
        """Where cluster-IP traffic goes (internalTrafficPolicy)."""
        return self.local.get(key, []) if self.ports[key].internal_local \
            else self.endpoints.get(key, [])

    def external(self, key: str) -> list[Endpoint]:
        """Where NodePort and load-balancer traffic goes (externalTrafficPolicy)."""
        return self.local.get(key, []) if self.ports[key].external_local \
            else self.endpoints.get(key, [])


def build_state(services: list[dict[str, Any]],
                slices_by_service: dict[str, list[dict[str, Any]]], node_name: str = ""
                ) -> ProxyState:
    """Join Services with their EndpointSlices (grouped by `namespace/name`)."""
    ports: dict[str, ServicePort] = {}
    eps: dict[str, list[Endpoint]] = {}
    local: dict[str, list[Endpoint]] = {}
    for service in services:
        for sp in service_ports(service):
            ports[sp.key] = sp
            eps[sp.key], local[sp.key] = slice_endpoints(
                slices_by_service.get(sp.service_key, []), sp, node_name)
    return ProxyState(ports, eps, local)


class StateBuilder:
    """:func:`build_state` with a memory: a Service (or a Service's set of slices)
    whose resourceVersions did not change since the last sync is not parsed again,
    so a sync after one change costs little more than the lookups (with 1,000
    Services, what dominated a sync after the restore became minimal). Objects
    without a resourceVersion are always parsed."""

    def __init__(self, node_name: str = "") -> None:
        self.node_name = node_name
        self._ports: dict[tuple[str, str], list[ServicePort]] = {}
        self._eps: dict[tuple[ServicePort, tuple[str, ...]],
                        tuple[list[Endpoint], list[Endpoint]]] = {}

    def build(self, services: list[dict[str, Any]],
              slices_by_service: dict[str, list[dict[str, Any]]]) -> ProxyState:
        ports: dict[str, ServicePort] = {}
        eps: dict[str, list[Endpoint]] = {}
        local: dict[str, list[Endpoint]] = {}
        seen_ports: dict[tuple[str, str], list[ServicePort]] = {}
        seen_eps: dict[tuple[ServicePort, tuple[str, ...]],
                       tuple[list[Endpoint], list[Endpoint]]] = {}
        for service in services:
            meta = service.get("metadata") or {}
            rv = meta.get("resourceVersion")
            key = (f"{meta.get('namespace') or 'default'}/{meta.get('name')}", rv or "")
            sps = self._ports.get(key) if rv else None
            if sps is None:
                sps = service_ports(service)
            seen_ports[key] = sps
            for sp in sps:
                slices = slices_by_service.get(sp.service_key, [])
                versions = tuple((s.get("metadata") or {}).get("resourceVersion") or ""
                                 for s in slices)
                memo = (sp, versions)
                found = self._eps.get(memo) if all(versions) else None
                if found is None:
                    found = slice_endpoints(slices, sp, self.node_name)
                seen_eps[memo] = found
                ports[sp.key] = sp
                eps[sp.key], local[sp.key] = found
        self._ports, self._eps = seen_ports, seen_eps
        return ProxyState(ports, eps, local)


def group_slices(slices: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """EndpointSlices by the `namespace/name` of the Service their label names."""
    out: dict[str, list[dict[str, Any]]] = {}
    for s in slices:
        meta = s.get("metadata") or {}
        service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if service:
            out.setdefault(f"{meta.get('namespace') or 'default'}/{service}", []).append(s)
    return out
