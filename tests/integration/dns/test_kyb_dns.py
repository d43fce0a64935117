"""`kyb dns` as a process against a real API server, queried over real sockets with
dnslib: it runs as the kube-dns ServiceAccount's user (kube's `system:kube-dns` role
only), answers from its watches, and survives hostile input."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from kybernetes.api import errors, resources
from kybernetes.client import ApiClient
from kybernetes.dns.records import ClusterRecords
from kybernetes.dns.server import Resolver
from kybernetes.dns.upstream import Upstream
from tests.support.apiserver import ApiServer, connected
from tests.support.net import free_port
from tests.support.poll import eventually, wait_for
from tests.support.procs import Proc
from tests.support.users import user_kubeconfig

pytestmark = pytest.mark.timeout(120)
ZONE = "cluster.local"


@pytest.fixture(scope="module")
def dns(shared_apiserver: ApiServer, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[int]:
    """`kyb dns` on a free loopback port as kube's kube-dns user; no upstream."""
    directory = tmp_path_factory.mktemp("dns")
    kubeconfig = user_kubeconfig(shared_apiserver, directory,
                                 "system:serviceaccount:kube-system:kube-dns",
                                 "system:serviceaccounts", "system:serviceaccounts:kube-system")
    port = free_port()
    proc = Proc.kyb("dns", "--kubeconfig", str(kubeconfig), "--bind-address", "127.0.0.1",
                    "--port", str(port), "--resolv-conf", str(directory / "none"),
                    log_path=directory / "dns.log").start()
    try:
        wait_for(lambda: _answers(port) or not proc.alive(), within=30,
                 what="kyb dns answering")
        assert proc.alive(), proc.log_tail()
        yield port
        assert proc.alive(), proc.log_tail()  # nothing below crashed it
    finally:
        proc.stop()


def _answers(port: int) -> bool:
    try:
        query(port, f"{ZONE}.", "SOA", timeout=0.5)
        return True
    except OSError:
        return False


def query(port: int, name: str, qtype: str = "A", *, tcp: bool = False,
          timeout: float = 3.0) -> DNSRecord:
    q = DNSRecord.question(name, qtype)
    return DNSRecord.parse(q.send("127.0.0.1", port, tcp=tcp, timeout=timeout))


def rdata(reply: DNSRecord, rtype: str = "A") -> list[str]:
    return sorted(str(rr.rdata) for rr in reply.rr if QTYPE[rr.rtype] == rtype)


@pytest.fixture(scope="module")
def objects(shared_apiserver: ApiServer, dns: int) -> Iterator[None]:
    asyncio.run(_create(shared_apiserver))
    yield


async def _create(server: ApiServer) -> None:
    async with connected(server) as client:
        await client.create(resources.NAMESPACES, {"metadata": {"name": "dnstest"}})
        await client.create(resources.SERVICES, svc(
            "web", clusterIP="10.96.0.50", ports=[{"name": "http", "port": 80}]))
        await client.create(resources.SERVICES, svc(
            "db", clusterIP="None", ports=[{"name": "pg", "port": 5432}]))
        await client.create(resources.ENDPOINTS, {
            "metadata": {"name": "db", "namespace": "dnstest"},
            "subsets": [{"addresses": [{"ip": "10.244.1.5", "hostname": "db-0"},
                                       {"ip": "10.244.2.6", "hostname": "db-1"}],
                         "notReadyAddresses": [{"ip": "10.244.3.7", "hostname": "db-2"}],
                         "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}]})
        await client.create(resources.SERVICES, svc("ext", type="ExternalName",
                                                     externalName="db.example.org"))


def svc(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "dnstest"}, "spec": spec}


async def _until(port: int, name: str, qtype: str = "A") -> DNSRecord:
    async def check() -> DNSRecord | None:
        reply = await asyncio.to_thread(query, port, name, qtype)
        return reply if reply.rr else None
    return await eventually(check, within=15, what=f"{name} {qtype}")


async def test_service_names(dns: int, objects: None) -> None:
    reply = await _until(dns, f"web.dnstest.svc.{ZONE}.")
    assert rdata(reply) == ["10.96.0.50"] and reply.header.aa
    srv = await _until(dns, f"_http._tcp.web.dnstest.svc.{ZONE}.", "SRV")
    assert rdata(srv, "SRV") == [f"0 100 80 web.dnstest.svc.{ZONE}."]
    ptr = await _until(dns, "50.0.96.10.in-addr.arpa.", "PTR")
    assert rdata(ptr, "PTR") == [f"web.dnstest.svc.{ZONE}."]


async def test_headless_service_and_pod_hostnames(dns: int, objects: None) -> None:
    reply = await _until(dns, f"db.dnstest.svc.{ZONE}.")
    assert rdata(reply) == ["10.244.1.5", "10.244.2.6"]  # not the not-ready one
    assert rdata(query(dns, f"db-1.db.dnstest.svc.{ZONE}.")) == ["10.244.2.6"]
    srv = query(dns, f"_pg._tcp.db.dnstest.svc.{ZONE}.", "SRV")
    assert rdata(srv, "SRV") == [f"0 50 5432 db-0.db.dnstest.svc.{ZONE}.",
                                 f"0 50 5432 db-1.db.dnstest.svc.{ZONE}."]
    assert rdata(query(dns, "5.1.244.10.in-addr.arpa.", "PTR"), "PTR") == [
        f"db-0.db.dnstest.svc.{ZONE}."]
    assert rdata(query(dns, f"10-244-9-9.dnstest.pod.{ZONE}.")) == ["10.244.9.9"]


async def test_external_name_and_negative_answers(dns: int, objects: None) -> None:
    reply = await _until(dns, f"ext.dnstest.svc.{ZONE}.")
    assert rdata(reply, "CNAME") == ["db.example.org."]
    missing = query(dns, f"nope.dnstest.svc.{ZONE}.")
    assert missing.header.rcode == RCODE.NXDOMAIN and not missing.rr
    assert [QTYPE[rr.rtype] for rr in missing.auth] == ["SOA"]
    assert missing.auth[0].rdata.times[-1] == 5
    nodata = query(dns, f"web.dnstest.svc.{ZONE}.", "AAAA")
    assert nodata.header.rcode == RCODE.NOERROR and not nodata.rr and nodata.auth


async def test_changes_follow_the_watch(shared_apiserver: ApiServer, dns: int,
                                        objects: None) -> None:
    async with connected(shared_apiserver) as client:
        await client.create(resources.SERVICES, svc("late", clusterIP="10.96.0.51",
                                                     ports=[{"port": 80}]))
        await _until(dns, f"late.dnstest.svc.{ZONE}.")
        await client.delete(resources.SERVICES, "late", namespace="dnstest")

    async def gone() -> bool:
        reply = await asyncio.to_thread(query, dns, f"late.dnstest.svc.{ZONE}.")
        return reply.header.rcode == RCODE.NXDOMAIN
    await eventually(gone, within=15, what="the deleted Service's name gone")


async def test_tcp(dns: int, objects: None) -> None:
    await _until(dns, f"web.dnstest.svc.{ZONE}.")
    assert rdata(query(dns, f"web.dnstest.svc.{ZONE}.", tcp=True)) == ["10.96.0.50"]


def test_other_names_without_upstream_are_servfail(dns: int) -> None:
    reply = query(dns, "example.org.")
    assert reply.header.rcode == RCODE.SERVFAIL


def test_malformed_and_huge_queries(dns: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(b"\x12", ("127.0.0.1", dns))  # too short: dropped
        s.sendto(b"\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff", ("127.0.0.1", dns))
        reply = DNSRecord.parse(s.recv(4096))
        assert reply.header.id == 0xABCD and reply.header.rcode == RCODE.FORMERR
        s.sendto(b"\x00\x07" + os.urandom(20000), ("127.0.0.1", dns))
        assert DNSRecord.parse(s.recv(4096)).header.rcode == RCODE.FORMERR
        two = DNSRecord.question(f"a.{ZONE}.")
        two.add_question(DNSRecord.question(f"b.{ZONE}.").q)
        s.sendto(two.pack(), ("127.0.0.1", dns))
        assert DNSRecord.parse(s.recv(4096)).header.rcode == RCODE.FORMERR
    bad = b"\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff"
    with socket.create_connection(("127.0.0.1", dns), timeout=2) as c:
        c.sendall(struct.pack("!H", len(bad)) + bad)
        (length,) = struct.unpack("!H", c.recv(2))
        assert DNSRecord.parse(c.recv(length)).header.rcode == RCODE.FORMERR
        c.sendall(struct.pack("!H", 5) + b"junk!")  # not even a header: hung up on
        assert c.recv(2) == b""
    with socket.create_connection(("127.0.0.1", dns), timeout=2) as c:
        c.sendall(struct.pack("!H", 60000) + b"x" * 100)  # then hangs up
    assert query(dns, f"{ZONE}.", "SOA").header.rcode == RCODE.NOERROR


@pytest.fixture
async def fake_upstream() -> AsyncIterator[int]:
    """A resolver on loopback that answers every A question with 192.0.2.1."""
    class Answer(asyncio.DatagramProtocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: Any) -> None:
            request = DNSRecord.parse(data)
            reply = request.reply()
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A("192.0.2.1"), ttl=60))
            self.transport.sendto(reply.pack(), addr)

    port = free_port()
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        Answer, local_addr=("127.0.0.1", port))
    try:
        yield port
    finally:
        transport.close()


async def test_forwarding_to_an_upstream(fake_upstream: int) -> None:
    up = Upstream(["127.0.0.1"], port=fake_upstream, timeout=1)
    reply = await up.forward(DNSRecord.question("example.org.").pack())
    assert reply is not None and rdata(DNSRecord.parse(reply)) == ["192.0.2.1"]
    # an ExternalName outside the cluster: the CNAME and the target's records upstream
    records = ClusterRecords()
    records.set_service({"metadata": {"name": "ext", "namespace": "default"},
                         "spec": {"type": "ExternalName", "externalName": "db.example.org"}})
    resolver = Resolver(records, up)
    query = DNSRecord.question("ext.default.svc.cluster.local.").pack()
    chased = DNSRecord.parse(await resolver.handle(query, tcp=False) or b"")
    assert [(QTYPE[rr.rtype], str(rr.rdata)) for rr in chased.rr] == [
        ("CNAME", "db.example.org."), ("A", "192.0.2.1")]
    dead = Upstream(["127.0.0.1"], port=free_port(), timeout=0.5)
    assert await dead.forward(DNSRecord.question("example.org.").pack()) is None


def test_least_privilege(shared_apiserver: ApiServer, tmp_path: Path) -> None:
    """The identity `kyb up` gives `kyb dns` may read Services but not Secrets."""
    kubeconfig = user_kubeconfig(shared_apiserver, tmp_path,
                                 "system:serviceaccount:kube-system:kube-dns",
                                 "system:serviceaccounts", "system:serviceaccounts:kube-system")

    async def check() -> None:
        async with ApiClient.from_kubeconfig(kubeconfig) as client:
            await client.list(resources.SERVICES)
            with pytest.raises(errors.Forbidden):
                await client.list(resources.SECRETS)
    asyncio.run(check())
