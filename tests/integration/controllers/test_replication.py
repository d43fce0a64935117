"""The replication controller against a real API server."""

from __future__ import annotations

import asyncio

from kybernetes.api.resources import PODS, REPLICA_SETS, REPLICATION_CONTROLLERS
from kybernetes.client import ApiClient
from kybernetes.controllers.replication import ReplicationControllerManager
from tests.integration.controllers.helpers import pod, pods_of, rc, running, set_pod_status
from tests.support.poll import eventually


async def _count(client: ApiClient, selector: str, n: int, ns: str) -> list[dict]:
    async def check() -> list[dict] | None:
        pods = await pods_of(client, selector, ns)
        return pods if len(pods) == n else None
    return await eventually(check, what=f"{n} pods for {selector}")


async def test_rc_creates_pods_from_its_template_and_replaces_deleted_ones(
        client: ApiClient, ns: str) -> None:
    async with running(client, "replicationcontroller"):
        owner = await client.create(REPLICATION_CONTROLLERS, rc("web", 3, namespace=ns))
        pods = await _count(client, "app=web", 3, ns)
        for p in pods:
            assert p["metadata"]["name"].startswith("web-")
            assert p["metadata"]["generateName"] == "web-"
            [ref] = p["metadata"]["ownerReferences"]
            assert ref == {"apiVersion": "v1", "kind": "ReplicationController", "name": "web",
                           "uid": owner["metadata"]["uid"], "controller": True,
                           "blockOwnerDeletion": True}
        victim = pods[0]["metadata"]["name"]
        await client.delete(PODS, victim, namespace=ns)
        after = await _count(client, "app=web", 3, ns)
        assert victim not in {p["metadata"]["name"] for p in after}

        async def status_says_three() -> dict | None:
            got = await client.get(REPLICATION_CONTROLLERS, "web", namespace=ns)
            status = got.get("status") or {}
            return status if status.get("replicas") == 3 and status.get(
                "observedGeneration") == got["metadata"]["generation"] else None
        status = await eventually(status_says_three, what="status.replicas == 3")
        assert status["fullyLabeledReplicas"] == 3


async def test_scale_up_and_down(client: ApiClient, ns: str) -> None:
    async with running(client, "replicationcontroller"):
        await client.create(REPLICATION_CONTROLLERS, rc("scale", 2, namespace=ns))
        await _count(client, "app=scale", 2, ns)
        await client.patch(REPLICATION_CONTROLLERS, "scale", {"spec": {"replicas": 6}},
                           namespace=ns)
        await _count(client, "app=scale", 6, ns)
        await client.patch(REPLICATION_CONTROLLERS, "scale", {"spec": {"replicas": 1}},
                           namespace=ns)
        await _count(client, "app=scale", 1, ns)


async def test_pod_whose_labels_stop_matching_is_released_and_replaced(
        client: ApiClient, ns: str) -> None:
    async with running(client, "replicationcontroller"):
        await client.create(REPLICATION_CONTROLLERS, rc("rel", 2, namespace=ns))
        pods = await _count(client, "app=rel", 2, ns)
        name = pods[0]["metadata"]["name"]
        await client.patch(PODS, name, {"metadata": {"labels": {"app": "debug"}}},
                           namespace=ns)

        async def released() -> bool:
            got = await client.get(PODS, name, namespace=ns)
            return not got["metadata"].get("ownerReferences")
        await eventually(released, what="the relabelled pod to lose its ownerReference")
        await _count(client, "app=rel", 2, ns)
        assert len(await pods_of(client, "app=debug", ns)) == 1


async def test_matching_orphan_is_adopted_and_surplus_deleted(client: ApiClient, ns: str) -> None:
    async with running(client, "replicationcontroller"):
        owner = await client.create(REPLICATION_CONTROLLERS, rc("adopt", 2, namespace=ns))
        await _count(client, "app=adopt", 2, ns)
        await client.create(PODS, pod("manual", {"app": "adopt"}, namespace=ns))
        pods = await _count(client, "app=adopt", 2, ns)
        for p in pods:
            assert p["metadata"]["ownerReferences"][0]["uid"] == owner["metadata"]["uid"]
        # The unassigned manual pod is no more valuable than the others; any may go,
        # but exactly one did and the RC owns every survivor.


async def test_never_creates_more_while_its_watch_is_slow(client: ApiClient, ns: str) -> None:
    async with running(client, "replicationcontroller") as manager:
        controller = manager.controllers["replicationcontroller"]
        assert isinstance(controller, ReplicationControllerManager)
        pods_informer = controller.pods
        pods_informer.pause()  # pod events stop reaching the controller
        await client.create(REPLICATION_CONTROLLERS, rc("slow", 5, namespace=ns))
        await eventually(lambda: pods_of(client, "app=slow", ns), what="first pods")
        for _ in range(30):  # many syncs while it cannot see its own pods
            controller.queue.add(f"{ns}/slow")
            await asyncio.sleep(0.02)
        assert len(await pods_of(client, "app=slow", ns)) == 5
        pods_informer.resume()
        await asyncio.sleep(0.3)
        assert len(await pods_of(client, "app=slow", ns)) == 5


async def test_rapid_scale_changes_never_overshoot(client: ApiClient, ns: str) -> None:
    async with running(client, "replicationcontroller"):
        await client.create(REPLICATION_CONTROLLERS, rc("rapid", 1, namespace=ns))
        peak = 0
        stop = asyncio.Event()

        async def watch_peak() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, len(await pods_of(client, "app=rapid", ns)))
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch_peak())
        for replicas in (8, 2, 7, 3, 8, 4):
            await client.patch(REPLICATION_CONTROLLERS, "rapid",
                               {"spec": {"replicas": replicas}}, namespace=ns)
            await asyncio.sleep(0.05)
        await _count(client, "app=rapid", 4, ns)
        await asyncio.sleep(0.3)
        stop.set()
        await watcher
        assert len(await pods_of(client, "app=rapid", ns)) == 4
        assert peak <= 8


async def test_ready_and_available_replicas_follow_pod_readiness(
        client: ApiClient, ns: str) -> None:
    async with running(client, "replicationcontroller"):
        await client.create(REPLICATION_CONTROLLERS, rc("ready", 2, namespace=ns))
        pods = await _count(client, "app=ready", 2, ns)
        for i, p in enumerate(pods):
            await set_pod_status(client, p, ready=True, ip=f"10.9.0.{i + 1}")

        async def ready_two() -> dict | None:
            got = await client.get(REPLICATION_CONTROLLERS, "ready", namespace=ns)
            status = got.get("status") or {}
            ok = status.get("readyReplicas") == 2 and status.get("availableReplicas") == 2
            return status if ok else None
        await eventually(ready_two, what="readyReplicas == availableReplicas == 2")


async def test_replicaset_with_set_based_selector(client: ApiClient, ns: str) -> None:
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
          "metadata": {"name": "front", "namespace": ns},
          "spec": {"replicas": 3,
                   "selector": {"matchExpressions": [
                       {"key": "tier", "operator": "In", "values": ["front", "edge"]}]},
                   "template": {"metadata": {"labels": {"tier": "front"}},
                                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    async with running(client, "replicaset"):
        owner = await client.create(REPLICA_SETS, rs)
        pods = await _count(client, "tier=front", 3, ns)
        assert all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet" for p in pods)
        assert pods[0]["metadata"]["ownerReferences"][0]["uid"] == owner["metadata"]["uid"]
