"""The daemonset controller against a real API server, `kyb scheduler` and
`kyb hollow-nodes` (fake runtime): a pod per node, new nodes, taints and
tolerations, nodeSelector, RollingUpdate (maxUnavailable, maxSurge), OnDelete,
and `kubectl rollout status|history|undo` with the oldest and newest kubectl."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from kybernetes.api.meta import is_pod_ready
from kybernetes.api.resources import CONTROLLER_REVISIONS, DAEMON_SETS, NODES, PODS
from kybernetes.client import ApiClient
from tests.integration.controllers.helpers import running
from tests.support.apiserver import ApiServer, connected
from tests.support.background import in_background
from tests.support.kubectl import KUBECTLS, Kubectl
from tests.support.poll import eventually
from tests.support.procs import Proc

NODE_COUNT = 3


def daemon_set(name: str, *, image: str = "img:1", strategy: dict[str, Any] | None = None,
               **pod_spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": {"matchLabels": labels},
                     **({"updateStrategy": strategy} if strategy else {}),
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": image}],
                                           **pod_spec}}}}


def hollow(server: ApiServer, tmp: Path, prefix: str, count: int) -> Proc:
    return Proc.kyb("hollow-nodes", "--kubeconfig", str(server.kubeconfig), "--count",
                    str(count), "--name-prefix", prefix, "--lease-seconds", "2",
                    log_path=tmp / f"{prefix}.log").start()


@contextlib.contextmanager
def processes(*procs: Proc) -> Iterator[list[Proc]]:
    started = list(procs)
    try:
        yield started
    finally:
        for proc in reversed(started):
            proc.stop()


@pytest.fixture
async def cluster(apiserver: ApiServer, tmp_path: Path) -> AsyncIterator[tuple[ApiClient, list[
        Proc]]]:
    """Scheduler + 3 hollow nodes + the daemonset and garbage collector controllers
    (in this process)."""
    with processes(Proc.kyb("scheduler", "--kubeconfig", str(apiserver.kubeconfig),
                            log_path=tmp_path / "scheduler.log").start(),
                   hollow(apiserver, tmp_path, "node", NODE_COUNT)) as procs:
        async with connected(apiserver) as client:
            await eventually(lambda: ready_nodes(client, NODE_COUNT), within=60,
                             what="hollow nodes Ready")
            async with running(client, "daemonset", "garbagecollector"):
                yield client, procs


async def ready_nodes(client: ApiClient, count: int) -> bool:
    nodes = (await client.list(NODES))["items"]
    return sum(1 for n in nodes if any(c["type"] == "Ready" and c["status"] == "True"
                                       for c in n.get("status", {}).get("conditions", []))) \
        >= count


async def pods_by_node(client: ApiClient, app: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for p in (await client.list(PODS, namespace="default", label_selector=f"app={app}"))["items"]:
        if not p["metadata"].get("deletionTimestamp"):
            out.setdefault(p["spec"].get("nodeName") or "", []).append(p)
    return out


async def running_on(client: ApiClient, app: str, nodes: set[str]) -> dict[str, Any] | None:
    """The pods by node once exactly `nodes` each run one Ready pod."""
    by_node = await pods_by_node(client, app)
    if set(by_node) == nodes and all(len(ps) == 1 and is_pod_ready(ps[0])
                                     for ps in by_node.values()):
        return by_node
    return None


def all_nodes(count: int = NODE_COUNT, prefix: str = "node") -> set[str]:
    return {f"{prefix}-{i}" for i in range(count)}


async def status_of(client: ApiClient, name: str) -> dict[str, Any]:
    return (await client.get(DAEMON_SETS, name, namespace="default")).get("status") or {}


async def test_a_pod_per_node_new_nodes_taints_and_node_selector(
        cluster: tuple[ApiClient, list[Proc]], apiserver: ApiServer, tmp_path: Path) -> None:
    client, procs = cluster
    ds = await client.create(DAEMON_SETS, daemon_set("agent"))
    assert ds["spec"]["updateStrategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert ds["spec"]["revisionHistoryLimit"] == 10
    by_node = await eventually(lambda: running_on(client, "agent", all_nodes()), within=30,
                               what="a Ready pod on every node")
    pod = by_node["node-0"][0]
    labels = pod["metadata"]["labels"]
    assert labels["pod-template-generation"] == "1" and labels["controller-revision-hash"]
    assert pod["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"] == {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In",
                              "values": ["node-0"]}]}]}
    assert {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]} >= {
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unschedulable", "NoSchedule")}

    async def settled(want: dict[str, int]) -> dict[str, Any] | None:
        status = await status_of(client, "agent")
        return status if all(status.get(k, 0) == v for k, v in want.items()) else None
    await eventually(lambda: settled({
        "desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 3,
        "numberAvailable": 3, "updatedNumberScheduled": 3, "numberMisscheduled": 0,
        "numberUnavailable": 0, "observedGeneration": 1}), within=20, what="status")
    revisions = (await client.list(CONTROLLER_REVISIONS, namespace="default"))["items"]
    assert [(r["revision"], r["metadata"]["labels"]["controller-revision-hash"])
            for r in revisions] == [(1, labels["controller-revision-hash"])]

    # A new node gets a pod.
    procs.append(hollow(apiserver, tmp_path, "extra", 1))
    await eventually(lambda: running_on(client, "agent", all_nodes() | {"extra-0"}),
                     within=40, what="a pod on the new node")

    # NoSchedule keeps the running pod (misscheduled); NoExecute removes it.
    await client.patch(NODES, "node-1", {"spec": {"taints": [
        {"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}})
    await eventually(lambda: settled({"desiredNumberScheduled": 3,
                                      "numberMisscheduled": 1}), within=20, what="misscheduled")
    assert "node-1" in await pods_by_node(client, "agent")
    await client.patch(NODES, "node-1", {"spec": {"taints": [
        {"key": "dedicated", "value": "db", "effect": "NoExecute"}]}})
    await eventually(lambda: running_on(client, "agent", all_nodes() - {"node-1"} | {"extra-0"}),
                     within=20, what="pod gone from the tainted node")
    # A DaemonSet that tolerates the taint does run there.
    await client.create(DAEMON_SETS, daemon_set("tolerant", tolerations=[
        {"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoExecute"}]))
    await eventually(lambda: running_on(client, "tolerant", all_nodes() | {"extra-0"}),
                     within=30, what="tolerating pods everywhere")

    # nodeSelector: only labelled nodes, and a node that loses its label loses the pod.
    await client.patch(NODES, "node-2", {"metadata": {"labels": {"disk": "ssd"}}})
    await client.create(DAEMON_SETS, daemon_set("picky", nodeSelector={"disk": "ssd"}))
    await eventually(lambda: running_on(client, "picky", {"node-2"}), within=30,
                     what="pod on the labelled node")
    await client.patch(NODES, "node-0", {"metadata": {"labels": {"disk": "ssd"}}})
    await client.patch(NODES, "node-2", {"metadata": {"labels": {"disk": None}}})
    await eventually(lambda: running_on(client, "picky", {"node-0"}), within=30,
                     what="pod follows the label")


class Unavailability:
    """Watches one DaemonSet's pods; the most nodes ever without an available pod,
    and the most pods ever on one node."""

    def __init__(self, client: ApiClient, app: str, nodes: set[str]) -> None:
        self.client, self.app, self.nodes = client, app, nodes
        self.pods: dict[str, dict[str, Any]] = {}
        self.worst = 0
        self.most_per_node = 0

    def _account(self) -> None:
        live = [p for p in self.pods.values() if not p["metadata"].get("deletionTimestamp")]
        serving = {p["spec"].get("nodeName") for p in live if is_pod_ready(p)}
        self.worst = max(self.worst, len(self.nodes - serving))
        per_node: dict[str, int] = {}
        for p in live:
            node = p["spec"].get("nodeName") or "?"
            per_node[node] = per_node.get(node, 0) + 1
        self.most_per_node = max([self.most_per_node, *per_node.values()])

    async def watch(self) -> None:
        listing = await self.client.list(PODS, namespace="default",
                                         label_selector=f"app={self.app}")
        self.pods = {p["metadata"]["name"]: p for p in listing["items"]}
        rv = listing["metadata"]["resourceVersion"]
        async with self.client.watch(PODS, namespace="default", label_selector=f"app={self.app}",
                                     resource_version=rv) as events:
            async for event in events:
                if event.type == "BOOKMARK":
                    continue
                name = event.object["metadata"]["name"]
                if event.type == "DELETED":
                    self.pods.pop(name, None)
                else:
                    self.pods[name] = event.object
                self._account()


async def _roll(client: ApiClient, name: str, strategy: dict[str, Any]) -> Unavailability:
    await client.create(DAEMON_SETS, daemon_set(name, strategy=strategy))
    await eventually(lambda: running_on(client, name, all_nodes()), within=30, what="first pods")
    watcher = Unavailability(client, name, all_nodes())
    async with in_background(watcher.watch()):
        await asyncio.sleep(0.3)
        await client.patch(DAEMON_SETS, name, {"spec": {"template": {"spec": {
            "containers": [{"name": "c", "image": "img:2"}]}}}}, namespace="default",
            patch_type="strategic")

        async def rolled() -> bool:
            by_node = await running_on(client, name, all_nodes())
            return by_node is not None and all(
                ps[0]["spec"]["containers"][0]["image"] == "img:2" for ps in by_node.values())
        await eventually(rolled, within=60, what="every node on the new template")
    await eventually(lambda: _observed(client, name, 2, updated=NODE_COUNT), within=20,
                     what="status of the new generation")
    return watcher


async def test_rolling_update_keeps_max_unavailable_and_reaches_every_node(
        cluster: tuple[ApiClient, list[Proc]]) -> None:
    client, _ = cluster
    watcher = await _roll(client, "roll", {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxUnavailable": 1}})
    assert watcher.worst == 1 and watcher.most_per_node == 1
    ds = await client.get(DAEMON_SETS, "roll", namespace="default")
    assert ds["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "2"
    pods = await pods_by_node(client, "roll")
    assert {p["metadata"]["labels"]["pod-template-generation"]
            for ps in pods.values() for p in ps} == {"2"}
    revisions = (await client.list(CONTROLLER_REVISIONS, namespace="default",
                                   label_selector="app=roll"))["items"]
    assert sorted(r["revision"] for r in revisions) == [1, 2]


async def test_rolling_update_with_surge_never_leaves_a_node_without_a_pod(
        cluster: tuple[ApiClient, list[Proc]]) -> None:
    client, _ = cluster
    watcher = await _roll(client, "surge", {"type": "RollingUpdate", "rollingUpdate": {
        "maxUnavailable": 0, "maxSurge": 1}})
    assert watcher.worst == 0 and watcher.most_per_node == 2


async def test_on_delete_replaces_only_deleted_pods(cluster: tuple[ApiClient, list[Proc]]) -> None:
    client, _ = cluster
    await client.create(DAEMON_SETS, daemon_set("manual", strategy={"type": "OnDelete"}))
    before = await eventually(lambda: running_on(client, "manual", all_nodes()), within=30,
                              what="first pods")
    await client.patch(DAEMON_SETS, "manual", {"spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "img:2"}]}}}}, namespace="default",
        patch_type="strategic")
    await eventually(lambda: _observed(client, "manual", 2), within=20, what="observed")
    assert {n: ps[0]["metadata"]["name"] for n, ps in (await pods_by_node(
        client, "manual")).items()} == {n: ps[0]["metadata"]["name"] for n, ps in before.items()}
    await client.delete(PODS, before["node-1"][0]["metadata"]["name"], namespace="default")

    async def replaced() -> dict[str, Any] | None:
        by_node = await running_on(client, "manual", all_nodes())
        if by_node and by_node["node-1"][0]["spec"]["containers"][0]["image"] == "img:2":
            return by_node
        return None
    by_node = await eventually(replaced, within=30, what="node-1 replaced")
    assert by_node["node-0"][0]["spec"]["containers"][0]["image"] == "img:1"
    await eventually(lambda: _observed(client, "manual", 2, updated=1), within=20,
                     what="one updated")


async def test_orphaned_pods_and_revisions_are_adopted_not_replaced(
        cluster: tuple[ApiClient, list[Proc]]) -> None:
    client, _ = cluster
    await client.create(DAEMON_SETS, daemon_set("keep"))
    before = await eventually(lambda: running_on(client, "keep", all_nodes()), within=30,
                              what="first pods")
    await client.delete(DAEMON_SETS, "keep", namespace="default", propagation_policy="Orphan")

    async def gone() -> bool:
        names = [d["metadata"]["name"] for d in
                 (await client.list(DAEMON_SETS, namespace="default"))["items"]]
        return "keep" not in names
    await eventually(gone, within=30, what="DaemonSet deleted, pods orphaned")
    ds = await client.create(DAEMON_SETS, daemon_set("keep"))

    async def adopted() -> bool:
        pods = [p for ps in (await pods_by_node(client, "keep")).values() for p in ps]
        return len(pods) == NODE_COUNT and all(
            [r["uid"] for r in p["metadata"].get("ownerReferences", [])] == [
                ds["metadata"]["uid"]] for p in pods)
    await eventually(adopted, within=30, what="pods adopted")
    await eventually(lambda: _observed(client, "keep", 1, updated=NODE_COUNT), within=20,
                     what="status")
    after = await pods_by_node(client, "keep")
    assert {n: ps[0]["metadata"]["name"] for n, ps in after.items()} == \
        {n: ps[0]["metadata"]["name"] for n, ps in before.items()}
    revisions = (await client.list(CONTROLLER_REVISIONS, namespace="default",
                                   label_selector="app=keep"))["items"]
    assert [(r["revision"], r["metadata"]["ownerReferences"][0]["uid"]) for r in revisions] == [
        (1, ds["metadata"]["uid"])]
    assert "collisionCount" not in await status_of(client, "keep")


async def _observed(client: ApiClient, name: str, generation: int, *,
                    updated: int | None = None) -> bool:
    status = await status_of(client, name)
    return status.get("observedGeneration") == generation and (
        updated is None or status.get("updatedNumberScheduled") == updated)


@pytest.mark.parametrize("binary", [k for k in ("kubectl.1.27", "kubectl.1.33") if k in KUBECTLS])
async def test_kubectl_rollout_status_history_and_undo(
        cluster: tuple[ApiClient, list[Proc]], apiserver: ApiServer, tmp_path: Path,
        binary: str) -> None:
    client, _ = cluster
    kubectl = Kubectl(binary, apiserver, tmp_path)
    await client.create(DAEMON_SETS, daemon_set("web"))
    out = await asyncio.to_thread(kubectl, "rollout", "status", "ds/web", "--timeout=60s")
    assert 'daemon set "web" successfully rolled out' in out
    table = await asyncio.to_thread(kubectl, "get", "ds", "web")
    assert table.split("\n")[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE",
                                            "AVAILABLE", "NODE", "SELECTOR", "AGE"]
    assert table.split("\n")[1].split()[:7] == ["web", "3", "3", "3", "3", "3", "<none>"]
    described = await asyncio.to_thread(kubectl, "describe", "ds/web")
    assert "Desired Number of Nodes Scheduled: 3" in described, described
    assert "SuccessfulCreate" in described, described
    await asyncio.to_thread(kubectl, "set", "image", "ds/web", "c=img:2")
    await asyncio.to_thread(kubectl, "annotate", "ds/web", "kubernetes.io/change-cause=img 2")
    out = await asyncio.to_thread(kubectl, "rollout", "status", "ds/web", "--timeout=60s")
    assert 'daemon set "web" successfully rolled out' in out
    history = await asyncio.to_thread(kubectl, "rollout", "history", "ds/web")
    rows = [line.split() for line in history.strip().split("\n")[2:]]
    assert [r[0] for r in rows] == ["1", "2"], history
    detail = await asyncio.to_thread(kubectl, "rollout", "history", "ds/web", "--revision=1")
    assert "img:1" in detail
    out = await asyncio.to_thread(kubectl, "rollout", "undo", "ds/web")
    assert "rolled back" in out
    await asyncio.to_thread(kubectl, "rollout", "status", "ds/web", "--timeout=60s")
    by_node = await eventually(lambda: running_on(client, "web", all_nodes()), within=30,
                               what="pods after undo")
    assert {ps[0]["spec"]["containers"][0]["image"] for ps in by_node.values()} == {"img:1"}
    history = await asyncio.to_thread(kubectl, "rollout", "history", "ds/web")
    assert [line.split()[0] for line in history.strip().split("\n")[2:]] == ["2", "3"], history
    skipped = await asyncio.to_thread(kubectl, "rollout", "undo", "ds/web", "--to-revision=3")
    assert "skipped rollback" in skipped, skipped
    revisions = await asyncio.to_thread(kubectl, "get", "controllerrevisions")
    assert revisions.split("\n")[0].split() == ["NAME", "CONTROLLER", "REVISION", "AGE"]
    assert "daemonset.apps/web" in revisions
