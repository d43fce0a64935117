"""Node lifecycle (lost nodes, taints, eviction) and node IPAM."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from kybernetes.api import errors
from kybernetes.api.meta import now_rfc3339, now_rfc3339_micro
from kybernetes.api.resources import EVENTS, LEASES, NODES, PODS, REPLICATION_CONTROLLERS
from kybernetes.client import ApiClient
from kybernetes.controllers.manager import Options
from tests.integration.controllers.helpers import (
    create_node,
    pod,
    pods_of,
    rc,
    running,
    set_pod_status,
)
from tests.support.apiserver import ApiServer, connected
from tests.support.background import in_background
from tests.support.poll import eventually

FAST = Options(node_monitor_grace_period=1.5, node_monitor_period=0.2,
               pod_eviction_timeout=1.0)


@contextlib.asynccontextmanager
async def heartbeats(client: ApiClient, alive: set[str]) -> AsyncIterator[None]:
    """Renew the node Lease of every node named in `alive` (a live set), as kubelets do."""
    async def beat() -> None:
        while True:
            for name in list(alive):
                lease: dict[str, Any] = {
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": name, "namespace": "kube-node-lease"},
                    "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                             "renewTime": now_rfc3339_micro()}}
                try:
                    current = await client.get(LEASES, name, namespace="kube-node-lease")
                    lease["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                    await client.update(LEASES, lease)
                except errors.NotFound:  # the first beat creates it
                    await client.create(LEASES, lease)
            await asyncio.sleep(0.2)
    async with in_background(beat()):
        yield


def _ready(node: dict) -> dict:
    return next(c for c in node["status"]["conditions"] if c["type"] == "Ready")


def _taints(node: dict) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in node.get("spec", {}).get("taints") or []}


async def test_lost_node_is_fenced_and_its_pods_move(client: ApiClient, ns: str) -> None:
    dead, live = f"{ns}-dead", f"{ns}-live"
    alive = {dead, live}
    await create_node(client, dead)
    await create_node(client, live)
    async with heartbeats(client, alive), running(
            client, "replicationcontroller", "nodelifecycle", options=FAST):
        # Two running pods on `dead`, adopted by an RC (as if it had made them).
        pods = []
        for name in ("web-1", "web-2"):
            created = await client.create(PODS, pod(name, {"app": "web"}, node=dead,
                                                    namespace=ns))
            pods.append(await set_pod_status(client, created, ready=True, ip="10.2.0.1"))
        await client.create(REPLICATION_CONTROLLERS, rc("web", 2, namespace=ns))

        async def adopted() -> bool:
            got = [await client.get(PODS, p["metadata"]["name"], namespace=ns) for p in pods]
            return all(p["metadata"].get("ownerReferences") for p in got)
        await eventually(adopted, what="pods adopted")
        old = {p["metadata"]["name"] for p in pods}
        await asyncio.sleep(0.5)
        assert _ready(await client.get(NODES, dead))["status"] == "True"

        alive.discard(dead)  # the kubelet of `dead` stops

        async def unknown() -> dict | None:
            node = await client.get(NODES, dead)
            return node if _ready(node)["status"] == "Unknown" else None
        node = await eventually(unknown, what="node Ready=Unknown")
        assert _ready(node)["reason"] == "NodeStatusUnknown"
        assert _ready(node)["message"] == "Kubelet stopped posting node status."

        async def fenced() -> bool:
            node = await client.get(NODES, dead)
            return _taints(node) == {("node.kubernetes.io/unreachable", "NoSchedule"),
                                     ("node.kubernetes.io/unreachable", "NoExecute")}
        await eventually(fenced, what="unreachable taints")

        async def replaced() -> list[dict] | None:
            active = await pods_of(client, "app=web", ns)
            fresh = [p for p in active if p["metadata"]["name"] not in old]
            return fresh if len(fresh) == 2 and len(active) == 2 else None
        fresh = await eventually(replaced, what="pods evicted and replaced")
        assert all(p["spec"].get("nodeName") != dead for p in fresh)
        for name in old:  # no traffic to them any more
            evicted = await client.get(PODS, name, namespace=ns)
            assert _ready(evicted)["status"] == "False"
            assert evicted["metadata"]["deletionTimestamp"]
        assert _taints(await client.get(NODES, live)) == set()

        # The kubelet comes back: Ready again, taints removed.
        alive.add(dead)
        back = await client.get(NODES, dead)
        _ready(back).update(status="True", reason="KubeletReady",
                            lastHeartbeatTime=now_rfc3339())
        await client.update_status(NODES, back)

        async def untainted() -> bool:
            return _taints(await client.get(NODES, dead)) == set()
        await eventually(untainted, what="taints removed")


async def test_pod_tolerating_unreachable_stays_until_its_toleration_ends(
        client: ApiClient, ns: str) -> None:
    node = f"{ns}-n"
    await create_node(client, node)
    spec = {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}],
            "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 3}]}
    await client.create(PODS, {"metadata": {"name": "patient", "namespace": ns}, "spec": spec})
    await client.create(PODS, {"metadata": {"name": "plain", "namespace": ns},
                               "spec": {**spec, "tolerations": []}})
    async with running(client, "nodelifecycle", options=FAST):
        async def deleting(name: str) -> bool:
            pod = await client.get(PODS, name, namespace=ns)
            return bool(pod["metadata"].get("deletionTimestamp"))
        await eventually(lambda: deleting("plain"), what="plain pod evicted")
        assert not await deleting("patient")
        await eventually(lambda: deleting("patient"), within=6, what="patient pod evicted")


async def test_node_ipam_gives_distinct_cidrs_stable_across_restarts(
        client: ApiClient, ns: str) -> None:
    options = Options(cluster_cidr=ipaddress.ip_network("10.77.0.0/16"))
    names = [f"{ns}-ipam-{i}" for i in range(3)]

    async def cidr(name: str) -> str | None:
        return (await client.get(NODES, name)).get("spec", {}).get("podCIDR")

    async with running(client, "nodeipam", options=options):
        for name in names:
            await client.create(NODES, {"metadata": {"name": name}})
        cidrs = [await eventually(partial(cidr, name), what=f"{name} cidr") for name in names]
    assert len(set(cidrs)) == 3
    assert all(c.startswith("10.77.") and c.endswith("/24") for c in cidrs)
    node = await client.get(NODES, names[0])
    assert node["spec"]["podCIDRs"] == [node["spec"]["podCIDR"]]
    async with running(client, "nodeipam", options=options):
        await client.create(NODES, {"metadata": {"name": f"{ns}-ipam-late"}})
        late = await eventually(lambda: cidr(f"{ns}-ipam-late"), what="late cidr")
    assert late not in cidrs


async def test_pods_of_vanished_nodes_are_garbage_collected(client: ApiClient, ns: str) -> None:
    gone, doomed = f"{ns}-ghost", f"{ns}-doomed"
    await client.create(PODS, pod("on-ghost", {"app": "gc"}, node=gone, namespace=ns))
    await create_node(client, doomed)
    await client.create(PODS, pod("on-doomed", {"app": "gc"}, node=doomed, namespace=ns))
    await client.create(PODS, pod("healthy", {"app": "gc"}, node=doomed, namespace=ns))
    await client.delete(PODS, "healthy", namespace=ns)  # Terminating: a kubelet must finish it

    async def names() -> set[str]:
        listed = (await client.list(PODS, namespace=ns))["items"]
        return {p["metadata"]["name"] for p in listed}

    async with running(client, "podgc", options=Options(pod_gc_quarantine=0.5)):
        async def ghost_pod_gone() -> bool:
            return "on-ghost" not in await names()
        await eventually(ghost_pod_gone, what="pod on a node that never existed")
        assert {"on-doomed", "healthy"} <= await names()
        await client.delete(NODES, doomed)

        async def doomed_pods_gone() -> bool:
            return not {"on-doomed", "healthy"} & await names()
        await eventually(doomed_pods_gone, what="pods of the deleted node")


async def test_node_ipam_says_when_the_range_is_full_and_recovers(apiserver: ApiServer
                                                                   ) -> None:
    """A /23 holds two /24s: the third node gets NetworkUnavailable=True and kube's
    event; once a node goes, it gets the freed subnet and the condition turns False.
    (A server of its own: other tests' nodes would take subnets from a shared one.)"""
    async with connected(apiserver) as client:
        await _range_full_and_recovery(client)


async def _range_full_and_recovery(client: ApiClient) -> None:
    options = Options(cluster_cidr=ipaddress.ip_network("10.78.0.0/23"))
    names = [f"full-{i}" for i in range(3)]

    async def node(name: str) -> dict:
        return await client.get(NODES, name)

    def unavailable(obj: dict) -> dict | None:
        return next((c for c in obj.get("status", {}).get("conditions", [])
                     if c["type"] == "NetworkUnavailable"), None)

    async with running(client, "nodeipam", options=options):
        for name in names[:2]:
            await client.create(NODES, {"metadata": {"name": name}})
            await eventually(partial(_has_cidr, client, name), what=f"{name} cidr")
        await client.create(NODES, {"metadata": {"name": names[2]}})

        async def refused() -> dict | None:
            found = unavailable(await node(names[2]))
            return found if found and found["status"] == "True" else None
        condition = await eventually(refused, what="NetworkUnavailable=True")
        assert condition["reason"] == "CIDRNotAvailable"
        assert "10.78.0.0/23" in condition["message"]
        async def warned() -> bool:  # the event recorder writes in the background
            events = await client.list(EVENTS, namespace="default",
                                       field_selector=f"involvedObject.name={names[2]}")
            return any(e["reason"] == "CIDRNotAvailable" for e in events["items"])
        await eventually(warned, what="CIDRNotAvailable event")
        freed = (await node(names[0]))["spec"]["podCIDR"]
        await client.delete(NODES, names[0])
        await eventually(lambda: _has_cidr(client, names[2]), what="cidr after a node went")
        assert (await node(names[2]))["spec"]["podCIDR"] == freed

        async def recovered() -> bool:  # the condition is written after the CIDR
            found = unavailable(await node(names[2]))
            return found is not None and found["status"] == "False"
        await eventually(recovered, what="NetworkUnavailable=False")


async def _has_cidr(client: ApiClient, name: str) -> bool:
    return bool((await client.get(NODES, name)).get("spec", {}).get("podCIDR"))
