"""EndpointSlice (discovery.k8s.io/v1): a slice of the endpoints behind a Service,
written by the EndpointSlice controller (and by the API server for `kubernetes`)."""

from __future__ import annotations

import datetime as _dt
import ipaddress
from typing import Any

from kybernetes.api import meta as names
from kybernetes.api import resources as r
from kybernetes.api.field_errors import ErrorList, as_dict, as_list
from kybernetes.apiserver.kinds.definition import KindDefinition, TableSpec, builtin_schema
from kybernetes.apiserver.kinds.strategy import DEFAULT
from kybernetes.apiserver.tables import AGE, NAME, since

Obj = dict[str, Any]
ADDRESS_TYPES = ("IPv4", "IPv6", "FQDN")
PROTOCOLS = ("TCP", "UDP", "SCTP")
MAX_ENDPOINTS, MAX_ADDRESSES, MAX_PORTS = 1000, 100, 20000


def endpoint_slice_defaults(obj: Obj) -> None:
    """SetDefaults_EndpointPort: name "" and protocol TCP."""
    for port in as_list(obj.get("ports")):
        if isinstance(port, dict):
            port.setdefault("name", "")
            port.setdefault("protocol", "TCP")


def _address_error(kind: str, address: Any) -> str | None:
    text = str(address)
    if kind == "FQDN":
        return "; ".join(names.is_dns1123_subdomain(text)) or None
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return f"must be a valid {kind} address"
    if (kind == "IPv4") != (ip.version == 4):
        return f"must be a valid {kind} address"
    # Loopback is allowed, unlike kube: pods sharing a non-root host's network (and an
    # API server advertising 127.0.0.1) have loopback addresses, as our Endpoints allow.
    return None


def _validate_endpoints(errs: ErrorList, kind: Any, endpoints: list[Any]) -> None:
    if len(endpoints) > MAX_ENDPOINTS:
        errs.too_many("endpoints", len(endpoints), MAX_ENDPOINTS)
    for i, ep in enumerate(endpoints):
        ep, path = as_dict(ep), f"endpoints[{i}]"
        addresses = as_list(ep.get("addresses"))
        if not addresses:
            errs.required(f"{path}.addresses", "must contain at least 1 address")
        elif len(addresses) > MAX_ADDRESSES:
            errs.too_many(f"{path}.addresses", len(addresses), MAX_ADDRESSES)
        for j, address in enumerate(addresses):
            problem = _address_error(str(kind), address) if kind in ADDRESS_TYPES else None
            if problem:
                errs.invalid(f"{path}.addresses[{j}]", address, problem)
        if ep.get("nodeName"):
            errs.each(f"{path}.nodeName", ep["nodeName"],
                      names.is_dns1123_subdomain(str(ep["nodeName"])))
        if ep.get("hostname"):
            errs.each(f"{path}.hostname", ep["hostname"],
                      names.is_dns1123_label(str(ep["hostname"])))


def _validate_ports(errs: ErrorList, ports: list[Any]) -> None:
    if len(ports) > MAX_PORTS:
        errs.too_many("ports", len(ports), MAX_PORTS)
    seen: set[str] = set()
    for i, port in enumerate(ports):
        port, path = as_dict(port), f"ports[{i}]"
        name = str(port.get("name") or "")
        if name:
            errs.each(f"{path}.name", name, names.is_dns1123_label(name))
        if name in seen:
            errs.duplicate(f"{path}.name", name)
        seen.add(name)
        protocol = port.get("protocol")
        if protocol is None:
            errs.required(f"{path}.protocol")
        elif protocol not in PROTOCOLS:
            errs.not_supported(f"{path}.protocol", protocol, PROTOCOLS)
        number = port.get("port")
        if number is not None and (not isinstance(number, int) or not 1 <= number <= 65535):
            errs.invalid(f"{path}.port", number, "must be between 1 and 65535, inclusive")


def validate_endpoint_slice(errs: ErrorList, obj: Obj, old: Obj | None) -> None:
    """ValidateEndpointSlice (and its update: addressType is immutable)."""
    kind = obj.get("addressType")
    if not kind:
        errs.required("addressType")
    elif kind not in ADDRESS_TYPES:
        errs.not_supported("addressType", kind, ADDRESS_TYPES)
    _validate_endpoints(errs, kind, as_list(obj.get("endpoints")))
    _validate_ports(errs, as_list(obj.get("ports")))
    if old is not None:
        errs.immutable("addressType", kind, old.get("addressType"))


def _more(items: list[str], limit: int = 3) -> str:
    if len(items) > limit:
        return ",".join(items[:limit]) + f" + {len(items) - limit} more..."
    return ",".join(items)


def _print_slice(obj: Obj, now: _dt.datetime) -> list[Any]:
    """printEndpointSlice: formatDiscoveryPorts and formatDiscoveryEndpoints."""
    meta = as_dict(obj.get("metadata"))
    ports = [str(p["port"]) if isinstance(p, dict) and p.get("port") is not None else "<unset>"
             for p in as_list(obj.get("ports"))]
    addresses = [str(a) for ep in as_list(obj.get("endpoints"))
                 for a in as_list(as_dict(ep).get("addresses"))]
    return [meta.get("name", ""), obj.get("addressType", ""),
            _more(ports) if ports else "<unset>", _more(addresses) if addresses else "<unset>",
            since(meta.get("creationTimestamp"), now)]


DEFINITION = KindDefinition(
    resource=r.ENDPOINT_SLICES,
    schema=builtin_schema("io.k8s.api.discovery.v1.EndpointSlice"),
    openapi_name="io.k8s.api.discovery.v1.EndpointSlice",
    defaults=endpoint_slice_defaults,
    validate=validate_endpoint_slice,
    strategy=DEFAULT,
    table=TableSpec((NAME, ("AddressType", "string", 0), ("Ports", "string", 0),
                     ("Endpoints", "string", 0), AGE), _print_slice),
    field_selectors={},
)
