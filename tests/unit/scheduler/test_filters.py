"""Each filter keeps the pod off the nodes it should, with Kubernetes' reason."""

import pytest

from kybernetes.scheduler.profile import NoNodesAvailable
from tests.unit.scheduler.harness import schedule
from tests.unit.scheduler.objects import make_node, make_pod

NOT_HELPFUL = "preemption: 0/{n} nodes are available: {n} Preemption is not helpful for scheduling."
# Nodes short of room (or of a port) could be helped by evicting lower-priority pods.
NO_VICTIMS = ("preemption: 0/{n} nodes are available: "
              "{n} No preemption victims found for incoming pod.")


def test_resources_fit_picks_the_node_with_room_and_counts_reasons():
    nodes = [make_node("small", cpu="500m"), make_node("big", cpu="4"),
             make_node("tiny", cpu="100m", memory="1Mi")]
    assert schedule(nodes, make_pod("p", cpu="1")) == "big"
    msg = schedule(nodes, make_pod("p", cpu="8", memory="2Mi"))
    assert msg == ("FIT: 0/3 nodes are available: 1 Insufficient memory, 3 Insufficient cpu. "
                   + NO_VICTIMS.format(n=3))


def test_committed_pods_use_up_the_node():
    nodes = [make_node("a", cpu="1"), make_node("b", cpu="1")]
    existing = (make_pod("x", cpu="800m", nodeName="a"),)
    assert schedule(nodes, make_pod("p", cpu="500m"), existing=existing) == "b"


def test_too_many_pods():
    nodes = [make_node("a", pods=1)]
    existing = (make_pod("x", nodeName="a"),)
    assert schedule(nodes, make_pod("p"), existing=existing).startswith(
        "FIT: 0/1 nodes are available: 1 Too many pods.")


def test_init_containers_count_toward_the_request():
    nodes = [make_node("a", cpu="1")]
    pod = make_pod("p", cpu="100m",
                   initContainers=[{"name": "i", "resources": {"requests": {"cpu": "2"}}}])
    assert "1 Insufficient cpu" in schedule(nodes, pod)


def test_extended_resources():
    nodes = [make_node("plain"), make_node("gpu", extra={"example.com/gpu": "2"})]
    pod = make_pod("p")
    pod["spec"]["containers"][0]["resources"] = {"requests": {"example.com/gpu": "1"}}
    assert schedule(nodes, pod) == "gpu"


def test_unschedulable_and_not_ready_nodes_are_skipped():
    nodes = [make_node("cordoned", unschedulable=True), make_node("down", ready="False"),
             make_node("lost", ready="Unknown"), make_node("ok")]
    assert schedule(nodes, make_pod("p")) == "ok"
    msg = schedule(nodes[:3], make_pod("p"))
    assert msg == ("FIT: 0/3 nodes are available: "
                   "1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, "
                   "1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, "
                   "1 node(s) were unschedulable. " + NOT_HELPFUL.format(n=3))


def test_a_toleration_lets_a_pod_onto_a_cordoned_node():
    nodes = [make_node("cordoned", unschedulable=True)]
    tol = [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
            "effect": "NoSchedule"}]
    assert schedule(nodes, make_pod("p", tolerations=tol)) == "cordoned"


def test_taints_keep_out_pods_that_do_not_tolerate_them():
    nodes = [make_node("gpu", taints=[{"key": "gpu", "value": "true", "effect": "NoSchedule"}]),
             make_node("ex", taints=[{"key": "x", "effect": "NoExecute"}]),
             make_node("soft", taints=[{"key": "s", "effect": "PreferNoSchedule"}])]
    assert schedule(nodes, make_pod("p")) == "soft"
    assert schedule(nodes[:2], make_pod("p")) == (
        "FIT: 0/2 nodes are available: 1 node(s) had untolerated taint {gpu: true}, "
        "1 node(s) had untolerated taint {x: }. " + NOT_HELPFUL.format(n=2))
    equal = [{"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
    assert schedule(nodes[:2], make_pod("p", tolerations=equal)) == "gpu"
    wrong = [{"key": "gpu", "operator": "Equal", "value": "false"}]
    assert schedule(nodes[:2], make_pod("p", tolerations=wrong)).startswith("FIT:")
    everything = [{"operator": "Exists"}]
    assert schedule(nodes[1:2], make_pod("p", tolerations=everything)) == "ex"


def test_node_selector():
    nodes = [make_node("a", labels={"disk": "hdd"}), make_node("b", labels={"disk": "ssd"})]
    assert schedule(nodes, make_pod("p", node_selector={"disk": "ssd"})) == "b"
    assert schedule(nodes, make_pod("p", node_selector={"disk": "nvme"})) == (
        "FIT: 0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. "
        + NOT_HELPFUL.format(n=2))


def _required(*terms):
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": list(terms)}}}


def test_required_node_affinity_operators():
    nodes = [make_node("a", labels={"zone": "z1", "cores": "4"}),
             make_node("b", labels={"zone": "z2", "cores": "16"}),
             make_node("c", labels={"cores": "64", "spot": "yes"})]

    def where(*exprs, fields=()):
        term = {"matchExpressions": list(exprs)}
        if fields:
            term["matchFields"] = list(fields)
        ok = [n["metadata"]["name"] for n in nodes
              if not schedule([n], make_pod("p", affinity=_required(term))).startswith("FIT")]
        return ok

    assert where({"key": "zone", "operator": "In", "values": ["z1", "z2"]}) == ["a", "b"]
    assert where({"key": "zone", "operator": "NotIn", "values": ["z1"]}) == ["b", "c"]
    assert where({"key": "spot", "operator": "Exists"}) == ["c"]
    assert where({"key": "spot", "operator": "DoesNotExist"}) == ["a", "b"]
    assert where({"key": "cores", "operator": "Gt", "values": ["8"]}) == ["b", "c"]
    assert where({"key": "cores", "operator": "Lt", "values": ["8"]}) == ["a"]
    assert where({"key": "cores", "operator": "Gt", "values": ["eight"]}) == []
    assert where(fields=[{"key": "metadata.name", "operator": "In", "values": ["b"]}]) == ["b"]
    assert where({"key": "cores", "operator": "Gt", "values": ["8"]},
                 fields=[{"key": "metadata.name", "operator": "NotIn", "values": ["b"]}]) == ["c"]


def test_required_terms_are_ored_and_an_empty_term_matches_nothing():
    nodes = [make_node("a", labels={"x": "1"}), make_node("b", labels={"y": "1"})]
    t1 = {"matchExpressions": [{"key": "x", "operator": "Exists"}]}
    t2 = {"matchExpressions": [{"key": "y", "operator": "Exists"}]}
    assert schedule(nodes[1:], make_pod("p", affinity=_required(t1, t2))) == "b"
    assert schedule(nodes, make_pod("p", affinity=_required({}))).startswith("FIT")


def test_host_ports_conflict():
    nodes = [make_node("a"), make_node("b")]
    existing = (make_pod("x", host_port=8080, nodeName="a"),)
    assert schedule(nodes, make_pod("p", host_port=8080), existing=existing) == "b"
    existing += (make_pod("y", host_port=8080, nodeName="b"),)
    assert schedule(nodes, make_pod("p", host_port=8080), existing=existing) == (
        "FIT: 0/2 nodes are available: 2 node(s) didn't have free ports for the requested "
        "pod ports. " + NO_VICTIMS.format(n=2))
    assert schedule(nodes, make_pod("p", host_port=8081), existing=existing) in ("a", "b")


def test_no_nodes_at_all():
    with pytest.raises(NoNodesAvailable, match="no nodes available to schedule pods"):
        schedule([], make_pod("p"))


def test_round_robin_windows_wrap_and_still_find_the_one_node_that_fits():
    from kybernetes.scheduler.framework import CycleState
    from kybernetes.scheduler.podinfo import pod_info
    from tests.unit.scheduler.harness import build

    nodes = [make_node(f"n{i:03}", cpu="1") for i in range(300)]
    nodes[5] = make_node("n005", cpu="8")
    profile = build(nodes)
    for i in range(7):  # small pods move the round-robin start around the ring
        state = CycleState()
        profile.schedule(pod_info(make_pod(f"s{i}", cpu="100m")), state)
        assert len(state.rows) == 144  # 300 nodes: score 48%, at least 100
    starts = set()
    for i in range(5):
        profile.schedule(pod_info(make_pod(f"m{i}", cpu="100m")), CycleState())
        starts.add(profile.next_start)
        assert profile.schedule(pod_info(make_pod(f"big{i}", cpu="2")), CycleState()) == "n005"
    assert len(starts) == 5  # the one fitting node was found from five different starts
    msg = schedule(nodes, make_pod("huge", cpu="16"))
    assert msg.startswith("FIT: 0/300 nodes are available: 300 Insufficient cpu.")
