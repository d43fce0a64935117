"""The scheduler against a real API server: binding, events, conditions, retries."""

from __future__ import annotations

import asyncio

from kybernetes.api.resources import EVENTS, PODS, REPLICATION_CONTROLLERS
from tests.integration.scheduler.conftest import add_nodes, node_of, wait_bound
from tests.support.poll import eventually
from tests.unit.scheduler.objects import make_node, make_pod

UNSCHEDULABLE_CPU = ("0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are "
                     "available: 2 No preemption victims found for incoming pod.")


async def _events(client, pod: str, reason: str) -> list[dict]:
    items = (await client.list(EVENTS, namespace="default"))["items"]
    return [e for e in items
            if e["involvedObject"].get("name") == pod and e["reason"] == reason]


async def _condition(client, pod: str) -> dict | None:
    obj = await client.get(PODS, pod, namespace="default")
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c["type"] == "PodScheduled":
            return c
    return None


async def test_pod_is_bound_where_it_fits_with_a_scheduled_event(client, start_scheduler):
    await add_nodes(client, make_node("small", cpu="500m"), make_node("big", cpu="4"))
    await start_scheduler()
    await client.create(PODS, make_pod("web", cpu="1"), namespace="default")
    assert await wait_bound(client, "web") == "big"
    (event,) = await eventually(lambda: _events(client, "web", "Scheduled"), what="event")
    assert event["type"] == "Normal"
    assert event["message"] == "Successfully assigned default/web to big"
    assert event["source"]["component"] == "default-scheduler"


async def test_unschedulable_pod_gets_condition_and_event(client, start_scheduler):
    await add_nodes(client, make_node("a", cpu="1"), make_node("b", cpu="1"))
    await start_scheduler()
    await client.create(PODS, make_pod("huge", cpu="2"), namespace="default")
    condition = await eventually(lambda: _condition(client, "huge"), what="PodScheduled")
    assert (condition["status"], condition["reason"]) == ("False", "Unschedulable")
    assert condition["message"] == UNSCHEDULABLE_CPU
    (event,) = await eventually(lambda: _events(client, "huge", "FailedScheduling"), what="event")
    assert (event["type"], event["message"]) == ("Warning", UNSCHEDULABLE_CPU)
    assert await node_of(client, "huge") is None


async def test_pending_pod_is_scheduled_when_a_node_is_added(client, start_scheduler):
    await add_nodes(client, make_node("a", cpu="1"))
    scheduler = await start_scheduler()
    await client.create(PODS, make_pod("p", cpu="2"), namespace="default")
    await eventually(lambda: _condition(client, "p"), what="Unschedulable")
    await eventually(lambda: scheduler.queue.lengths()["unschedulable"] == 1)
    await add_nodes(client, make_node("bigger", cpu="4"))
    assert await wait_bound(client, "p", within=5) == "bigger"



async def test_pending_pod_is_scheduled_when_a_pod_is_deleted(client, start_scheduler):
    await add_nodes(client, make_node("a", cpu="1"))
    await start_scheduler()
    await client.create(PODS, make_pod("first", cpu="800m"), namespace="default")
    await wait_bound(client, "first")
    await client.create(PODS, make_pod("second", cpu="800m"), namespace="default")
    await eventually(lambda: _condition(client, "second"), what="Unschedulable")
    await client.delete(PODS, "first", namespace="default", grace_period_seconds=0)
    assert await wait_bound(client, "second", within=5) == "a"


async def test_replicas_of_an_rc_land_on_different_nodes(client, start_scheduler):
    await add_nodes(client, *(make_node(f"n{i}") for i in range(3)))
    rc = await client.create(REPLICATION_CONTROLLERS, {
        "apiVersion": "v1", "kind": "ReplicationController",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 3, "selector": {"app": "web"}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}},
        namespace="default")
    await start_scheduler()
    owner = {"apiVersion": "v1", "kind": "ReplicationController", "name": "web",
             "uid": rc["metadata"]["uid"], "controller": True}
    # One at a time, so each decision sees the previous ones, as with an RC's slow start.
    for i in range(3):
        await client.create(PODS, make_pod(f"web-{i}", labels={"app": "web"}, owner=owner),
                            namespace="default")
        await wait_bound(client, f"web-{i}")
    nodes = {await node_of(client, f"web-{i}") for i in range(3)}
    assert nodes == {"n0", "n1", "n2"}


async def test_pods_of_other_schedulers_or_with_a_node_are_left_alone(client, start_scheduler):
    await add_nodes(client, make_node("a"))
    scheduler = await start_scheduler()
    await client.create(PODS, make_pod("mine"), namespace="default")
    await client.create(PODS, make_pod("theirs", scheduler_name="other"), namespace="default")
    await client.create(PODS, make_pod("pinned", nodeName="elsewhere"), namespace="default")
    await wait_bound(client, "mine")
    await asyncio.sleep(0.3)
    assert await node_of(client, "theirs") is None
    assert await node_of(client, "pinned") == "elsewhere"
    assert await _events(client, "theirs", "FailedScheduling") == []
    assert scheduler.cache.has_pod("default/pinned")


async def test_profiles_schedule_by_scheduler_name(client, start_scheduler):
    await add_nodes(client, make_node("busy", cpu="4"), make_node("idle", cpu="4"))
    await client.create(PODS, make_pod("load", cpu="3", memory="24Gi", nodeName="busy"),
                        namespace="default")
    config = {"profiles": [
        {"schedulerName": "default-scheduler"},
        {"schedulerName": "packer",
         "plugins": {"score": {"disabled": [{"name": "NodeResourcesBalancedAllocation"}]}},
         "pluginConfig": [{"name": "NodeResourcesFit",
                           "args": {"scoringStrategy": {"type": "MostAllocated"}}}]}]}
    await start_scheduler(config)
    await client.create(PODS, make_pod("spread", cpu="100m"), namespace="default")
    await client.create(PODS, make_pod("packed", cpu="100m", scheduler_name="packer"),
                        namespace="default")
    assert await wait_bound(client, "spread") == "idle"
    assert await wait_bound(client, "packed") == "busy"
    (event,) = await eventually(lambda: _events(client, "packed", "Scheduled"), what="event")
    assert event["source"]["component"] == "packer"


async def test_a_finished_pod_frees_its_node(client, start_scheduler):
    await add_nodes(client, make_node("a", cpu="1"))
    await client.create(PODS, make_pod("job", cpu="800m", nodeName="a"), namespace="default")
    scheduler = await start_scheduler()
    await client.create(PODS, make_pod("next", cpu="800m"), namespace="default")
    await eventually(lambda: _condition(client, "next"), what="Unschedulable")
    job = await client.get(PODS, "job", namespace="default")
    job["status"] = {**(job.get("status") or {}), "phase": "Succeeded"}
    await client.update_status(PODS, job)
    assert await wait_bound(client, "next", within=5) == "a"
    assert not scheduler.cache.has_pod("default/job")
