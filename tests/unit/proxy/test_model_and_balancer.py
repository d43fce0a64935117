"""Service/EndpointSlice translation and endpoint choice (pure logic)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from kybernetes.proxy.balancer import LoadBalancer
from kybernetes.proxy.model import (
    StateBuilder,
    build_state,
    group_slices,
    ready_endpoints,
    service_ports,
    slice_endpoints,
)


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


def endpoint(ip: str, node: str = "n1", **conditions: bool) -> dict[str, Any]:
    return {"addresses": [ip], "nodeName": node, "conditions": conditions}


def eslice(name: str, endpoints: list[dict[str, Any]], *, service: str = "web",
           namespace: str = "ns", port: int = 8080, **extra: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace,
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4", "endpoints": endpoints,
            "ports": [{"name": "http", "port": port, "protocol": "TCP"}], **extra}


def test_several_slices_per_service_are_merged_by_the_service_name_label() -> None:
    slices = [eslice("web-a", [endpoint("10.1.0.10"), endpoint("10.1.0.9")]),
              eslice("web-b", [endpoint("10.1.0.9"), endpoint("10.1.0.2", ready=False)]),
              eslice("other", [endpoint("10.1.0.3")], service="other"),
              eslice("web-x", [endpoint("10.1.0.4")], namespace="elsewhere"),
              eslice("web-6", [endpoint("fd00::1")], addressType="IPv6"),
              {"metadata": {"name": "unlabelled", "namespace": "ns"},
               "endpoints": [endpoint("10.1.0.5")]}]
    state = build_state([service()], group_slices(slices))
    assert state.endpoints == {"ns/web:http": [("10.1.0.9", 8080), ("10.1.0.10", 8080)]}


def test_unset_conditions_mean_ready_and_not_terminating() -> None:
    (sp,) = service_ports(service())
    bare = eslice("s", [{"addresses": ["10.1.0.7"]}, {"addresses": ["bad"]}])
    assert slice_endpoints([bare], sp) == ([("10.1.0.7", 8080)], [])


def test_serving_terminating_endpoints_are_the_fallback_when_none_is_ready() -> None:
    (sp,) = service_ports(service())
    leaving = endpoint("10.1.0.2", ready=False, serving=True, terminating=True)
    stopped = endpoint("10.1.0.3", ready=False, serving=False, terminating=True)
    starting = endpoint("10.1.0.4", ready=False, serving=False, terminating=False)
    assert slice_endpoints([eslice("s", [leaving, stopped, starting])], sp) == \
        ([("10.1.0.2", 8080)], [])
    ready = endpoint("10.1.0.9", ready=True, serving=True, terminating=False)
    assert slice_endpoints([eslice("s", [leaving, stopped, ready])], sp)[0] == \
        [("10.1.0.9", 8080)]


def test_local_endpoints_apply_the_same_rule_on_this_node_only() -> None:
    (sp,) = service_ports(service())
    slices = [eslice("s", [endpoint("10.1.0.1", "n1"), endpoint("10.1.0.2", "n2"),
                           endpoint("10.1.0.3", "n2", ready=False, serving=True,
                                    terminating=True)])]
    assert slice_endpoints(slices, sp, "n1") == (
        [("10.1.0.1", 8080), ("10.1.0.2", 8080)], [("10.1.0.1", 8080)])
    slices[0]["endpoints"][1]["conditions"] = {"ready": False}
    assert slice_endpoints(slices, sp, "n2")[1] == [("10.1.0.3", 8080)]
    assert slice_endpoints(slices, sp, "n3")[1] == []


def test_traffic_policies_and_load_balancer_ingress() -> None:
    svc = service(type="LoadBalancer", externalTrafficPolicy="Local",
                  internalTrafficPolicy="Local", healthCheckNodePort=32000,
                  ports=[{"name": "http", "port": 80, "nodePort": 30080}])
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "172.30.0.12"}, {"ip": "x"},
                                                  {"hostname": "lb.example"},
                                                  {"ip": "172.30.0.11"}]}}
    (sp,) = service_ports(svc)
    assert sp.load_balancer_ips == ("172.30.0.11", "172.30.0.12")
    assert (sp.external_local, sp.internal_local, sp.health_check_node_port) == \
        (True, True, 32000)
    state = build_state([svc], group_slices([eslice("s", [endpoint("10.1.0.1", "n1"),
                                                          endpoint("10.1.0.2", "n2")])]),
                        "n2")
    assert state.internal(sp.key) == state.external(sp.key) == [("10.1.0.2", 8080)]
    (cluster,) = service_ports(service(externalTrafficPolicy="Local"))
    assert not cluster.external_local  # only NodePort/LoadBalancer have external traffic


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
    assert first is not None
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


def test_state_builder_reparses_only_what_changed() -> None:
    svc = {**service(), "metadata": {"namespace": "ns", "name": "web", "resourceVersion": "1"}}
    first = eslice("s", [endpoint("10.1.0.1")])
    first["metadata"]["resourceVersion"] = "5"
    builder = StateBuilder("n1")
    state = builder.build([svc], group_slices([first]))
    assert state.endpoints == {"ns/web:http": [("10.1.0.1", 8080)]}
    assert state.local == {"ns/web:http": [("10.1.0.1", 8080)]}
    again = builder.build([svc], group_slices([first]))
    assert again.endpoints["ns/web:http"] is state.endpoints["ns/web:http"]  # not reparsed
    moved = eslice("s", [endpoint("10.1.0.2", "n2")])
    moved["metadata"]["resourceVersion"] = "6"
    changed = builder.build([svc], group_slices([moved]))
    assert changed.endpoints == {"ns/web:http": [("10.1.0.2", 8080)]}
    assert changed.local == {"ns/web:http": []}
    assert builder.build([], {}).ports == {}
