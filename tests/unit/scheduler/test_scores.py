"""Each score prefers the nodes it should; weights and config change the outcome."""

from kybernetes.api.resources import REPLICA_SETS, REPLICATION_CONTROLLERS, SERVICES
from kybernetes.scheduler.framework import CycleState
from kybernetes.scheduler.podinfo import pod_info
from tests.unit.scheduler.harness import build, decide, schedule
from tests.unit.scheduler.objects import make_node, make_pod


def test_least_allocated_prefers_the_emptier_node():
    nodes = [make_node("busy", cpu="4"), make_node("idle", cpu="4")]
    existing = (make_pod("x", cpu="3", memory="1Gi", nodeName="busy"),)
    for seed in range(5):
        assert schedule(nodes, make_pod("p", cpu="100m"), existing=existing, seed=seed) == "idle"


def test_most_allocated_packs_when_configured():
    nodes = [make_node("busy", cpu="4"), make_node("idle", cpu="4")]
    existing = (make_pod("x", cpu="3", memory="16Gi", nodeName="busy"),)
    config = {"profiles": [{"pluginConfig": [{"name": "NodeResourcesFit", "args": {
        "scoringStrategy": {"type": "MostAllocated"}}}],
        "plugins": {"score": {"disabled": [{"name": "NodeResourcesBalancedAllocation"}]}}}]}
    assert schedule(nodes, make_pod("p", cpu="100m"), existing=existing,
                    config=config) == "busy"


def test_least_allocated_score_values():
    profile = build([make_node("n", cpu="4", memory="4Gi")])
    fit = profile.plugins["NodeResourcesFit"]
    node = profile.handle.cache.node("n")
    # cpu (4000-1000)/4000 -> 75; memory (4Gi-1Gi)/4Gi -> 75
    assert fit.score(CycleState(), pod_info(make_pod("p", cpu="1", memory="1Gi")), node) == 75
    # no requests count as 100m / 200Mi: cpu 97, memory 95 -> 96
    assert fit.score(CycleState(), pod_info(make_pod("p")), node) == 96


def test_balanced_allocation_prefers_even_use():
    nodes = [make_node("cpu-heavy", cpu="4", memory="4Gi"),
             make_node("even", cpu="4", memory="4Gi")]
    existing = (make_pod("x", cpu="2", nodeName="cpu-heavy"),
                make_pod("y", cpu="1", memory="1Gi", nodeName="even"))
    config = {"profiles": [{"plugins": {"score": {"disabled": [{"name": "NodeResourcesFit"}]}}}]}
    assert schedule(nodes, make_pod("p", cpu="1", memory="1Gi"), existing=existing,
                    config=config) == "even"
    profile = build(nodes, existing=existing)
    balanced = profile.plugins["NodeResourcesBalancedAllocation"]
    pod = pod_info(make_pod("p", cpu="1", memory="1Gi"))
    # cpu-heavy: fractions 0.75 / 0.25 -> std 0.25 -> 75; even: 0.5 / 0.5 -> 100
    assert balanced.score(CycleState(), pod, profile.handle.cache.node("cpu-heavy")) == 75
    assert balanced.score(CycleState(), pod, profile.handle.cache.node("even")) == 100


def test_preferred_node_affinity_wins_over_resources():
    nodes = [make_node("a"), make_node("b", labels={"fast": "yes"})]
    existing = (make_pod("x", cpu="2", memory="8Gi", nodeName="b"),)
    affinity = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "preference": {"matchExpressions": [
            {"key": "fast", "operator": "In", "values": ["yes"]}]}}]}}
    assert schedule(nodes, make_pod("p", affinity=affinity), existing=existing) == "b"


def test_prefer_no_schedule_taint_is_avoided():
    nodes = [make_node("a", taints=[{"key": "k", "effect": "PreferNoSchedule"}]),
             make_node("b")]
    existing = (make_pod("x", cpu="1", memory="4Gi", nodeName="b"),)
    assert schedule(nodes, make_pod("p"), existing=existing) == "b"
    tol = [{"key": "k", "operator": "Exists"}]
    assert schedule(nodes, make_pod("p", tolerations=tol), existing=existing) == "a"


def _rc(name, selector):
    return {"metadata": {"name": name, "namespace": "default"}, "spec": {"selector": selector}}


def test_replicas_of_an_rc_spread_across_nodes():
    nodes = [make_node(f"n{i}") for i in range(3)]
    owner = {"apiVersion": "v1", "kind": "ReplicationController", "name": "web",
             "controller": True}
    objects = {REPLICATION_CONTROLLERS: [_rc("web", {"app": "web"})]}
    profile = build(nodes, objects=objects)
    placed = []
    for i in range(6):
        pod = make_pod(f"web-{i}", labels={"app": "web"}, owner=owner)
        node = decide(profile, pod)
        pod["spec"]["nodeName"] = node
        profile.handle.cache.add_pod(pod_info(pod))
        placed.append(node)
    assert sorted(placed) == ["n0", "n0", "n1", "n1", "n2", "n2"]


def test_spreading_ignores_other_namespaces_and_unrelated_pods():
    nodes = [make_node("a"), make_node("b")]
    existing = (make_pod("w1", labels={"app": "web"}, nodeName="a"),
                make_pod("w2", labels={"app": "web"}, namespace="other", nodeName="b"),
                make_pod("z", labels={"app": "db"}, nodeName="b"))
    svc = {"metadata": {"name": "web", "namespace": "default"},
           "spec": {"selector": {"app": "web"}}}
    for seed in range(5):
        assert schedule(nodes, make_pod("p", labels={"app": "web"}), existing=existing,
                        objects={SERVICES: [svc]}, seed=seed) == "b"


def test_replicaset_selector_and_zones():
    nodes = [make_node("a1", labels={"topology.kubernetes.io/zone": "z1"}),
             make_node("a2", labels={"topology.kubernetes.io/zone": "z1"}),
             make_node("b1", labels={"topology.kubernetes.io/zone": "z2"})]
    rs = {"metadata": {"name": "api", "namespace": "default"},
          "spec": {"selector": {"matchLabels": {"app": "api"}}}}
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api", "controller": True}
    existing = (make_pod("x", labels={"app": "api"}, nodeName="a1"),)
    # a2 has no replica but shares zone z1 with a1; b1 is in an empty zone.
    for seed in range(5):
        assert schedule(nodes, make_pod("p", labels={"app": "api"}, owner=owner),
                        existing=existing, objects={REPLICA_SETS: [rs]}, seed=seed) == "b1"


def test_ties_are_broken_at_random():
    nodes = [make_node(f"n{i}") for i in range(4)]
    chosen = {schedule(nodes, make_pod("p"), seed=seed) for seed in range(40)}
    assert chosen == {"n0", "n1", "n2", "n3"}


def test_score_weights_come_from_the_config():
    nodes = [make_node("a", labels={"fast": "yes"}), make_node("b")]
    existing = (make_pod("x", cpu="3", memory="24Gi", nodeName="a"),)
    affinity = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "preference": {"matchExpressions": [
            {"key": "fast", "operator": "Exists"}]}}]}}
    pod = make_pod("p", cpu="100m", affinity=affinity)
    assert schedule(nodes, pod, existing=existing) == "a"
    config = {"profiles": [{"plugins": {"score": {"enabled": [
        {"name": "NodeResourcesFit", "weight": 10}]}}}]}
    assert schedule(nodes, pod, existing=existing, config=config) == "b"


def test_batch_paths_agree_with_the_per_node_paths():
    nodes = [make_node(f"n{i}", cpu=c, memory=m, pods=p) for i, (c, m, p) in enumerate(
        [("1", "1Gi", 3), ("2", "8Gi", 110), ("500m", "64Mi", 1), ("4", "32Gi", 2)])]
    existing = (make_pod("a", cpu="900m", memory="100Mi", nodeName="n0"),
                make_pod("b", cpu="3", nodeName="n1"),  # overcommitted
                make_pod("c", memory="1Gi", nodeName="n2"),
                make_pod("d", nodeName="n3"), make_pod("e", nodeName="n3"))
    profile = build(nodes, existing=existing)
    infos = [profile.handle.cache.node(n["metadata"]["name"]) for n in nodes]
    for pod in (make_pod("p"), make_pod("p", cpu="200m", memory="1Gi"), make_pod("p", cpu="3")):
        info = pod_info(pod)
        for name in ("NodeResourcesFit", "NodeResourcesBalancedAllocation"):
            plugin = profile.plugins[name]
            assert list(plugin.score_nodes(CycleState(), info, infos)) == \
                [plugin.score(CycleState(), info, n) for n in infos]
        fit = profile.plugins["NodeResourcesFit"]
        expected = {i: s for i, n in enumerate(infos)
                    if (s := fit.filter(CycleState(), info, n)) is not None}
        assert fit.filter_nodes(CycleState(), info, infos) == expected
        assert expected  # each pod is rejected somewhere
