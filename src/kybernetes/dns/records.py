"""The cluster's names, as CoreDNS's kubernetes plugin answers them (pure: no I/O).

Zone ``<domain>.`` (``cluster.local.`` by default), from Services and Endpoints:

- ``svc.ns.svc.<domain>``: A = the ClusterIP; a headless Service (``clusterIP:
  None``) answers the addresses of its ready endpoints (the endpoints controller
  puts not-ready ones there too when ``publishNotReadyAddresses`` is set), NXDOMAIN
  without any (Kubernetes' DNS specification 2.4.1); ExternalName answers a CNAME
  to ``spec.externalName`` (the server adds the target's records).
- ``host.svc.ns.svc.<domain>``: one endpoint of a headless Service, by its
  ``hostname`` (a pod's ``spec.hostname`` when its ``subdomain`` is the Service,
  as StatefulSet pods ``web-0.web``) or its dashed address (``10-1-2-3``).
- ``_port._proto.svc.ns.svc.<domain>``: SRV (priority 0, weight 100/n) to the
  Service's name and port, or per endpoint for a headless Service.
- ``a-b-c-d.ns.pod.<domain>``: A = a.b.c.d (CoreDNS's ``pods insecure``, what
  kubeadm configures: no pod watch needed).
- PTR for ClusterIPs and headless endpoints' addresses (``d.c.b.a.in-addr.arpa``);
  other reverse names fall through to the upstream servers.

A name in the zone that does not exist is NXDOMAIN, one that exists without
records of the asked type NOERROR with no answers; both carry the zone's SOA in
the authority section, whose minimum (the TTL, 5 s) bounds negative caching.
IPv4 only (the cluster is): AAAA is always NODATA for names that exist.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field
from typing import Any

from dnslib import CNAME, PTR, QTYPE, RCODE, RR, SOA, SRV, A, DNSLabel

TTL = 5  # CoreDNS's kubernetes plugin default
PROTOCOLS = {"tcp": "TCP", "udp": "UDP", "sctp": "SCTP"}

Obj = dict[str, Any]


@dataclass(frozen=True)
class Endpoint:
    ip: str
    hostname: str
    ports: tuple[tuple[str, str, int], ...]  # (name, protocol, port)

    @property
    def label(self) -> str:
        """The endpoint's name under its Service: its hostname or its dashed address."""
        return self.hostname or self.ip.replace(".", "-")


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    cluster_ips: tuple[str, ...]  # empty for headless and ExternalName
    headless: bool
    external_name: str
    ports: tuple[tuple[str, str, int], ...]  # (name, protocol, port)


def service_from(obj: Obj) -> Service:
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    ips = [ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")])
           if ip and ip != "None" and _ipv4(ip)]
    ports = tuple((str(p.get("name") or ""), str(p.get("protocol") or "TCP"),
                   int(p.get("port") or 0)) for p in spec.get("ports") or [])
    return Service(
        namespace=meta.get("namespace") or "default", name=meta.get("name") or "",
        cluster_ips=tuple(ips) if kind != "ExternalName" else (),
        headless=spec.get("clusterIP") == "None" and kind != "ExternalName",
        external_name=str(spec.get("externalName") or "") if kind == "ExternalName" else "",
        ports=ports)


def endpoints_from(obj: Obj) -> list[Endpoint]:
    """The ready addresses of an Endpoints object (never notReadyAddresses)."""
    out: list[Endpoint] = []
    for subset in obj.get("subsets") or []:
        ports = tuple((str(p.get("name") or ""), str(p.get("protocol") or "TCP"),
                       int(p.get("port") or 0)) for p in subset.get("ports") or [])
        for address in subset.get("addresses") or []:
            ip = address.get("ip")
            if ip and _ipv4(ip):
                out.append(Endpoint(ip, str(address.get("hostname") or ""), ports))
    return out


def _ipv4(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 4
    except ValueError:
        return False


@dataclass
class Answer:
    rcode: int = RCODE.NOERROR
    answers: list[RR] = field(default_factory=list)
    authority: list[RR] = field(default_factory=list)
    additional: list[RR] = field(default_factory=list)
    forward: bool = False  # not ours: ask the upstream servers


class ClusterRecords:
    """Services and Endpoints by `namespace/name`, and the answers they give."""

    def __init__(self, domain: str = "cluster.local") -> None:
        self.domain = domain.strip(".").lower()
        self.zone = tuple(self.domain.split("."))
        self.services: dict[tuple[str, str], Service] = {}
        self.endpoints: dict[tuple[str, str], list[Endpoint]] = {}
        self._reverse: dict[str, list[str]] | None = None
        self._namespaces: set[str] | None = None
        self.serial = int(time.time())

    # -- keeping the cache -----------------------------------------------------

    def set_service(self, obj: Obj) -> None:
        svc = service_from(obj)
        self.services[(svc.namespace, svc.name)] = svc
        self._changed()

    def delete_service(self, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        self.services.pop((meta.get("namespace") or "default", meta.get("name") or ""), None)
        self._changed()

    def set_endpoints(self, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace") or "default", meta.get("name") or "")
        self.endpoints[key] = endpoints_from(obj)
        self._changed()

    def delete_endpoints(self, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        self.endpoints.pop((meta.get("namespace") or "default", meta.get("name") or ""), None)
        self._changed()

    def _changed(self) -> None:
        self._reverse = None
        self._namespaces = None
        self.serial = int(time.time())

    # -- answering ---------------------------------------------------------------

    def soa(self) -> RR:
        zone = self.domain + "."
        return RR(zone, QTYPE.SOA, ttl=TTL, rdata=SOA(
            f"ns.dns.{zone}", f"hostmaster.{zone}", (self.serial, 7200, 1800, 86400, TTL)))

    def in_zone(self, labels: tuple[str, ...]) -> bool:
        n = len(self.zone)
        return len(labels) >= n and labels[-n:] == self.zone

    def answer(self, qname: str | DNSLabel, qtype: int) -> Answer:
        """What to say to one question; `qname` as asked (its case is kept)."""
        labels = tuple(label.decode("ascii", "replace").lower()
                       for label in DNSLabel(qname).label)
        if labels[-2:] == ("in-addr", "arpa"):
            return self._ptr(qname, labels, qtype)
        if not self.in_zone(labels):
            return Answer(forward=True)
        rel = labels[:len(labels) - len(self.zone)]
        found = self._lookup(qname, rel, qtype)
        if found is None:
            return Answer(RCODE.NXDOMAIN, authority=[self.soa()])
        if not found.answers:
            found.authority.append(self.soa())
        return found

    def _lookup(self, qname: str | DNSLabel, rel: tuple[str, ...], qtype: int) -> Answer | None:
        """None: no such name. An Answer without answers: the name exists (NODATA)."""
        if not rel:  # the zone's apex
            return Answer(answers=[self.soa()] if qtype in (QTYPE.SOA, QTYPE.ANY) else [])
        if rel[-1] == "pod":
            return self._pod(qname, rel[:-1], qtype)
        if rel[-1] != "svc":
            return None
        rel = rel[:-1]
        if not rel:
            return Answer()
        if len(rel) == 1:
            return Answer() if rel[0] in self.namespaces() else None
        if len(rel) == 2:
            return self._service(qname, rel[1], rel[0], qtype)
        if len(rel) == 3:
            return self._endpoint(qname, rel[2], rel[1], rel[0], qtype)
        if len(rel) == 4 and rel[0].startswith("_") and rel[1].startswith("_"):
            return self._srv(qname, rel[3], rel[2], rel[0][1:], rel[1][1:], qtype)
        return None

    def namespaces(self) -> set[str]:
        if self._namespaces is None:
            self._namespaces = {ns for ns, _ in self.services}
        return self._namespaces

    def _fqdn(self, *labels: str) -> str:
        return ".".join((*labels, self.domain)) + "."

    def _service(self, qname: str, ns: str, name: str, qtype: int) -> Answer | None:
        svc = self.services.get((ns, name))
        if svc is None:
            return None
        out = Answer()
        if svc.external_name:
            if qtype != QTYPE.SRV:  # as CoreDNS: any address question gets the CNAME
                out.answers.append(RR(qname, QTYPE.CNAME, ttl=TTL,
                                      rdata=CNAME(svc.external_name.rstrip(".") + ".")))
            return out
        addresses = self._addresses(svc)
        if svc.headless and not addresses:
            return None  # the DNS spec (2.4.1): no ready endpoints is NXDOMAIN
        if qtype in (QTYPE.A, QTYPE.ANY):
            out.answers += [_a(qname, ip) for ip in addresses]
        if qtype == QTYPE.SRV:
            for port_name, proto, _ in svc.ports:
                if port_name:
                    found = self._srv(qname, ns, name, port_name, proto.lower(), qtype)
                    if found is not None:
                        out.answers += found.answers
                        out.additional += found.additional
        return out

    def _addresses(self, svc: Service) -> list[str]:
        if svc.headless:
            return sorted({ep.ip for ep in self.endpoints.get((svc.namespace, svc.name), [])})
        return list(svc.cluster_ips)

    def _endpoint(self, qname: str, ns: str, name: str, label: str,
                  qtype: int) -> Answer | None:
        svc = self.services.get((ns, name))
        if svc is None or not svc.headless:
            return None
        ips = sorted({ep.ip for ep in self.endpoints.get((ns, name), []) if ep.label == label})
        if not ips:
            return None
        return Answer(answers=[_a(qname, ip) for ip in ips]
                      if qtype in (QTYPE.A, QTYPE.ANY) else [])

    def _srv(self, qname: str, ns: str, name: str, port_name: str, proto: str,
             qtype: int) -> Answer | None:
        svc = self.services.get((ns, name))
        protocol = PROTOCOLS.get(proto)
        if svc is None or protocol is None or svc.external_name:
            return None
        targets: list[tuple[str, int, str]] = []  # (target, port, ip)
        if svc.headless:
            for ep in self.endpoints.get((ns, name), []):
                for pname, pproto, port in ep.ports:
                    if pname.lower() == port_name and pproto == protocol:
                        targets.append((self._fqdn(ep.label, name, ns, "svc"), port, ep.ip))
        else:
            for pname, pproto, port in svc.ports:
                if pname.lower() == port_name and pproto == protocol:
                    targets += [(self._fqdn(name, ns, "svc"), port, ip)
                                for ip in svc.cluster_ips[:1]]
        if not targets:
            return None
        out = Answer()
        if qtype not in (QTYPE.SRV, QTYPE.ANY):
            return out
        weight = 100 // len(targets)
        for target, port, ip in sorted(set(targets)):
            out.answers.append(RR(qname, QTYPE.SRV, ttl=TTL,
                                  rdata=SRV(0, weight, port, target)))
            out.additional.append(_a(target, ip))
        return out

    def _pod(self, qname: str, rel: tuple[str, ...], qtype: int) -> Answer | None:
        if len(rel) == 1:
            return Answer() if rel[0] in self.namespaces() else None
        if len(rel) != 2:
            return None
        ip = rel[0].replace("-", ".")
        if not _ipv4(ip) or ip.count(".") != 3:
            return None
        return Answer(answers=[_a(qname, ip)] if qtype in (QTYPE.A, QTYPE.ANY) else [])

    def reverse(self) -> dict[str, list[str]]:
        """IP → names: a ClusterIP names its Service, a headless endpoint itself."""
        if self._reverse is None:
            rev: dict[str, list[str]] = {}
            for (ns, name), svc in sorted(self.services.items()):
                for ip in svc.cluster_ips:
                    rev.setdefault(ip, []).append(self._fqdn(name, ns, "svc"))
                if svc.headless:
                    for ep in self.endpoints.get((ns, name), []):
                        rev.setdefault(ep.ip, []).append(
                            self._fqdn(ep.label, name, ns, "svc"))
            self._reverse = rev
        return self._reverse

    def _ptr(self, qname: str, labels: tuple[str, ...], qtype: int) -> Answer:
        octets = labels[:-2]
        if len(octets) != 4:
            return Answer(forward=True)
        names = self.reverse().get(".".join(reversed(octets)))
        if not names:
            return Answer(forward=True)  # as kubeadm's Corefile: fallthrough in-addr.arpa
        if qtype not in (QTYPE.PTR, QTYPE.ANY):
            return Answer(authority=[self.soa()])
        return Answer(answers=[RR(qname, QTYPE.PTR, ttl=TTL, rdata=PTR(n))
                               for n in dict.fromkeys(names)])


def _a(name: str, ip: str) -> RR:
    return RR(name, QTYPE.A, ttl=TTL, rdata=A(ip))

