"""Preemption through a real API server: a high-priority pod evicts a lower-priority one
(DisruptionTarget condition, Preempted event, delete), is nominated, then bound."""

from __future__ import annotations

from kybernetes.api.resources import EVENTS, PODS, PRIORITY_CLASSES
from tests.integration.scheduler.conftest import add_nodes, node_of, wait_bound
from tests.support.poll import eventually
from tests.unit.scheduler.objects import make_node, make_pod


async def test_high_priority_pod_preempts_the_lowest(client, start_scheduler):
    for name, value in (("low", 10), ("high", 1000)):
        await client.create(PRIORITY_CLASSES, {
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value})
    await add_nodes(client, make_node("a", cpu="2"))
    await start_scheduler()
    for name in ("filler-1", "filler-2"):
        await client.create(PODS, make_pod(name, cpu="1", priorityClassName="low"),
                            namespace="default")
        assert await wait_bound(client, name) == "a"
    await client.create(PODS, make_pod("vip", cpu="1", priorityClassName="high"),
                        namespace="default")

    async def victim() -> str | None:
        for name in ("filler-1", "filler-2"):
            pod = await client.get(PODS, name, namespace="default")
            if any(c["type"] == "DisruptionTarget" for c in
                   (pod.get("status") or {}).get("conditions") or ()):
                return name
        return None

    chosen = await eventually(victim, what="a victim marked")
    pod = await client.get(PODS, chosen, namespace="default")
    (condition,) = [c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert (condition["status"], condition["reason"]) == ("True", "PreemptionByScheduler")
    assert condition["message"] == \
        "default-scheduler: preempting to accommodate a higher priority pod"
    vip = await eventually(lambda: _nominated(client), what="vip nominated")
    assert vip == "a"
    # no kubelet runs here: the victim's graceful delete is finished by hand
    await client.delete(PODS, chosen, namespace="default", grace_period_seconds=0)
    assert await wait_bound(client, "vip", within=15) == "a"
    events = (await client.list(EVENTS, namespace="default"))["items"]
    preempted = [e for e in events if e["reason"] == "Preempted"]
    vip_uid = (await client.get(PODS, "vip", namespace="default"))["metadata"]["uid"]
    assert [(e["involvedObject"]["name"], e["message"]) for e in preempted] == \
        [(chosen, f"Preempted by pod {vip_uid} on node a")]
    survivor = "filler-2" if chosen == "filler-1" else "filler-1"
    assert await node_of(client, survivor) == "a"


async def _nominated(client) -> str | None:
    pod = await client.get(PODS, "vip", namespace="default")
    return (pod.get("status") or {}).get("nominatedNodeName")
