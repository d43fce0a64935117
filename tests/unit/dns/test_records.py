"""The record logic of `kyb dns` (pure): what CoreDNS's kubernetes plugin answers."""

from __future__ import annotations

from typing import Any

import pytest
from dnslib import QTYPE, RCODE

from kybernetes.dns.records import TTL, ClusterRecords


def service(name: str, ns: str = "default", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def endpoints(name: str, ns: str = "default", *, addresses: list[dict[str, Any]],
              ports: list[dict[str, Any]], not_ready: list[dict[str, Any]] | None = None
              ) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns},
            "subsets": [{"addresses": addresses, "notReadyAddresses": not_ready or [],
                         "ports": ports}]}


@pytest.fixture
def records() -> ClusterRecords:
    r = ClusterRecords("cluster.local")
    r.set_service(service("web", clusterIP="10.96.0.20", clusterIPs=["10.96.0.20"],
                          ports=[{"name": "http", "port": 80, "protocol": "TCP"},
                                 {"name": "dns", "port": 53, "protocol": "UDP"}]))
    r.set_service(service("db", "data", clusterIP="None",
                          ports=[{"name": "pg", "port": 5432, "protocol": "TCP"}]))
    r.set_endpoints(endpoints("db", "data", addresses=[
        {"ip": "10.244.1.5", "hostname": "db-0"}, {"ip": "10.244.2.6"}],
        not_ready=[{"ip": "10.244.2.9", "hostname": "db-2"}],
        ports=[{"name": "pg", "port": 5433, "protocol": "TCP"}]))
    r.set_service(service("ext", type="ExternalName", externalName="example.org"))
    return r


def texts(rrs: list[Any]) -> list[str]:
    return [str(rr.rdata) for rr in rrs]


def test_cluster_ip_service_is_an_a_record(records: ClusterRecords) -> None:
    found = records.answer("web.default.svc.cluster.local.", QTYPE.A)
    assert found.rcode == RCODE.NOERROR and texts(found.answers) == ["10.96.0.20"]
    assert found.answers[0].ttl == TTL


def test_names_are_case_insensitive_and_keep_the_askers_case(records: ClusterRecords) -> None:
    found = records.answer("Web.Default.SVC.cluster.local.", QTYPE.A)
    assert texts(found.answers) == ["10.96.0.20"]
    assert str(found.answers[0].rname) == "Web.Default.SVC.cluster.local."


def test_headless_service_answers_ready_endpoints_only(records: ClusterRecords) -> None:
    found = records.answer("db.data.svc.cluster.local.", QTYPE.A)
    assert texts(found.answers) == ["10.244.1.5", "10.244.2.6"]


def test_headless_service_without_ready_endpoints_is_nxdomain(records: ClusterRecords) -> None:
    records.set_service(service("empty", clusterIP="None"))
    assert records.answer("empty.default.svc.cluster.local.", QTYPE.A).rcode == RCODE.NXDOMAIN
    records.set_endpoints(endpoints("empty", addresses=[], ports=[],
                                    not_ready=[{"ip": "10.244.1.9"}]))
    assert records.answer("empty.default.svc.cluster.local.", QTYPE.A).rcode == RCODE.NXDOMAIN


def test_endpoint_by_hostname_and_by_dashed_address(records: ClusterRecords) -> None:
    assert texts(records.answer("db-0.db.data.svc.cluster.local.", QTYPE.A).answers) == [
        "10.244.1.5"]
    assert texts(records.answer("10-244-2-6.db.data.svc.cluster.local.",
                                QTYPE.A).answers) == ["10.244.2.6"]
    assert records.answer("db-2.db.data.svc.cluster.local.", QTYPE.A).rcode == RCODE.NXDOMAIN


def test_srv_of_a_cluster_ip_service(records: ClusterRecords) -> None:
    found = records.answer("_http._tcp.web.default.svc.cluster.local.", QTYPE.SRV)
    assert texts(found.answers) == ["0 100 80 web.default.svc.cluster.local."]
    assert texts(found.additional) == ["10.96.0.20"]
    udp = records.answer("_dns._udp.web.default.svc.cluster.local.", QTYPE.SRV)
    assert texts(udp.answers) == ["0 100 53 web.default.svc.cluster.local."]
    wrong = records.answer("_http._udp.web.default.svc.cluster.local.", QTYPE.SRV)
    assert wrong.rcode == RCODE.NXDOMAIN


def test_srv_of_a_headless_service_names_each_endpoint(records: ClusterRecords) -> None:
    found = records.answer("_pg._tcp.db.data.svc.cluster.local.", QTYPE.SRV)
    assert sorted(texts(found.answers)) == [
        "0 50 5433 10-244-2-6.db.data.svc.cluster.local.",
        "0 50 5433 db-0.db.data.svc.cluster.local."]


def test_service_srv_lists_every_named_port(records: ClusterRecords) -> None:
    found = records.answer("web.default.svc.cluster.local.", QTYPE.SRV)
    assert sorted(texts(found.answers)) == ["0 100 53 web.default.svc.cluster.local.",
                                            "0 100 80 web.default.svc.cluster.local."]


def test_external_name_is_a_cname(records: ClusterRecords) -> None:
    found = records.answer("ext.default.svc.cluster.local.", QTYPE.A)
    assert [(QTYPE[rr.rtype], str(rr.rdata)) for rr in found.answers] == [
        ("CNAME", "example.org.")]


def test_missing_names_are_nxdomain_with_the_soa(records: ClusterRecords) -> None:
    for name in ("nope.default.svc.cluster.local.", "web.nope.svc.cluster.local.",
                 "a.b.c.d.e.svc.cluster.local.", "x.cluster.local."):
        found = records.answer(name, QTYPE.A)
        assert found.rcode == RCODE.NXDOMAIN, name
        assert [QTYPE[rr.rtype] for rr in found.authority] == ["SOA"]
        soa = found.authority[0].rdata
        assert str(soa.mname) == "ns.dns.cluster.local." and soa.times[-1] == TTL


def test_existing_names_without_that_type_are_nodata(records: ClusterRecords) -> None:
    for name, qtype in (("web.default.svc.cluster.local.", QTYPE.AAAA),
                        ("default.svc.cluster.local.", QTYPE.A),
                        ("svc.cluster.local.", QTYPE.A)):
        found = records.answer(name, qtype)
        assert found.rcode == RCODE.NOERROR and not found.answers, name
        assert [QTYPE[rr.rtype] for rr in found.authority] == ["SOA"]


def test_pod_records_from_the_dashed_address(records: ClusterRecords) -> None:
    assert texts(records.answer("10-244-1-7.default.pod.cluster.local.", QTYPE.A).answers) == [
        "10.244.1.7"]
    assert records.answer("10-244-1.default.pod.cluster.local.", QTYPE.A).rcode == \
        RCODE.NXDOMAIN


def test_ptr_for_cluster_ips_and_headless_endpoints(records: ClusterRecords) -> None:
    assert texts(records.answer("20.0.96.10.in-addr.arpa.", QTYPE.PTR).answers) == [
        "web.default.svc.cluster.local."]
    assert texts(records.answer("5.1.244.10.in-addr.arpa.", QTYPE.PTR).answers) == [
        "db-0.db.data.svc.cluster.local."]
    assert records.answer("9.9.9.9.in-addr.arpa.", QTYPE.PTR).forward


def test_other_names_are_forwarded(records: ClusterRecords) -> None:
    assert records.answer("example.org.", QTYPE.A).forward
    assert records.answer("cluster.local.example.org.", QTYPE.A).forward


def test_changes_and_deletes_follow(records: ClusterRecords) -> None:
    records.set_service(service("web", clusterIP="10.96.0.21", clusterIPs=["10.96.0.21"]))
    assert texts(records.answer("web.default.svc.cluster.local.", QTYPE.A).answers) == [
        "10.96.0.21"]
    assert records.answer("21.0.96.10.in-addr.arpa.", QTYPE.PTR).answers
    records.delete_service(service("web"))
    assert records.answer("web.default.svc.cluster.local.", QTYPE.A).rcode == RCODE.NXDOMAIN
    assert records.answer("21.0.96.10.in-addr.arpa.", QTYPE.PTR).forward


def test_another_cluster_domain() -> None:
    r = ClusterRecords("kyb.test")
    r.set_service(service("web", clusterIP="10.96.0.20", clusterIPs=["10.96.0.20"]))
    assert texts(r.answer("web.default.svc.kyb.test.", QTYPE.A).answers) == ["10.96.0.20"]
    assert r.answer("web.default.svc.cluster.local.", QTYPE.A).forward
