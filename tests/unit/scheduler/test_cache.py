"""The cache: node sums follow assumed, confirmed, forgotten and expired pods."""

from kybernetes.scheduler.cache import Cache
from kybernetes.scheduler.podinfo import pod_info
from tests.unit.scheduler.objects import make_node, make_pod


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def _bound(pod, node):
    pod["spec"]["nodeName"] = node
    return pod_info(pod)


def test_assume_then_confirm_counts_once():
    cache = Cache()
    cache.add_node(make_node("a"))
    pod = make_pod("p", cpu="500m", host_port=80)
    cache.assume_pod(pod_info(pod), "a")
    node = cache.node("a")
    assert (node.req_cpu, len(node.pods), len(node.used_ports)) == (500, 1, 1)
    cache.add_pod(_bound(pod, "a"))
    assert (node.req_cpu, len(node.pods)) == (500, 1)
    assert not cache.is_assumed("default/p")


def test_forget_undoes_an_assumption():
    cache = Cache()
    cache.add_node(make_node("a"))
    cache.assume_pod(pod_info(make_pod("p", cpu="1", host_port=80)), "a")
    cache.forget_pod("default/p")
    node = cache.node("a")
    assert (node.req_cpu, node.nz_cpu, len(node.pods), len(node.used_ports)) == (0, 0, 0, 0)


def test_a_pod_bound_elsewhere_moves_to_that_node():
    cache = Cache()
    cache.add_node(make_node("a"))
    cache.add_node(make_node("b"))
    pod = make_pod("p", cpu="1")
    cache.assume_pod(pod_info(pod), "a")
    cache.add_pod(_bound(pod, "b"))
    assert cache.node("a").req_cpu == 0 and cache.node("b").req_cpu == 1000


def test_assumptions_expire_after_binding_finished():
    clock = Clock()
    cache = Cache(ttl=30, clock=clock)
    cache.add_node(make_node("a"))
    cache.assume_pod(pod_info(make_pod("p", cpu="1")), "a")
    clock.now = 100
    assert cache.cleanup_expired() == []  # binding not finished: never expires
    cache.finish_binding("default/p")
    clock.now = 129
    assert cache.cleanup_expired() == []
    clock.now = 131
    assert cache.cleanup_expired() == ["default/p"]
    assert cache.node("a").req_cpu == 0


def test_pods_on_unknown_nodes_count_when_the_node_arrives():
    cache = Cache()
    cache.add_pod(_bound(make_pod("p", cpu="1"), "late"))
    assert cache.nodes() == []
    cache.add_node(make_node("late"))
    assert cache.node("late").req_cpu == 1000 and len(cache) == 1
    cache.remove_node("late")
    assert cache.node("late") is None and cache.nodes() == []
    cache.remove_pod("default/p")
    assert not cache.has_pod("default/p")


def test_node_updates_keep_the_pod_sums():
    cache = Cache()
    cache.add_node(make_node("a", cpu="2"))
    cache.add_pod(_bound(make_pod("p", cpu="1"), "a"))
    cache.update_node(make_node("a", cpu="8", labels={"x": "y"}))
    node = cache.node("a")
    assert (node.alloc_cpu, node.req_cpu, node.labels["x"]) == (8000, 1000, "y")


def test_the_node_table_follows_every_change():
    cache = Cache()
    for name in ("b", "a", "c"):
        cache.add_node(make_node(name, cpu="2"))
    table = cache.table()
    assert [n.name for n in cache.nodes()] == ["a", "b", "c"]

    def row(name):
        node = cache.node(name)
        return dict(zip(("alloc_cpu", "req_cpu", "nz_cpu", "npods"),
                        (int(table.alloc_cpu[node.row]), int(table.req_cpu[node.row]),
                         int(table.nz_cpu[node.row]), int(table.npods[node.row])), strict=True))

    cache.assume_pod(pod_info(make_pod("p", cpu="500m")), "b")
    assert row("b") == {"alloc_cpu": 2000, "req_cpu": 500, "nz_cpu": 500, "npods": 1}
    cache.forget_pod("default/p")
    assert row("b")["req_cpu"] == 0 and row("b")["npods"] == 0
    cache.add_pod(_bound(make_pod("q"), "c"))
    assert row("c") == {"alloc_cpu": 2000, "req_cpu": 0, "nz_cpu": 100, "npods": 1}
    cache.update_node(make_node("c", cpu="8"))
    assert row("c")["alloc_cpu"] == 8000
    cache.add_node(make_node("aa"))  # a new node: a new table, rows renumbered
    table = cache.table()
    assert [n.row for n in cache.nodes()] == [0, 1, 2, 3] and row("c")["npods"] == 1


def test_label_domain_counts_follow_pods_and_node_labels():
    zone = "topology.kubernetes.io/zone"
    cache = Cache()
    for name, z in (("a", "z1"), ("b", "z1"), ("c", "z2")):
        cache.add_node(make_node(name, labels={zone: z}))
    cache.add_pod(pod_info(make_pod("w1", labels={"app": "web"}, nodeName="a")))
    assert cache.label_domain_counts("default", "app", "web", zone) == {"z1": 1}
    cache.add_pod(pod_info(make_pod("w2", labels={"app": "web"}, nodeName="c")))
    cache.assume_pod(pod_info(make_pod("w3", labels={"app": "web"})), "b")
    cache.add_pod(pod_info(make_pod("other", labels={"app": "db"}, nodeName="c")))
    cache.add_pod(pod_info(make_pod("elsewhere", namespace="x", labels={"app": "web"},
                                    nodeName="c")))
    assert cache.label_domain_counts("default", "app", "web", zone) == {"z1": 2, "z2": 1}
    cache.remove_pod("default/w1")
    cache.forget_pod("default/w3")
    assert cache.label_domain_counts("default", "app", "web", zone) == {"z2": 1}
    cache.update_node(make_node("c", labels={zone: "z3"}))  # relabelled: counted afresh
    assert cache.label_domain_counts("default", "app", "web", zone) == {"z3": 1}
