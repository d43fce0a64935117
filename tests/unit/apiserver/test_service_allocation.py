"""ClusterIP and NodePort allocation against the real SQLite store (a tmp file)."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from kybernetes.api.errors import InternalError, Invalid
from kybernetes.apiserver.service_allocation import (
    NODE_PORTS_KEY,
    SERVICE_IPS_KEY,
    ServiceAllocator,
)
from kybernetes.storage.sqlite import SqliteStore
from tests.support.poll import eventually


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(tmp_path / "state.db")
    await s.start()
    try:
        yield s
    finally:
        await s.aclose()


async def allocator(store: SqliteStore, ips: str = "10.96.0.0/12",
                    ports: str = "30000-32767") -> ServiceAllocator:
    a = ServiceAllocator(store, ips, ports, repair_interval=0)
    await a.start()
    return a


def svc(name: str, *, type_: str = "ClusterIP", ip: str | None = None,
        ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": type_, "ports": ports or [{"port": 80, "protocol": "TCP"}]}
    if ip is not None:
        spec["clusterIP"] = ip
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec}


async def test_first_address_is_kept_for_the_kubernetes_service(store: SqliteStore) -> None:
    a = await allocator(store, "10.0.0.0/29")  # 6 usable addresses, .1 kept
    given = []
    for i in range(5):
        s = svc(f"s{i}")
        await a.allocate(s, None)
        given.append(s["spec"]["clusterIP"])
    assert sorted(given) == [f"10.0.0.{i}" for i in range(2, 7)]
    with pytest.raises(InternalError, match="failed to allocate a serviceIP: range is full"):
        await a.allocate(svc("full"), None)
    kubernetes = svc("kubernetes", ip=a.kubernetes_service_ip)
    await a.allocate(kubernetes, None)
    assert kubernetes["spec"]["clusterIPs"] == ["10.0.0.1"]
    assert kubernetes["spec"]["ipFamilies"] == ["IPv4"]


async def test_requested_ip_is_honoured_or_refused_with_422(store: SqliteStore) -> None:
    a = await allocator(store)
    s = svc("a", ip="10.96.0.5")
    await a.allocate(s, None)
    assert s["spec"]["clusterIP"] == "10.96.0.5"
    with pytest.raises(Invalid) as taken:
        await a.allocate(svc("b", ip="10.96.0.5"), None)
    assert taken.value.message == (
        'Service "b" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.5"]: failed to '
        "allocate IP 10.96.0.5: provided IP is already allocated")
    assert taken.value.details["causes"][0]["field"] == "spec.clusterIPs"
    with pytest.raises(Invalid) as outside:
        await a.allocate(svc("c", ip="192.168.1.1"), None)
    assert outside.value.message.endswith(
        "failed to allocate IP 192.168.1.1: provided IP is not in the valid range. "
        "The range of valid IPs is 10.96.0.0/12")
    with pytest.raises(Invalid, match="must be a valid IP address"):
        await a.allocate(svc("d", ip="not-an-ip"), None)


async def test_headless_and_external_name_get_no_address(store: SqliteStore) -> None:
    a = await allocator(store)
    headless = svc("h", ip="None")
    await a.allocate(headless, None)
    assert headless["spec"]["clusterIPs"] == ["None"]
    external = svc("e", type_="ExternalName")
    await a.allocate(external, None)
    assert "clusterIP" not in external["spec"]
    assert a.ips.allocated() == 0


async def test_node_ports_one_per_port_and_taken_ones_refused(store: SqliteStore) -> None:
    a = await allocator(store)
    s = svc("np", type_="NodePort", ports=[{"port": 80, "protocol": "TCP"},
                                           {"port": 81, "protocol": "TCP", "nodePort": 30080}])
    await a.allocate(s, None)
    numbers = [p["nodePort"] for p in s["spec"]["ports"]]
    assert numbers[1] == 30080 and 30000 <= numbers[0] <= 32767 and numbers[0] != 30080
    with pytest.raises(Invalid) as taken:
        await a.allocate(svc("x", type_="NodePort",
                             ports=[{"port": 1, "protocol": "TCP", "nodePort": 30080}]), None)
    assert taken.value.message == ('Service "x" is invalid: spec.ports[0].nodePort: Invalid '
                                   "value: 30080: provided port is already allocated")
    with pytest.raises(Invalid, match=re.escape("provided port is not in the valid range. The "
                                                "range of valid ports is 30000-32767")):
        await a.allocate(svc("y", type_="NodePort",
                             ports=[{"port": 1, "protocol": "TCP", "nodePort": 80}]), None)
    # the refused services took no address with them
    assert bin(a.ips.allocated()).count("1") == 1


async def test_racing_creates_never_share_an_address_or_port(store: SqliteStore) -> None:
    # two allocators on one store, as two API servers on one etcd: only CAS protects them
    first, second = await allocator(store), await allocator(store)
    services = [svc(f"s{i}", type_="NodePort") for i in range(120)]
    await asyncio.gather(*[(first if i % 2 else second).allocate(s, None)
                           for i, s in enumerate(services)])
    ips = [s["spec"]["clusterIP"] for s in services]
    ports = [s["spec"]["ports"][0]["nodePort"] for s in services]
    assert len(set(ips)) == len(ips) == 120
    assert len(set(ports)) == len(ports) == 120
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/12") for ip in ips)
    fresh = await allocator(store)  # what is persisted holds all of them
    assert bin(await fresh.ips.load()).count("1") == 120
    assert bin(await fresh.ports.load()).count("1") == 120


async def test_requested_ips_race_has_one_winner(store: SqliteStore) -> None:
    allocators = [await allocator(store) for _ in range(3)]
    results = await asyncio.gather(
        *[allocators[i % 3].allocate(svc(f"s{i}", ip="10.96.7.7"), None) for i in range(9)],
        return_exceptions=True)
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, Invalid) for r in results if r is not None)


async def test_released_on_delete(store: SqliteStore) -> None:
    a = await allocator(store)
    s = svc("a", type_="NodePort", ip="10.96.0.9",
            ports=[{"port": 80, "protocol": "TCP", "nodePort": 30001}])
    await a.allocate(s, None)
    await a.release(s)
    again = svc("b", type_="NodePort", ip="10.96.0.9",
                ports=[{"port": 80, "protocol": "TCP", "nodePort": 30001}])
    await a.allocate(again, None)


async def test_dry_run_takes_nothing(store: SqliteStore) -> None:
    a = await allocator(store)
    s = svc("a", type_="NodePort")
    await a.allocate(s, None, dry_run=True)
    assert s["spec"]["clusterIP"] and s["spec"]["ports"][0]["nodePort"]
    assert await a.ips.load() == 0 and await a.ports.load() == 0


async def test_update_keeps_omitted_values_and_clusterip_is_immutable(store: SqliteStore
                                                                     ) -> None:
    a = await allocator(store)
    old = svc("a", type_="NodePort")
    await a.allocate(old, None)
    new = svc("a", type_="NodePort")  # as `kubectl replace` of the original manifest
    await a.allocate(new, old)
    assert new["spec"]["clusterIP"] == old["spec"]["clusterIP"]
    assert new["spec"]["ports"][0]["nodePort"] == old["spec"]["ports"][0]["nodePort"]
    with pytest.raises(Invalid, match=r"spec.clusterIPs\[0\]: Invalid value: \"10.96.3.3\": "
                                      "may not change once set"):
        await a.allocate(svc("a", type_="NodePort", ip="10.96.3.3"), old)


async def stored(store: SqliteStore, service: dict[str, Any]) -> None:
    """Write `service` where the API server keeps it (as its registry would)."""
    key = f"/registry/services/default/{service['metadata']['name']}"
    _, kv = await store.get(key)
    if kv is None:
        await store.create(key, orjson.dumps(service))
    else:
        await store.update(key, orjson.dumps(service), mod_revision=kv.mod_revision)


async def test_type_changes_allocate_and_release_node_ports(store: SqliteStore) -> None:
    a = await allocator(store)
    plain = svc("a")
    await a.allocate(plain, None)
    node_port = svc("a", type_="NodePort")
    await a.allocate(node_port, plain)
    await stored(store, node_port)
    number = node_port["spec"]["ports"][0]["nodePort"]
    assert a.ports.allocated() == 1 << (number - 30000)
    back = svc("a")
    back["spec"]["ports"][0]["nodePort"] = number  # unchanged from old: dropped with the type
    await a.allocate(back, node_port)
    assert "nodePort" not in back["spec"]["ports"][0]
    await stored(store, back)  # released once the update is in the store
    await eventually(lambda: a.ports.allocated() == 0, within=3, interval=0.01,
                     what="the node port released")
    with pytest.raises(Invalid, match=r"spec.ports\[0\].nodePort: Forbidden: may not be used "
                                      "when `type` is 'ClusterIP'"):
        await a.allocate(svc("b", ports=[{"port": 80, "protocol": "TCP", "nodePort": 30005}]),
                         None)
    await a.aclose()


async def test_a_failed_update_keeps_what_the_stored_service_holds(store: SqliteStore
                                                                   ) -> None:
    a = await allocator(store)
    node_port = svc("a", type_="NodePort", ports=[{"port": 80, "protocol": "TCP",
                                                   "nodePort": 30009}])
    await a.allocate(node_port, None)
    await stored(store, node_port)
    await a.allocate(svc("a"), node_port)  # its write never happens (lost a race)
    await asyncio.sleep(0.4)
    with pytest.raises(Invalid, match="already allocated"):
        await a.allocate(svc("b", type_="NodePort", ports=[{"port": 80, "protocol": "TCP",
                                                            "nodePort": 30009}]), None)
    await a.aclose()


async def test_allocations_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = SqliteStore(path)
    await first.start()
    a = await allocator(first)
    await a.allocate(svc("a", ip="10.96.1.1"), None)
    await first.aclose()
    second = SqliteStore(path)
    await second.start()
    try:
        b = await allocator(second)
        with pytest.raises(Invalid, match="provided IP is already allocated"):
            await b.allocate(svc("b", ip="10.96.1.1"), None)
    finally:
        await second.aclose()


async def test_repair_marks_held_addresses_and_frees_leaks_after_two_passes(
        store: SqliteStore) -> None:
    held = svc("held", type_="NodePort", ip="10.96.2.2",
               ports=[{"port": 80, "protocol": "TCP", "nodePort": 30002}])
    await store.create("/registry/services/default/held", orjson.dumps(held))
    leaky = await allocator(store)
    await leaky.allocate(svc("never-stored", ip="10.96.4.4"), None)  # a crash before the write
    a = await allocator(store)  # start() repairs: the stored Service's values are marked
    with pytest.raises(Invalid, match="already allocated"):
        await a.allocate(svc("b", ip="10.96.2.2"), None)
    with pytest.raises(Invalid, match="already allocated"):
        await a.allocate(svc("c", type_="NodePort",
                             ports=[{"port": 1, "protocol": "TCP", "nodePort": 30002}]), None)
    with pytest.raises(Invalid, match="already allocated"):  # a leak survives one pass
        await a.allocate(svc("d", ip="10.96.4.4"), None)
    await a.repair()
    await a.allocate(svc("d", ip="10.96.4.4"), None)


async def test_range_flag_change_rebuilds_from_services(store: SqliteStore) -> None:
    a = await allocator(store, "10.96.0.0/24")
    await a.allocate(svc("a", ip="10.96.0.7"), None)
    await store.create("/registry/services/default/a",
                       orjson.dumps(svc("a", ip="10.96.0.7")))
    b = await allocator(store, "10.96.0.0/16")
    with pytest.raises(Invalid, match="already allocated"):
        await b.allocate(svc("b", ip="10.96.0.7"), None)
    _, kv = await store.get(SERVICE_IPS_KEY)
    assert kv is not None and orjson.loads(kv.value)["range"] == "10.96.0.0/16"
    _, ports = await store.get(NODE_PORTS_KEY)
    assert ports is None or orjson.loads(ports.value)["kind"] == "RangeAllocation"


async def test_concurrent_changes_share_writes_and_fail_alone(store: SqliteStore) -> None:
    a = await allocator(store)
    before = await store.current_revision()
    wanted = [svc(f"w{i}", ip="10.96.9.9") for i in range(10)]
    dynamic = [svc(f"d{i}") for i in range(30)]
    results = await asyncio.gather(*[a.allocate(s, None) for s in wanted + dynamic],
                                   return_exceptions=True)
    assert sum(r is None for r in results[:10]) == 1  # one winner for the requested IP
    assert all(isinstance(r, Invalid) for r in results[:10] if r is not None)
    assert all(r is None for r in results[10:])  # unaffected by the others' failures
    ips = {s["spec"]["clusterIP"] for s in dynamic} | {"10.96.9.9"}
    assert len(ips) == 31
    assert await store.current_revision() - before < 31  # grouped into fewer writes
    assert bin(await a.ips.load()).count("1") == 31


async def test_values_taken_for_a_lost_update_are_given_back(store: SqliteStore) -> None:
    """An update whose compare-and-swap lost is retried from the fresh object; what its
    losing attempt allocated must not stay taken."""
    a = await allocator(store, ports="30000-30001")
    old = svc("web")
    await a.allocate(old, None)
    attempt = svc("web", type_="NodePort", ip=old["spec"]["clusterIP"],
                  ports=[{"port": 80, "protocol": "TCP", "nodePort": 30001}])
    await a.allocate(attempt, old)
    await a.abandon(attempt, old)
    again = svc("other", type_="NodePort",
                ports=[{"port": 80, "protocol": "TCP", "nodePort": 30001}])
    await a.allocate(again, None)  # would be 422 "already allocated" had it leaked
    assert again["spec"]["ports"][0]["nodePort"] == 30001
    taken = svc("third")
    await a.allocate(taken, None)
    assert taken["spec"]["clusterIP"] != old["spec"]["clusterIP"]  # the kept IP stays kept
