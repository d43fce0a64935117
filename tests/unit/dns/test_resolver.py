"""The wire protocol of `kyb dns` without sockets: truncation, EDNS0, errors."""

from __future__ import annotations

from dnslib import EDNS0, OPCODE, QTYPE, RCODE, DNSRecord

from kybernetes.dns.records import ClusterRecords
from kybernetes.dns.server import Resolver
from kybernetes.dns.upstream import Upstream


def resolver() -> Resolver:
    records = ClusterRecords()
    records.set_service({"metadata": {"name": "big", "namespace": "default"},
                         "spec": {"clusterIP": "None"}})
    records.set_endpoints({"metadata": {"name": "big", "namespace": "default"},
                           "subsets": [{"addresses": [{"ip": f"10.244.0.{i}"}
                                                      for i in range(1, 101)]}]})
    return Resolver(records, Upstream([]))


async def test_large_udp_answers_are_truncated_and_whole_over_tcp() -> None:
    query = DNSRecord.question("big.default.svc.cluster.local.").pack()
    udp = DNSRecord.parse(await resolver().handle(query, tcp=False) or b"")
    assert udp.header.tc == 1 and not udp.rr
    tcp = DNSRecord.parse(await resolver().handle(query, tcp=True) or b"")
    assert tcp.header.tc == 0 and len(tcp.rr) == 100


async def test_edns0_raises_the_udp_limit() -> None:
    q = DNSRecord.question("big.default.svc.cluster.local.")
    q.add_ar(EDNS0(udp_len=4096))
    reply = DNSRecord.parse(await resolver().handle(q.pack(), tcp=False) or b"")
    assert reply.header.tc == 0 and len(reply.rr) == 100
    assert any(rr.rtype == QTYPE.OPT for rr in reply.ar)


async def test_errors() -> None:
    r = resolver()
    assert await r.handle(b"\x00" * 5, tcp=False) is None
    notify = DNSRecord.question("cluster.local.")
    notify.header.opcode = OPCODE.NOTIFY
    assert DNSRecord.parse(await r.handle(notify.pack(), tcp=False) or b"").header.rcode == \
        RCODE.NOTIMP
    response = DNSRecord.question("cluster.local.").reply()
    assert await r.handle(response.pack(), tcp=False) is None  # never answer answers
    outside = DNSRecord.question("example.org.")
    servfail = DNSRecord.parse(await r.handle(outside.pack(), tcp=False) or b"")
    assert servfail.header.rcode == RCODE.SERVFAIL and servfail.header.id == outside.header.id


async def test_external_name_to_a_cluster_name_is_followed() -> None:
    r = resolver()
    r.records.set_service({"metadata": {"name": "web", "namespace": "default"},
                           "spec": {"clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"]}})
    r.records.set_service({"metadata": {"name": "alias", "namespace": "default"},
                           "spec": {"type": "ExternalName",
                                    "externalName": "web.default.svc.cluster.local"}})
    query = DNSRecord.question("alias.default.svc.cluster.local.").pack()
    reply = DNSRecord.parse(await r.handle(query, tcp=False) or b"")
    assert [(QTYPE[rr.rtype], str(rr.rdata)) for rr in reply.rr] == [
        ("CNAME", "web.default.svc.cluster.local."), ("A", "10.96.0.20")]
