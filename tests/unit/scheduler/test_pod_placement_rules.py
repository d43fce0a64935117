"""Pods placed by other pods: topologySpreadConstraints and inter-pod (anti-)affinity,
with Kubernetes' reasons when no node fits."""

from __future__ import annotations

from typing import Any

from kybernetes.api.resources import NAMESPACES
from kybernetes.scheduler.podinfo import pod_info
from tests.unit.scheduler.harness import build, decide, schedule
from tests.unit.scheduler.objects import make_node, make_pod

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


def _zoned(*spec: tuple[str, str]) -> list[dict[str, Any]]:
    return [make_node(name, labels={ZONE: zone}) for name, zone in spec]


def _spread(key: str, *, max_skew: int = 1, when: str = "DoNotSchedule",
            **extra: Any) -> dict[str, Any]:
    return {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": {"app": "web"}}, **extra}


def _web(name: str, node: str = "", **kwargs: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeName": node} if node else {}
    return make_pod(name, labels={"app": "web"}, **spec, **kwargs)


# --- topologySpreadConstraints ---------------------------------------------------------


def test_do_not_schedule_keeps_zones_within_max_skew():
    nodes = _zoned(("a1", "z1"), ("a2", "z1"), ("b1", "z2"))
    existing = (_web("w1", "a1"), _web("w2", "a2"), _web("w3", "b1"))
    pod = _web("new", topologySpreadConstraints=[_spread(ZONE)])
    # z1 holds 2, z2 holds 1: only z2 keeps the skew at 1.
    for seed in range(5):
        assert schedule(nodes, pod, existing=existing, seed=seed) == "b1"


def test_skew_violation_everywhere_gives_kubes_message():
    nodes = _zoned(("a1", "z1"), ("b1", "z2"))
    existing = (_web("w1", "a1"), _web("w2", "a1"))
    pod = _web("new", nodeSelector={ZONE: "z1"},
               topologySpreadConstraints=[_spread(ZONE, nodeAffinityPolicy="Ignore")])
    assert schedule(nodes, pod, existing=existing) == (
        "FIT: 0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
        "1 node(s) didn't match pod topology spread constraints. "
        "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, "
        "1 Preemption is not helpful for scheduling.")


def test_node_affinity_policy_honor_counts_only_matching_nodes():
    nodes = _zoned(("a1", "z1"), ("b1", "z2"))
    existing = (_web("w1", "a1"),)
    pod = _web("new", topologySpreadConstraints=[_spread(ZONE)], nodeSelector={ZONE: "z1"})
    # z2 is not eligible (Honor), so z1 is the only domain and its own minimum.
    assert schedule(nodes, pod, existing=existing) == "a1"
    ignore = _web("new", nodeSelector={ZONE: "z1"},
                  topologySpreadConstraints=[_spread(ZONE, nodeAffinityPolicy="Ignore")])
    assert schedule(nodes, ignore, existing=existing).startswith("FIT: ")


def test_node_without_the_key_is_unresolvable():
    nodes = [make_node("a", labels={ZONE: "z1"}), make_node("b")]
    pod = _web("new", topologySpreadConstraints=[_spread(ZONE)], nodeName="")
    pod["spec"]["nodeSelector"] = {HOST: "b"}
    assert "didn't match pod topology spread constraints (missing required label)" in \
        schedule(nodes, pod)


def test_min_domains_treats_the_global_minimum_as_zero():
    nodes = _zoned(("a1", "z1"), ("b1", "z2"))
    existing = (_web("w1", "a1"), _web("w2", "b1"))
    pod = _web("new", topologySpreadConstraints=[_spread(ZONE, minDomains=3)])
    # only two zones exist: minimum 0, and each zone already holds one pod.
    assert schedule(nodes, pod, existing=existing).startswith("FIT: ")


def test_a_pod_not_matching_its_own_selector_adds_no_skew():
    nodes = _zoned(("a1", "z1"), ("b1", "z2"))
    # an unrelated pod on b1 evens out the resource scores
    existing = (_web("w1", "a1"), make_pod("x", labels={"app": "x"}, nodeName="b1"))
    pod = make_pod("other", labels={"app": "db"},
                   topologySpreadConstraints=[_spread(ZONE)])
    assert {schedule(nodes, pod, existing=existing, seed=s) for s in range(20)} == \
        {"a1", "b1"}


def test_schedule_anyway_prefers_the_emptier_domain():
    nodes = _zoned(("a1", "z1"), ("a2", "z1"), ("b1", "z2"), ("b2", "z2"))
    existing = (_web("w1", "a1"), _web("w2", "a2"))
    pod = _web("new", topologySpreadConstraints=[_spread(ZONE, when="ScheduleAnyway")])
    for seed in range(5):
        assert schedule(nodes, pod, existing=existing, seed=seed) in ("b1", "b2")


def test_match_label_keys_spread_each_revision_on_its_own():
    nodes = _zoned(("a1", "z1"), ("b1", "z2"))
    existing = tuple(make_pod(f"old{i}", labels={"app": "web", "rev": "1"}, nodeName="a1")
                     for i in range(2))

    def on_a1(**extra: Any) -> dict[str, Any]:
        constraint = _spread(HOST, nodeAffinityPolicy="Ignore", **extra)
        return make_pod("new", labels={"app": "web", "rev": "2"}, nodeSelector={HOST: "a1"},
                        topologySpreadConstraints=[constraint])

    # the old revision does not count against the new one
    assert schedule(nodes, on_a1(matchLabelKeys=["rev"]), existing=existing) == "a1"
    assert "didn't match pod topology spread constraints" in \
        schedule(nodes, on_a1(), existing=existing)


def test_replicas_spread_one_per_host_with_max_skew_one():
    nodes = [make_node(f"n{i}") for i in range(3)]
    profile = build(nodes)
    placed = []
    for i in range(6):
        pod = _web(f"w{i}", topologySpreadConstraints=[_spread(HOST)])
        node = decide(profile, pod)
        pod["spec"]["nodeName"] = node
        profile.handle.cache.add_pod(pod_info(pod))
        placed.append(node)
    assert sorted(placed) == ["n0", "n0", "n1", "n1", "n2", "n2"]


# --- inter-pod affinity ----------------------------------------------------------------


def _term(key: str, app: str = "web", **extra: Any) -> dict[str, Any]:
    return {"topologyKey": key, "labelSelector": {"matchLabels": {"app": app}}, **extra}


def _affinity(kind: str, *terms: dict[str, Any], preferred: bool = False) -> dict[str, Any]:
    if preferred:
        entries = [{"weight": 100, "podAffinityTerm": t} for t in terms]
        return {kind: {"preferredDuringSchedulingIgnoredDuringExecution": entries}}
    return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": list(terms)}}


def test_required_anti_affinity_one_replica_per_host():
    nodes = [make_node("a"), make_node("b")]
    anti = _affinity("podAntiAffinity", _term(HOST))
    existing = (_web("w1", "a", affinity=anti),)
    assert schedule(nodes, _web("w2", affinity=anti), existing=existing) == "b"
    existing += (_web("w2", "b", affinity=anti),)
    assert schedule(nodes, _web("w3", affinity=anti), existing=existing) == (
        "FIT: 0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules. "
        "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.")


def test_existing_pods_anti_affinity_keeps_the_pod_out():
    nodes = [make_node("a"), make_node("b")]
    loner = make_pod("loner", labels={"app": "db"}, nodeName="a",
                     affinity=_affinity("podAntiAffinity", _term(HOST, "web")))
    for seed in range(5):
        assert schedule(nodes, _web("w"), existing=(loner,), seed=seed) == "b"
    nodes = [make_node("a")]
    assert "1 node(s) didn't satisfy existing pods anti-affinity rules" in \
        schedule(nodes, _web("w"), existing=(loner,))


def test_required_affinity_follows_the_matching_pod_zone():
    nodes = _zoned(("a1", "z1"), ("a2", "z1"), ("b1", "z2"))
    cache = (make_pod("cache", labels={"app": "cache"}, nodeName="a2"),)
    pod = _web("w", affinity=_affinity("podAffinity", _term(ZONE, "cache")))
    assert {schedule(nodes, pod, existing=cache, seed=s) for s in range(20)} <= {"a1", "a2"}
    assert "3 node(s) didn't match pod affinity rules" in schedule(nodes, pod)


def test_first_pod_of_a_self_affine_group_is_placed():
    nodes = [make_node("a"), make_node("b")]
    together = _affinity("podAffinity", _term(HOST))
    first = schedule(nodes, _web("w1", affinity=together))
    assert first in ("a", "b")
    existing = (_web("w1", first, affinity=together),)
    for seed in range(5):
        assert schedule(nodes, _web("w2", affinity=together), existing=existing,
                        seed=seed) == first


def test_namespace_selector_reaches_other_namespaces():
    nodes = [make_node("a"), make_node("b")]
    existing = (make_pod("db", namespace="data", labels={"app": "db"}, nodeName="b"),)
    namespaces = [{"metadata": {"name": "data", "labels": {"team": "data"}}}]
    term = _term(HOST, "db", namespaceSelector={"matchLabels": {"team": "data"}})
    pod = _web("w", affinity=_affinity("podAffinity", term))
    assert schedule(nodes, pod, existing=existing, objects={NAMESPACES: namespaces}) == "b"
    # without the selector the term looks only in the pod's own namespace
    plain = _web("w", affinity=_affinity("podAffinity", _term(HOST, "db")))
    assert "didn't match pod affinity rules" in schedule(nodes, plain, existing=existing)


def test_preferred_affinity_and_anti_affinity_score():
    nodes = [make_node("a"), make_node("b")]
    existing = (make_pod("cache", labels={"app": "cache"}, nodeName="b"),)
    near = _web("w", affinity=_affinity("podAffinity", _term(HOST, "cache"), preferred=True))
    far = _web("w", affinity=_affinity("podAntiAffinity", _term(HOST, "cache"),
                                       preferred=True))
    for seed in range(5):
        assert schedule(nodes, near, existing=existing, seed=seed) == "b"
        assert schedule(nodes, far, existing=existing, seed=seed) == "a"


def test_existing_pods_required_affinity_attracts_matching_pods():
    nodes = [make_node("a"), make_node("b")]
    fan = make_pod("fan", labels={"app": "fan"}, nodeName="b",
                   affinity=_affinity("podAffinity", _term(HOST, "web")))
    for seed in range(5):
        assert schedule(nodes, _web("w"), existing=(fan,), seed=seed) == "b"


def _terminating(pod: dict[str, Any]) -> dict[str, Any]:
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return pod


def test_terminating_pods_count_for_anti_affinity_but_not_for_spread():
    nodes = [make_node("a"), make_node("b")]
    anti = _affinity("podAntiAffinity", _term(HOST))
    leaving = (_terminating(_web("old", "a", affinity=anti)),)
    # anti-affinity still sees the terminating replica on a, as kube does
    for seed in range(5):
        assert schedule(nodes, _web("new", affinity=anti), existing=leaving, seed=seed) == "b"
    # spreading does not count them: a (two terminating pods) fits a maxSkew of 1
    leaving = (_terminating(_web("old", "a")), _terminating(_web("old2", "a")))
    spread = _web("new", nodeSelector={HOST: "a"},
                  topologySpreadConstraints=[_spread(HOST, nodeAffinityPolicy="Ignore")])
    assert schedule(nodes, spread, existing=leaving) == "a"


def test_selectors_without_an_exact_label_are_counted_too():
    nodes = _zoned(("a1", "z1"), ("b1", "z2"))
    existing = (_web("w1", "a1"), _web("w2", "a1"))
    exists = {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
              "nodeAffinityPolicy": "Ignore",
              "labelSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}}
    pod = _web("new", nodeSelector={ZONE: "z1"}, topologySpreadConstraints=[exists])
    assert "didn't match pod topology spread constraints" in schedule(nodes, pod,
                                                                      existing=existing)
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": ZONE, "labelSelector": {"matchExpressions": [
            {"key": "app", "operator": "In", "values": ["web", "api"]},
            {"key": "tier", "operator": "DoesNotExist"}]}}]}}
    assert schedule(nodes, make_pod("p", affinity=anti), existing=existing) == "b1"
