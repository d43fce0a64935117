"""Building Endpoints subsets from a Service and its pods."""

from __future__ import annotations

from kybernetes.controllers.endpoints import build_subsets, find_port


def pod(name: str, ip: str | None, *, ready: bool = True, ports: list | None = None,
        phase: str = "Running", policy: str = "Always") -> dict:
    status: dict = {"phase": phase,
                    "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if ip:
        status["podIP"] = ip
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
            "spec": {"nodeName": "n1", "restartPolicy": policy,
                     "containers": [{"name": "c", "ports": ports or []}]},
            "status": status}


SERVICE: dict = {"metadata": {"name": "web", "namespace": "default"},
                 "spec": {"selector": {"app": "web"},
                          "ports": [{"name": "http", "port": 80, "targetPort": "http"},
                                    {"name": "metrics", "port": 9000, "targetPort": 9100}]}}
HTTP = [{"name": "http", "containerPort": 8080}]


def test_ready_and_unready_pods_with_named_and_numeric_ports() -> None:
    subsets = build_subsets(SERVICE, [pod("b", "10.0.0.10", ports=HTTP),
                                      pod("a", "10.0.0.9", ports=HTTP),
                                      pod("c", "10.0.0.11", ready=False, ports=HTTP),
                                      pod("no-ip", None, ports=HTTP)])
    assert len(subsets) == 1
    subset = subsets[0]
    assert [a["ip"] for a in subset["addresses"]] == ["10.0.0.9", "10.0.0.10"]
    assert subset["addresses"][0]["targetRef"] == {
        "kind": "Pod", "namespace": "default", "name": "a", "uid": "uid-a"}
    assert subset["addresses"][0]["nodeName"] == "n1"
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.0.0.11"]
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"},
                               {"name": "metrics", "port": 9100, "protocol": "TCP"}]


def test_pods_with_different_ports_are_separate_subsets() -> None:
    subsets = build_subsets(SERVICE, [pod("a", "10.0.0.1", ports=HTTP), pod("b", "10.0.0.2")])
    ports = sorted(len(s["ports"]) for s in subsets)
    assert ports == [1, 2]  # b has no 'http' container port: only metrics


def test_finished_pods_and_publish_not_ready() -> None:
    done = pod("done", "10.0.0.3", phase="Succeeded", ready=False, policy="Never", ports=HTTP)
    assert build_subsets(SERVICE, [done]) == []
    service = {**SERVICE, "spec": {**SERVICE["spec"], "publishNotReadyAddresses": True}}
    subsets = build_subsets(service, [pod("u", "10.0.0.4", ready=False, ports=HTTP)])
    assert [a["ip"] for a in subsets[0]["addresses"]] == ["10.0.0.4"]


def test_find_port_matches_protocol() -> None:
    p = pod("a", "1.1.1.1", ports=[{"name": "dns", "containerPort": 53, "protocol": "UDP"}])
    assert find_port(p, {"port": 53, "targetPort": "dns", "protocol": "UDP"}) == 53
    assert find_port(p, {"port": 53, "targetPort": "dns"}) is None
    assert find_port(p, {"port": 80}) == 80
