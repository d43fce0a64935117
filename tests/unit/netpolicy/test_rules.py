"""NetworkPolicy semantics for one node's pods, and the nftables script made of them."""

from __future__ import annotations

from typing import Any

from kybernetes.netpolicy.nft import render
from kybernetes.netpolicy.rules import Allow, Ports, Snapshot, node_rules


def _pod(name: str, ip: str, node: str = "n1", namespace: str = "default",
         ports: list[dict[str, Any]] | None = None, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"nodeName": node, "containers": [{"name": "c", "ports": ports or []}]},
            "status": {"podIP": ip, "phase": "Running"}}


def _policy(name: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    spec.setdefault("podSelector", {})
    spec.setdefault("policyTypes", ["Ingress"] + (["Egress"] if "egress" in spec else []))
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


PODS = [_pod("db", "10.0.0.2", app="db", ports=[{"name": "pg", "containerPort": 5432}]),
        _pod("web", "10.0.1.2", node="n2", app="web"),
        _pod("job", "10.0.1.3", node="n2", namespace="batch", app="job"),
        _pod("other", "10.0.0.9", app="other")]
NAMESPACES: dict[str, dict[str, Any]] = {
    "default": {"metadata": {"name": "default"}},
    "batch": {"metadata": {"name": "batch", "labels": {"team": "batch"}}}}


def _rules(*policies: dict[str, Any], pods: list[dict[str, Any]] = PODS) -> dict[str, Any]:
    return {r.key: r for r in node_rules(Snapshot(list(policies), pods, NAMESPACES), "n1")}


def test_unselected_pods_are_not_isolated_and_other_nodes_are_not_ours():
    assert _rules() == {}
    rules = _rules(_policy("db-only", podSelector={"matchLabels": {"app": "db"}}))
    assert list(rules) == ["default/db"]
    assert rules["default/db"].ingress == [] and rules["default/db"].egress is None


def test_pod_and_namespace_selectors_and_named_ports():
    allow = _policy("db", podSelector={"matchLabels": {"app": "db"}}, ingress=[
        {"from": [{"podSelector": {"matchLabels": {"app": "web"}}},
                  {"namespaceSelector": {"matchLabels": {"team": "batch"}}}],
         "ports": [{"port": "pg", "protocol": "TCP"}]}])
    # web (same namespace) and job (a batch-team namespace); the port name resolved on db
    pg = (Ports("tcp", ((5432, 5432),)),)
    assert _rules(allow)["default/db"].ingress == [Allow(frozenset({"10.0.1.2"}), (), pg),
                                                   Allow(frozenset({"10.0.1.3"}), (), pg)]
    both = _policy("db", podSelector={"matchLabels": {"app": "db"}}, ingress=[
        {"from": [{"podSelector": {"matchLabels": {"app": "web"}},
                   "namespaceSelector": {"matchLabels": {"team": "batch"}}}]}])
    assert _rules(both)["default/db"].ingress == []  # no web pod in a batch namespace


def test_ip_blocks_ranges_and_egress():
    policy = _policy("egress", podSelector={"matchLabels": {"app": "other"}}, egress=[
        {"to": [{"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.1.0/24"]}}],
         "ports": [{"port": 8000, "endPort": 8080, "protocol": "TCP"}, {"protocol": "UDP"}]}])
    rules = _rules(policy)["default/other"]
    assert rules.ingress == []  # Ingress is in policyTypes with no rules: deny all
    assert rules.egress == [Allow(frozenset(), (("192.168.0.0/16", ("192.168.1.0/24",)),),
                                  (Ports("udp"), Ports("tcp", ((8000, 8080),))))]
    script = render("kybnp_t", [rules])
    assert "ip daddr 192.168.0.0/16 ip daddr != { 192.168.1.0/24 } meta l4proto udp return" \
        in script
    assert "ip daddr 192.168.0.0/16 ip daddr != { 192.168.1.0/24 } tcp dport { 8000-8080 } " \
           "return" in script
    assert "ip saddr 10.0.0.9 jump egress0" in script and "ip daddr 10.0.0.9 jump ingress0" \
        in script


def test_allow_all_rules_and_unresolvable_named_ports():
    policy = _policy("open", ingress=[{}], egress=[{"ports": [{"port": "nope"}]}])
    rules = _rules(policy)
    assert rules["default/db"].ingress == [Allow(None, (), None)]
    assert rules["default/db"].egress == []  # a port name no pod has allows nothing
    script = render("kybnp_t", [rules["default/db"]])
    assert "    return\n" in script  # allow-all ingress


def test_host_network_and_finished_pods_take_no_part():
    host = _pod("host", "172.30.0.11", app="db")
    host["spec"]["hostNetwork"] = True
    done = _pod("done", "10.0.0.7", app="db")
    done["status"]["phase"] = "Succeeded"
    rules = _rules(_policy("all"), pods=[host, done])
    assert rules == {}
