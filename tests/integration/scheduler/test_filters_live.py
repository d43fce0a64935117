"""Each filter, through a real API server: every pod has exactly one node it may use."""

from __future__ import annotations

import asyncio

from kybernetes.api.resources import PODS
from tests.integration.scheduler.conftest import add_nodes, wait_bound
from tests.unit.scheduler.objects import make_node, make_pod


async def test_each_filter_sends_its_pod_to_the_one_allowed_node(client, start_scheduler):
    # Every node but "open" is special in one way; "open" is full for the big pod.
    await add_nodes(
        client,
        make_node("open", cpu="1"),
        make_node("tainted", taints=[{"key": "dedicated", "value": "db",
                                      "effect": "NoSchedule"}]),
        make_node("ssd", labels={"disk": "ssd"}, cpu="1"),
        make_node("zone-b", labels={"zone": "b"}, cpu="1"),
        make_node("roomy", cpu="16", labels={"disk": "hdd"}),
        make_node("cordoned", unschedulable=True),
        make_node("not-ready", ready="False"))
    await client.create(PODS, make_pod("port-holder", host_port=9000, nodeName="roomy"),
                        namespace="default")
    await start_scheduler()
    db_toleration = [{"key": "dedicated", "operator": "Equal", "value": "db",
                      "effect": "NoSchedule"}]
    zone_b = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "zone", "operator": "In", "values": ["b"]}]}]}}}
    not_roomy = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["roomy", "open"]}]}]}}}
    cases = {
        "big": (make_pod("big", cpu="8"), "roomy"),
        "selector": (make_pod("selector", node_selector={"disk": "ssd"}), "ssd"),
        "affinity": (make_pod("affinity", affinity=zone_b), "zone-b"),
        # roomy's port 9000 is taken, so only "open" remains of the two allowed
        "ports": (make_pod("ports", host_port=9000, affinity=not_roomy), "open"),
        "tolerating": (make_pod("tolerating", tolerations=db_toleration,
                                affinity={"nodeAffinity": {
                                    "requiredDuringSchedulingIgnoredDuringExecution": {
                                        "nodeSelectorTerms": [{"matchFields": [{
                                            "key": "metadata.name", "operator": "In",
                                            "values": ["tainted", "cordoned",
                                                       "not-ready"]}]}]}}}),
                       "tainted"),
    }
    for pod, _ in cases.values():
        await client.create(PODS, pod, namespace="default")
    placed = await asyncio.gather(*(wait_bound(client, name) for name in cases))
    assert dict(zip(cases, placed, strict=True)) == {k: v for k, (_, v) in cases.items()}
