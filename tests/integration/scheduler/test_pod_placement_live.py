"""Pods placed by other pods, through a real API server: anti-affinity, affinity that
waits for its partner, and zone spreading."""

from __future__ import annotations

from typing import Any

from kybernetes.api.resources import PODS
from tests.integration.scheduler.conftest import add_nodes, node_of, wait_bound
from tests.support.poll import eventually
from tests.unit.scheduler.objects import make_node, make_pod

HOST, ZONE = "kubernetes.io/hostname", "topology.kubernetes.io/zone"


def _required(kind: str, key: str, app: str) -> dict[str, Any]:
    return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": key, "labelSelector": {"matchLabels": {"app": app}}}]}}


async def _scheduled_condition(client, pod: str) -> dict | None:
    obj = await client.get(PODS, pod, namespace="default")
    return next((c for c in (obj.get("status") or {}).get("conditions") or ()
                 if c["type"] == "PodScheduled" and c["status"] == "False"), None)


async def test_anti_affinity_one_per_node_and_the_third_waits(client, start_scheduler):
    await add_nodes(client, make_node("a"), make_node("b"))
    scheduler = await start_scheduler()
    anti = _required("podAntiAffinity", HOST, "web")
    for i in range(3):
        await client.create(PODS, make_pod(f"web-{i}", labels={"app": "web"}, affinity=anti),
                            namespace="default")
    await eventually(lambda: scheduler.queue.lengths()["unschedulable"] == 1, what="parked")
    placed = {name: await node_of(client, name) for name in (f"web-{i}" for i in range(3))}
    (pending,) = [n for n, node in placed.items() if node is None]
    assert sorted(node for node in placed.values() if node) == ["a", "b"]
    # the pod is parked before its PodScheduled=False status write lands
    condition = await eventually(lambda: _scheduled_condition(client, pending), what="condition")
    message = condition["message"]
    assert message.startswith("0/2 nodes are available: 2 node(s) didn't match pod "
                              "anti-affinity rules.")
    # a node joins: the waiting replica takes it
    await add_nodes(client, make_node("c"))
    assert await wait_bound(client, pending) == "c"


async def test_affinity_waits_for_its_partner_then_follows_it(client, start_scheduler):
    await add_nodes(client, make_node("a"), make_node("b"))
    scheduler = await start_scheduler()
    follower = make_pod("follower", affinity=_required("podAffinity", HOST, "cache"))
    await client.create(PODS, follower, namespace="default")
    await eventually(lambda: scheduler.queue.lengths()["unschedulable"] == 1, what="parked")
    # the partner is bound to b (no node event): the bound pod's arrival moves the
    # follower back long before the 60 s flush
    await client.create(PODS, make_pod("cache", labels={"app": "cache"}, nodeName="b"),
                        namespace="default")
    assert await wait_bound(client, "follower", within=8) == "b"


async def test_zone_spread_with_do_not_schedule(client, start_scheduler):
    await add_nodes(client, *(make_node(n, labels={ZONE: z}) for n, z in
                              (("a1", "z1"), ("a2", "z1"), ("a3", "z1"), ("b1", "z2"))))
    await start_scheduler()
    spread = [{"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "api"}}}]
    names = [f"api-{i}" for i in range(4)]
    for name in names:  # one at a time, so each decision sees the previous ones
        await client.create(PODS, make_pod(name, labels={"app": "api"},
                                           topologySpreadConstraints=spread),
                            namespace="default")
        await wait_bound(client, name)
    zones = {"a1": "z1", "a2": "z1", "a3": "z1", "b1": "z2"}
    placed = [zones[await node_of(client, n)] for n in names]
    assert sorted(placed) == ["z1", "z1", "z2", "z2"]
