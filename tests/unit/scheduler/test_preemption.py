"""DefaultPreemption: which pods are evicted, from which node, and Kubernetes' reasons
when preemption cannot help."""

from __future__ import annotations

from typing import Any

from kybernetes.api.resources import POD_DISRUPTION_BUDGETS
from kybernetes.scheduler.podinfo import PodInfo, pod_info
from tests.unit.scheduler.harness import build, decide
from tests.unit.scheduler.objects import make_node, make_pod


class Recorded:
    """A preemptor that only remembers what it was asked to do."""

    def __init__(self) -> None:
        self.preempted: list[tuple[str, str, list[str]]] = []
        self.nominated: list[tuple[str, str]] = []

    def nominate(self, pod: PodInfo, node: str) -> None:
        self.nominated.append((pod.name, node))

    def preempt(self, pod: PodInfo, node: str, victims: list[PodInfo]) -> None:
        self.preempted.append((pod.name, node, sorted(v.name for v in victims)))


def _pod(name: str, priority: int, cpu: str = "1", node: str = "", **kw: Any) -> dict[str, Any]:
    extra: dict[str, Any] = {"priority": priority}
    if node:
        extra["nodeName"] = node
    return make_pod(name, cpu=cpu, **extra, **kw)


def _run(nodes, existing, pod, **kw) -> tuple[str, Recorded]:
    recorded = Recorded()
    return decide(build(nodes, existing=tuple(existing), preemptor=recorded, **kw), pod), recorded


def test_the_lowest_priority_pods_that_make_room_are_evicted():
    nodes = [make_node("a", cpu="2"), make_node("b", cpu="2")]
    existing = [_pod("a-low", 1, node="a"), _pod("a-mid", 5, node="a"),
                _pod("b-mid", 5, node="b"), _pod("b-mid2", 5, node="b")]
    result, recorded = _run(nodes, existing, _pod("vip", 10))
    # a needs one eviction of priority 1, b one of priority 5: a wins
    assert result == "FIT: 0/2 nodes are available: 2 Insufficient cpu."
    assert recorded.preempted == [("vip", "a", ["a-low"])]


def test_only_as_many_victims_as_needed_are_taken():
    nodes = [make_node("a", cpu="4")]
    existing = [_pod(f"low{i}", 1, node="a") for i in range(4)]
    _, recorded = _run(nodes, existing, _pod("vip", 10, cpu="2"))
    (name, node, victims), = recorded.preempted
    assert (name, node, len(victims)) == ("vip", "a", 2)


def test_equal_or_higher_priority_pods_are_never_victims():
    nodes = [make_node("a", cpu="2")]
    existing = [_pod("same", 10, node="a"), _pod("higher", 20, node="a")]
    result, recorded = _run(nodes, existing, _pod("vip", 10))
    assert result.endswith("preemption: 0/1 nodes are available: "
                           "1 No preemption victims found for incoming pod.")
    assert recorded.preempted == []


def test_unresolvable_nodes_are_not_helped_and_never_policy_does_not_preempt():
    nodes = [make_node("a", cpu="2"), make_node("tainted", cpu="8", taints=[
        {"key": "k", "value": "v", "effect": "NoSchedule"}])]
    existing = [_pod("low", 1, node="a", cpu="2")]
    result, recorded = _run(nodes, existing, _pod("vip", 10, preemptionPolicy="Never"))
    assert result.endswith("preemption: not eligible due to preemptionPolicy=Never.")
    assert recorded.preempted == []
    result, recorded = _run(nodes, existing, _pod("vip", 10, cpu="16"))
    assert result.endswith("preemption: 0/2 nodes are available: 1 Insufficient cpu, "
                           "1 Preemption is not helpful for scheduling.")


def test_a_budget_steers_preemption_to_pods_it_does_not_protect():
    nodes = [make_node("a", cpu="1"), make_node("b", cpu="1")]
    existing = [_pod("guarded", 1, node="a", labels={"app": "db"}),
                _pod("free", 1, node="b", labels={"app": "web"})]
    pdb = {"metadata": {"name": "db", "namespace": "default"},
           "spec": {"selector": {"matchLabels": {"app": "db"}}},
           "status": {"disruptionsAllowed": 0}}
    for _ in range(5):
        _, recorded = _run(nodes, existing, _pod("vip", 10),
                           objects={POD_DISRUPTION_BUDGETS: [pdb]})
        assert recorded.preempted == [("vip", "b", ["free"])]


def test_a_pod_waits_while_its_victims_terminate():
    nodes = [make_node("a", cpu="1")]
    leaving = _pod("low", 1, node="a")
    leaving["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    vip = _pod("vip", 10)
    vip["status"] = {"nominatedNodeName": "a"}
    result, recorded = _run(nodes, [leaving], vip)
    assert result.endswith(
        "preemption: not eligible due to a terminating pod on the nominated node.")
    assert recorded.nominated == [("vip", "a")] and recorded.preempted == []


def test_a_nominated_pod_holds_its_room_until_it_is_placed():
    profile = build([make_node("a", cpu="2"), make_node("b", cpu="1")])
    cache = profile.handle.cache
    cache.nominate(pod_info(_pod("vip", 10, cpu="2")), "a")
    for _ in range(5):
        assert decide(profile, _pod("small", 0, cpu="1")) == "b"
    cache.assume_pod(pod_info(_pod("vip", 10, cpu="2")), "a")  # placed: no double count
    assert cache.node("a").req_cpu == 2000 and not cache.is_nominated("default/vip")
