"""The pod-network agent's logic: which Nodes are peers, and what a sync adds,
changes and removes (a recording backend stands in for `ip`)."""

from __future__ import annotations

from typing import Any

from kybernetes.podnetwork.agent import PodNetworkAgent, vxlan_device
from kybernetes.podnetwork.peers import Peer, peer_of, vtep_mac


def node(name: str, ip: str | None = "172.30.1.11", cidr: str | None = "10.201.1.0/24"
         ) -> dict[str, Any]:
    return {"metadata": {"name": name},
            "spec": {"podCIDR": cidr} if cidr else {},
            "status": {"addresses": [{"type": "Hostname", "address": name}]
                       + ([{"type": "InternalIP", "address": ip}] if ip else [])}}


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def setup(self, own: Peer) -> None:
        self.calls.append(("setup", own.name))

    async def add(self, peer: Peer) -> None:
        self.calls.append(("add", f"{peer.pod_cidr} via {peer.ip}"))

    async def remove(self, peer: Peer) -> None:
        self.calls.append(("remove", f"{peer.pod_cidr} via {peer.ip}"))

    async def teardown(self) -> None:
        self.calls.append(("teardown", ""))

    async def prune(self, cluster_cidr: str, keep: set[str]) -> None:
        self.calls.append(("prune", f"{cluster_cidr} but {','.join(sorted(keep))}"))


class Nodes:
    def __init__(self, *nodes: dict[str, Any]) -> None:
        self.items = list(nodes)

    def list(self) -> list[dict[str, Any]]:
        return self.items


class Events:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        self.events.append((obj["metadata"]["name"], reason))


def agent(*nodes: dict[str, Any]) -> tuple[PodNetworkAgent, Recorder, Nodes, Events]:
    backend, listed, events = Recorder(), Nodes(*nodes), Events()
    a = PodNetworkAgent(None, "n1", "host-gw", "10.201.0.0/16",  # type: ignore[arg-type]
                        backend=backend)
    a.nodes, a.recorder = listed, events  # type: ignore[assignment]
    return a, backend, listed, events


def test_peer_of_reads_internal_ip_and_pod_cidr() -> None:
    peer, why = peer_of(node("n2", "172.30.1.12", "10.201.2.0/24"))
    assert peer == Peer("n2", "172.30.1.12", "10.201.2.0/24") and why == ""
    assert peer.vtep == "10.201.2.0" and peer.vtep_mac == "0a:58:0a:c9:02:00"
    assert peer_of(node("n3", cidr=None)) == (
        None, "node n3 has no IPv4 spec.podCIDR: no route to its pods")
    assert peer_of(node("n3", cidr="fd00::/64"))[0] is None
    assert peer_of(node("n3", cidr="not a cidr"))[0] is None
    assert peer_of(node("n3", ip=None))[1] == "node n3 has no InternalIP: no route to its pods"
    assert vtep_mac("10.0.0.0") == "0a:58:0a:00:00:00"


def test_vxlan_device_names_fit_and_differ() -> None:
    assert len(vxlan_device("a" * 253)) <= 15
    assert vxlan_device("kyb-node-1") != vxlan_device("kyb-node-2")


async def test_sync_waits_for_its_own_node_then_follows_adds_changes_and_deletes() -> None:
    a, backend, listed, events = agent(node("n2", "172.30.1.12", "10.201.2.0/24"))
    await a.sync()
    assert backend.calls == []  # this node has no address or CIDR yet
    listed.items.append(node("n1", "172.30.1.11", "10.201.1.0/24"))
    await a.sync()
    assert backend.calls == [("setup", "n1"), ("prune", "10.201.0.0/16 but 10.201.2.0/24"),
                             ("add", "10.201.2.0/24 via 172.30.1.12")]
    backend.calls.clear()
    await a.sync()
    assert backend.calls == []  # nothing changed: nothing done
    listed.items.append(node("n3", "172.30.1.13", "10.201.3.0/24"))
    listed.items[0] = node("n2", "172.30.1.22", "10.201.2.0/24")
    await a.sync()
    assert backend.calls == [("remove", "10.201.2.0/24 via 172.30.1.12"),
                             ("add", "10.201.2.0/24 via 172.30.1.22"),
                             ("add", "10.201.3.0/24 via 172.30.1.13")]
    backend.calls.clear()
    del listed.items[0]
    await a.sync()
    assert backend.calls == [("remove", "10.201.2.0/24 via 172.30.1.22")]
    assert events.events == []


async def test_a_node_without_pod_cidr_gets_one_event_and_no_route() -> None:
    a, backend, _, events = agent(node("n1", "172.30.1.11", "10.201.1.0/24"),
                                  node("bad", "172.30.1.14", None),
                                  node("n2", "172.30.1.12", "10.201.2.0/24"))
    await a.sync()
    await a.sync()
    assert backend.calls == [("setup", "n1"), ("prune", "10.201.0.0/16 but 10.201.2.0/24"),
                             ("add", "10.201.2.0/24 via 172.30.1.12")]
    assert events.events == [("bad", "NoPodRoute")]


async def test_own_address_change_sets_the_device_up_again_and_readds_peers() -> None:
    a, backend, listed, _ = agent(node("n1", "172.30.1.11", "10.201.1.0/24"),
                                  node("n2", "172.30.1.12", "10.201.2.0/24"))
    await a.sync()
    backend.calls.clear()
    listed.items[0] = node("n1", "172.30.1.21", "10.201.1.0/24")
    await a.sync()
    assert backend.calls == [("setup", "n1"), ("prune", "10.201.0.0/16 but 10.201.2.0/24"),
                             ("add", "10.201.2.0/24 via 172.30.1.12")]
