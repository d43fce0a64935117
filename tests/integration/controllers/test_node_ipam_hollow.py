"""Node IPAM with hollow nodes: a range too small for them all says so on the nodes
left over (kube's CIDRNotAvailable event, NetworkUnavailable=True), the others keep
their heartbeats and run pods, and a node whose podCIDR lies outside the cluster CIDR
is flagged, not counted."""

from __future__ import annotations

import ipaddress
from functools import partial
from pathlib import Path
from typing import Any

from kybernetes.api.resources import EVENTS, LEASES, NODES, PODS
from kybernetes.client import ApiClient
from kybernetes.controllers.manager import Options
from tests.integration.controllers.helpers import running
from tests.support.apiserver import ApiServer, connected
from tests.support.poll import eventually
from tests.support.procs import Proc

COUNT = 6  # a /22 holds four /24s: two hollow nodes are left without one


def _condition(node: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in (node.get("status") or {}).get("conditions") or ()
                 if c["type"] == kind), None)


async def _reasons(client: ApiClient, name: str) -> dict[str, dict[str, Any]]:
    events = await client.list(EVENTS, namespace="default",
                               field_selector=f"involvedObject.name={name}")
    return {e["reason"]: e for e in events["items"]}


async def test_exhausted_range_is_said_on_the_nodes_left_over_and_the_rest_work(
        apiserver: ApiServer, tmp_path: Path) -> None:
    hollow = Proc.kyb("hollow-nodes", "--kubeconfig", str(apiserver.kubeconfig),
                      "--count", str(COUNT), "--lease-seconds", "2",
                      log_path=tmp_path / "hollow.log").start()
    cluster_cidr = ipaddress.IPv4Network("10.79.0.0/22")
    options = Options(cluster_cidr=cluster_cidr)
    try:
        async with connected(apiserver) as client:
            await client.create(NODES, {"metadata": {"name": "stray"},
                                        "spec": {"podCIDR": "192.168.7.0/24",
                                                 "podCIDRs": ["192.168.7.0/24"]}})

            async def registered() -> bool:
                return len((await client.list(NODES))["items"]) == COUNT + 1
            await eventually(registered, within=30, what="hollow nodes registered")
            async with running(client, "nodeipam", options=options):
                async def settled() -> tuple[list[dict], list[dict]] | None:
                    nodes = [n for n in (await client.list(NODES))["items"]
                             if n["metadata"]["name"] != "stray"]
                    given = [n for n in nodes if n["spec"].get("podCIDR")]
                    left = [n for n in nodes if (c := _condition(n, "NetworkUnavailable"))
                            and c["status"] == "True"]
                    return (given, left) if len(given) == 4 and len(left) == 2 else None
                given, left = await eventually(settled, within=30, what="4 CIDRs, 2 refused")
                cidrs = {n["spec"]["podCIDR"] for n in given}
                assert len(cidrs) == 4 and all(ipaddress.IPv4Network(c).subnet_of(
                    cluster_cidr) for c in cidrs)  # the stray's did not count
                for node in left:
                    name = node["metadata"]["name"]
                    condition = _condition(node, "NetworkUnavailable")
                    assert condition and condition["reason"] == "CIDRNotAvailable"
                    assert "10.79.0.0/22" in condition["message"]
                    event = (await eventually(partial(_reasons, client, name),
                                              what=f"{name} events"))["CIDRNotAvailable"]
                    assert event["type"] == "Normal"
                    assert event["message"] == f"Node {name} status is now: CIDRNotAvailable"
                    assert event["source"]["component"] == "cidrAllocator"

                async def stray_flagged() -> dict[str, Any] | None:
                    return (await _reasons(client, "stray")).get("PodCIDROutOfRange")
                flagged = await eventually(stray_flagged, what="stray flagged")
                assert flagged["type"] == "Warning"
                assert "is out the range of cluster cidr 10.79.0.0/22" in flagged["message"]

                # the nodes with a CIDR go on: their leases renew and a pod runs
                name = given[0]["metadata"]["name"]
                lease = await client.get(LEASES, name, namespace="kube-node-lease")

                async def renewed() -> bool:
                    now = await client.get(LEASES, name, namespace="kube-node-lease")
                    return bool(now["spec"]["renewTime"] > lease["spec"]["renewTime"])
                await eventually(renewed, within=10, what="lease renewed")
                await client.create(PODS, {"metadata": {"name": "on-ok", "namespace": "default"},
                                           "spec": {"nodeName": name, "containers": [
                                               {"name": "a", "image": "img"}]}})

                async def pod_running() -> bool:
                    pod = await client.get(PODS, "on-ok", namespace="default")
                    return (pod.get("status") or {}).get("phase") == "Running"
                await eventually(pod_running, within=20, what="pod Running")
                # the refused ones' heartbeats do not make the controller say it again
                refused = left[0]["metadata"]["name"]
                before = (await _reasons(client, refused))["CIDRNotAvailable"].get("count", 1)
                lease = await client.get(LEASES, refused, namespace="kube-node-lease")

                async def refused_renewed() -> bool:
                    now = await client.get(LEASES, refused, namespace="kube-node-lease")
                    return bool(now["spec"]["renewTime"] > lease["spec"]["renewTime"])
                await eventually(refused_renewed, within=10, what="refused node's lease")
                assert (await _reasons(client, refused))["CIDRNotAvailable"].get(
                    "count", 1) == before
    finally:
        assert hollow.stop() == 0, hollow.log_tail()
