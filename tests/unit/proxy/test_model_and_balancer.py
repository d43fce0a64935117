"""Service/Endpoints translation and endpoint choice (pure logic)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from kybernetes.proxy.balancer import LoadBalancer
from kybernetes.proxy.model import build_state, ready_endpoints, service_ports


def service(**spec: Any) -> dict[str, Any]:
    base = {"clusterIP": "10.96.0.10", "ports": [{"name": "http", "port": 80}]}
    return {"metadata": {"namespace": "ns", "name": "web"}, "spec": {**base, **spec}}


ENDPOINTS = {"subsets": [
    {"addresses": [{"ip": "10.1.0.10"}, {"ip": "10.1.0.9"}],
     "notReadyAddresses": [{"ip": "10.1.0.8"}],
     "ports": [{"name": "http", "port": 8080}, {"name": "dns", "port": 53, "protocol": "UDP"}]},
    {"addresses": [{"ip": "10.1.0.2"}], "ports": [{"name": "other", "port": 9}]},
]}


def test_only_ready_addresses_of_the_matching_port_name() -> None:
    (sp,) = service_ports(service())
    assert sp.key == "ns/web:http"
    assert ready_endpoints(ENDPOINTS, sp) == [("10.1.0.9", 8080), ("10.1.0.10", 8080)]


def test_addresses_that_are_not_ipv4_are_skipped() -> None:
    (sp,) = service_ports(service())
    odd = {"subsets": [{"addresses": [{"ip": "not-an-ip"}, {"ip": "fd00::1"},
                                      {"ip": "10.1.0.7"}],
                        "ports": [{"name": "http", "port": 8080}]},
                       {"addresses": [{"ip": "10.1.0.8"}],
                        "ports": [{"name": "http", "port": 70000}]}]}
    assert ready_endpoints(odd, sp) == [("10.1.0.7", 8080)]
    assert service_ports(service(clusterIP="10.96.0.300")) == []


def test_headless_and_external_name_are_not_proxied() -> None:
    assert service_ports(service(clusterIP="None")) == []
    assert service_ports(service(type="ExternalName", clusterIP="")) == []


def test_node_port_and_affinity_timeout() -> None:
    (sp,) = service_ports(service(type="NodePort", sessionAffinity="ClientIP",
                                  ports=[{"port": 80, "nodePort": 30080}]))
    assert (sp.key, sp.node_port, sp.affinity_timeout) == ("ns/web", 30080, 10800)
    (sp,) = service_ports(service(sessionAffinity="ClientIP", sessionAffinityConfig={
        "clientIP": {"timeoutSeconds": 5}}, ports=[{"port": 80, "nodePort": 30080}]))
    assert (sp.node_port, sp.affinity_timeout) == (0, 5)  # type ClusterIP: no NodePort


def test_build_state_joins_by_namespace_and_name() -> None:
    state = build_state([service()], {"ns/web": ENDPOINTS, "other/web": {}})
    assert state.endpoints == {"ns/web:http": [("10.1.0.9", 8080), ("10.1.0.10", 8080)]}


EPS = [("10.0.0.1", 80), ("10.0.0.2", 80), ("10.0.0.3", 80)]


def test_round_robin_is_exactly_even() -> None:
    lb = LoadBalancer()
    lb.update(EPS)
    picks = Counter(lb.next_endpoint(f"c{i}") for i in range(300))
    assert set(picks.values()) == {100}


def test_random_is_roughly_even() -> None:
    lb = LoadBalancer(mode="random", rng=random.Random(7))
    lb.update(EPS)
    picks = Counter(lb.next_endpoint("c") for _ in range(3000))
    assert all(800 < n < 1200 for n in picks.values()) and len(picks) == 3


def test_affinity_pins_a_client_until_the_timeout() -> None:
    now = [0.0]
    lb = LoadBalancer(affinity_timeout=10, clock=lambda: now[0])
    lb.update(EPS)
    first = lb.next_endpoint("1.1.1.1")
    assert {lb.next_endpoint("1.1.1.1") for _ in range(20)} == {first}
    assert lb.next_endpoint("2.2.2.2") != first
    now[0] = 100.0  # unused for longer than the timeout: balanced again
    assert lb.next_endpoint("1.1.1.1") != first


def test_failed_endpoints_are_skipped_and_affinity_moves() -> None:
    lb = LoadBalancer(affinity_timeout=60)
    lb.update(EPS)
    first = lb.next_endpoint("c")
    second = lb.next_endpoint("c", exclude={first})
    assert second not in (first, None)
    assert lb.next_endpoint("c") == second
    assert lb.next_endpoint("c", exclude=set(EPS)) is None


def test_update_keeps_affinity_of_endpoints_still_ready() -> None:
    lb = LoadBalancer(affinity_timeout=60)
    lb.update(EPS)
    pinned = {c: lb.next_endpoint(c) for c in ("a", "b", "c")}
    gone = pinned["a"]
    lb.update([e for e in EPS if e != gone])
    assert lb.next_endpoint("a") != gone
    for c in ("b", "c"):
        if pinned[c] != gone:
            assert lb.next_endpoint(c) == pinned[c]
