"""The statefulset controller against a real API server, `kyb scheduler`,
`kyb hollow-nodes` (fake runtime) and the persistentvolume binder with local-path
provisioning: ordered creation and scale-down, stable identities and claims,
claim retention, Parallel, RollingUpdate with a partition, a failed pod made
anew, and `kubectl scale|rollout status|history|undo` with the oldest and newest
kubectl."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kybernetes.api import errors
from kybernetes.api.meta import is_pod_ready
from kybernetes.api.resources import (
    CONTROLLER_REVISIONS,
    PERSISTENT_VOLUME_CLAIMS,
    PODS,
    STATEFUL_SETS,
)
from kybernetes.client import ApiClient
from kybernetes.controllers.manager import Options
from tests.integration.controllers.helpers import running
from tests.integration.controllers.test_daemonset import hollow, processes, ready_nodes
from tests.support.apiserver import ApiServer, connected
from tests.support.background import in_background
from tests.support.kubectl import KUBECTLS, Kubectl
from tests.support.poll import eventually
from tests.support.procs import Proc

pytestmark = pytest.mark.timeout(240)


def stateful_set(name: str, replicas: int = 3, *, image: str = "img:1",
                 claims: bool = True, **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    body: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas, "serviceName": name,
                 "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{
                                  "name": "c", "image": image,
                                  "volumeMounts": [{"name": "data", "mountPath": "/data"}]
                                  if claims else []}]}},
                 **spec}}
    if claims:
        body["spec"]["volumeClaimTemplates"] = [{
            "metadata": {"name": "data", "labels": {"tier": "db"}},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}}}]
    return body


@pytest.fixture
async def cluster(apiserver: ApiServer, tmp_path: Path) -> AsyncIterator[ApiClient]:
    """Scheduler + 2 hollow nodes + the statefulset, garbage collector and
    persistentvolume binder controllers (in this process)."""
    with processes(Proc.kyb("scheduler", "--kubeconfig", str(apiserver.kubeconfig),
                            log_path=tmp_path / "scheduler.log").start(),
                   hollow(apiserver, tmp_path, "node", 2)):
        async with connected(apiserver) as client:
            await eventually(lambda: ready_nodes(client, 2), within=60, what="nodes Ready")
            async with running(client, "statefulset", "garbagecollector",
                               "persistentvolume-binder", "pvc-protection", "pv-protection",
                               options=Options(local_path_root=tmp_path / "local-path")):
                yield client


async def pods_of(client: ApiClient, app: str) -> dict[str, dict[str, Any]]:
    items = (await client.list(PODS, namespace="default", label_selector=f"app={app}"))["items"]
    return {p["metadata"]["name"]: p for p in items}


async def ready_set(client: ApiClient, app: str, names: set[str]) -> dict[str, Any] | None:
    pods = await pods_of(client, app)
    live = {n: p for n, p in pods.items() if not p["metadata"].get("deletionTimestamp")}
    if set(pods) == names and all(is_pod_ready(p) for p in live.values()) and \
            len(live) == len(names):
        return pods
    return None


class Order:
    """Records, from a watch, the order pods of one app are created and deleted."""

    def __init__(self, client: ApiClient, app: str) -> None:
        self.client, self.app = client, app
        self.events: list[tuple[str, str]] = []
        self.ready: set[str] = set()
        self.created_before_ready: list[tuple[str, set[str]]] = []

    async def watch(self) -> None:
        listing = await self.client.list(PODS, namespace="default",
                                         label_selector=f"app={self.app}")
        async with self.client.watch(PODS, namespace="default", label_selector=f"app={self.app}",
                                     resource_version=listing["metadata"]["resourceVersion"]
                                     ) as events:
            async for event in events:
                if event.type == "BOOKMARK":
                    continue
                name = event.object["metadata"]["name"]
                if event.type == "ADDED":
                    self.events.append(("create", name))
                    self.created_before_ready.append((name, set(self.ready)))
                elif event.type == "DELETED":
                    self.events.append(("delete", name))
                    self.ready.discard(name)
                elif is_pod_ready(event.object):
                    self.ready.add(name)


async def test_ordered_identity_claims_and_scale_down(cluster: ApiClient) -> None:
    client = cluster
    order = Order(client, "web")
    async with in_background(order.watch()):
        await asyncio.sleep(0.3)
        created = await client.create(STATEFUL_SETS, stateful_set("web"))
        spec = created["spec"]
        assert spec["podManagementPolicy"] == "OrderedReady"
        assert spec["updateStrategy"] == {"type": "RollingUpdate",
                                          "rollingUpdate": {"partition": 0}}
        assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain",
                                                                "whenScaled": "Retain"}
        assert spec["volumeClaimTemplates"][0]["spec"]["volumeMode"] == "Filesystem"
        pods = await eventually(lambda: ready_set(client, "web", {"web-0", "web-1", "web-2"}),
                                within=60, what="3 Ready pods")
        # Each pod was created only once every lower ordinal was Ready.
        assert [n for n, _ in order.created_before_ready] == ["web-0", "web-1", "web-2"]
        for name, ready_then in order.created_before_ready:
            n = int(name.rsplit("-", 1)[1])
            assert {f"web-{i}" for i in range(n)} <= ready_then, (name, ready_then)
        pod = pods["web-1"]
        assert pod["spec"]["hostname"] == "web-1" and pod["spec"]["subdomain"] == "web"
        labels = pod["metadata"]["labels"]
        assert labels["statefulset.kubernetes.io/pod-name"] == "web-1"
        assert labels["apps.kubernetes.io/pod-index"] == "1"
        assert labels["controller-revision-hash"].startswith("web-")
        assert pod["spec"]["volumes"][0] == {"name": "data",
                                             "persistentVolumeClaim": {"claimName": "data-web-1"}}
        claim = await client.get(PERSISTENT_VOLUME_CLAIMS, "data-web-1", namespace="default")
        assert claim["metadata"]["labels"] == {"tier": "db", "app": "web"}
        assert claim["status"]["phase"] == "Bound"
        assert not claim["metadata"].get("ownerReferences")  # whenDeleted: Retain

        async def status_is(want: dict[str, Any]) -> dict[str, Any] | None:
            status = (await client.get(STATEFUL_SETS, "web", namespace="default"))["status"]
            return status if all(status.get(k) == v for k, v in want.items()) else None
        status = await eventually(lambda: status_is({
            "replicas": 3, "readyReplicas": 3, "availableReplicas": 3, "currentReplicas": 3,
            "updatedReplicas": 3, "observedGeneration": 1}), within=20, what="status")
        assert status["currentRevision"] == status["updateRevision"] == \
            labels["controller-revision-hash"]
        revision = await client.get(CONTROLLER_REVISIONS, status["updateRevision"],
                                    namespace="default")
        assert revision["revision"] == 1
        assert "controller.kubernetes.io/hash" in revision["metadata"]["labels"]

        # Scale down: the highest ordinal goes first; claims are kept (Retain).
        order.events.clear()
        await client.patch(STATEFUL_SETS, "web", {"spec": {"replicas": 1}}, namespace="default")
        await eventually(lambda: ready_set(client, "web", {"web-0"}), within=60,
                         what="scaled to 1")
        assert [e for e in order.events if e[0] == "delete"] == [("delete", "web-2"),
                                                                 ("delete", "web-1")]
        claims = (await client.list(PERSISTENT_VOLUME_CLAIMS, namespace="default"))["items"]
        assert {c["metadata"]["name"] for c in claims} == {"data-web-0", "data-web-1",
                                                           "data-web-2"}

        # A deleted pod comes back under its own name, on its own claim.
        uid = pods["web-0"]["metadata"]["uid"]
        await client.delete(PODS, "web-0", namespace="default")

        async def replaced() -> dict[str, Any] | None:
            pods = await ready_set(client, "web", {"web-0"})
            return pods if pods and pods["web-0"]["metadata"]["uid"] != uid else None
        pods = await eventually(replaced, within=60, what="web-0 made anew")
        assert pods["web-0"]["spec"]["volumes"][0]["persistentVolumeClaim"] == {
            "claimName": "data-web-0"}

        # A failed pod is deleted and made anew.
        failed = pods["web-0"]
        failed["status"]["phase"] = "Failed"
        await client.update_status(PODS, failed)
        await eventually(lambda: _replaced(client, "web-0", failed["metadata"]["uid"]),
                         within=60, what="failed web-0 made anew")


async def _replaced(client: ApiClient, name: str, uid: str) -> bool:
    try:
        pod = await client.get(PODS, name, namespace="default")
    except errors.NotFound:
        return False
    return pod["metadata"]["uid"] != uid and is_pod_ready(pod)


async def test_parallel_and_claim_retention(cluster: ApiClient) -> None:
    client = cluster
    await client.create(STATEFUL_SETS, stateful_set(
        "par", 3, podManagementPolicy="Parallel",
        persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Delete"}))
    order = Order(client, "par")
    await eventually(lambda: ready_set(client, "par", {"par-0", "par-1", "par-2"}),
                     within=60, what="3 Ready pods")
    sts = await client.get(STATEFUL_SETS, "par", namespace="default")
    claim = await client.get(PERSISTENT_VOLUME_CLAIMS, "data-par-2", namespace="default")
    assert [(r["kind"], r["uid"]) for r in claim["metadata"]["ownerReferences"]] == [
        ("StatefulSet", sts["metadata"]["uid"])]
    del order

    # whenScaled: Delete — the claim of a scaled-away pod goes with it.
    await client.patch(STATEFUL_SETS, "par", {"spec": {"replicas": 1}}, namespace="default")
    await eventually(lambda: ready_set(client, "par", {"par-0"}), within=60, what="scaled to 1")

    async def claims() -> set[str]:
        items = (await client.list(PERSISTENT_VOLUME_CLAIMS, namespace="default",
                                   label_selector="app=par"))["items"]
        return {c["metadata"]["name"] for c in items}

    async def only(names: set[str]) -> bool:
        return await claims() == names
    await eventually(lambda: only({"data-par-0"}), within=30, what="scaled claims deleted")
    # whenDeleted: Delete — deleting the set takes the rest.
    await client.delete(STATEFUL_SETS, "par", namespace="default")
    await eventually(lambda: only(set()), within=30, what="claims deleted with the set")


async def test_parallel_creates_without_waiting(apiserver: ApiServer, tmp_path: Path) -> None:
    """With no node at all nothing becomes Ready, yet Parallel creates every pod."""
    async with connected(apiserver) as client:
        async with running(client, "statefulset"):
            await client.create(STATEFUL_SETS, stateful_set("p", 4, claims=False,
                                                            podManagementPolicy="Parallel"))

            async def all_there() -> bool:
                return set(await pods_of(client, "p")) == {f"p-{i}" for i in range(4)}
            await eventually(all_there, within=20, what="4 pods at once")
            await client.create(STATEFUL_SETS, stateful_set("o", 4, claims=False))
            await asyncio.sleep(2)
            assert set(await pods_of(client, "o")) == {"o-0"}  # OrderedReady waits


@pytest.mark.parametrize("binary", [KUBECTLS[0], KUBECTLS[-1]])
async def test_partitioned_rolling_update_with_kubectl(cluster: ApiClient, apiserver: ApiServer,
                                                       tmp_path: Path, binary: str) -> None:
    client = cluster
    kubectl = Kubectl(binary, apiserver, tmp_path)
    await client.create(STATEFUL_SETS, stateful_set("db", 3, claims=False))
    await eventually(lambda: ready_set(client, "db", {"db-0", "db-1", "db-2"}), within=60,
                     what="3 Ready pods")
    await eventually(lambda: rolled_out(client, "db"), within=30, what="status of 3 pods")
    # kubectl words every RollingUpdate with a partition (defaulted: 0) as partitioned.
    out = kubectl("rollout", "status", "sts/db", "--timeout=50s")
    assert "partitioned roll out complete: 3 new pods have been updated" in out
    table = kubectl("get", "sts", "db").splitlines()
    assert table[0].split() == ["NAME", "READY", "AGE"] and table[1].split()[:2] == ["db", "3/3"]

    # Partition 2: only db-2 moves to the new template.
    kubectl("patch", "sts", "db", "-p",
            '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}}}}')
    kubectl("set", "image", "sts/db", "c=img:2")

    async def images() -> dict[str, str]:
        return {n: p["spec"]["containers"][0]["image"]
                for n, p in (await pods_of(client, "db")).items()
                if is_pod_ready(p) and not p["metadata"].get("deletionTimestamp")}

    async def images_are(want: dict[str, str]) -> bool:
        return await images() == want
    await eventually(lambda: images_are({"db-0": "img:1", "db-1": "img:1", "db-2": "img:2"}),
                     within=60, what="db-2 updated alone")

    async def partitioned() -> bool | NotYet:
        sts = await client.get(STATEFUL_SETS, "db", namespace="default")
        status = sts["status"]
        return True if status.get("observedGeneration") == sts["metadata"]["generation"] \
            and status.get("updatedReplicas") == 1 else NotYet(status)
    await eventually(partitioned, within=60, what="status of the partitioned rollout")
    out = kubectl("rollout", "status", "sts/db", "--timeout=30s")
    assert "partitioned roll out complete: 1 new pods have been updated" in out
    status = (await client.get(STATEFUL_SETS, "db", namespace="default"))["status"]
    assert status["currentRevision"] != status["updateRevision"]
    assert (status["currentReplicas"], status["updatedReplicas"]) == (2, 1)
    # A deleted pod below the partition comes back at the current (old) revision.
    await client.delete(PODS, "db-0", namespace="default")
    await asyncio.sleep(1)
    await eventually(lambda: images_are({"db-0": "img:1", "db-1": "img:1", "db-2": "img:2"}),
                     within=60, what="db-0 back on the old template")

    # Partition 0 finishes the rollout, highest ordinal first.
    kubectl("patch", "sts", "db", "-p",
            '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}')
    await eventually(lambda: rolled_out(client, "db"), within=90, what="rolled out")
    out = kubectl("rollout", "status", "sts/db", "--timeout=90s")
    assert "partitioned roll out complete: 3 new pods have been updated" in out
    assert await images() == {"db-0": "img:2", "db-1": "img:2", "db-2": "img:2"}
    status = (await client.get(STATEFUL_SETS, "db", namespace="default"))["status"]
    assert status["currentRevision"] == status["updateRevision"]

    history = kubectl("rollout", "history", "sts/db")
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    kubectl("rollout", "undo", "sts/db")
    await eventually(lambda: rolled_out(client, "db"), within=90, what="rolled back")
    kubectl("rollout", "status", "sts/db", "--timeout=90s")
    assert await images() == {"db-0": "img:1", "db-1": "img:1", "db-2": "img:1"}
    revisions = (await client.list(CONTROLLER_REVISIONS, namespace="default"))["items"]
    assert sorted(r["revision"] for r in revisions
                  if r["metadata"]["name"].startswith("db-")) == [2, 3]

    restarts = (await client.get(STATEFUL_SETS, "db", namespace="default"))["status"]
    kubectl("rollout", "restart", "sts/db")
    await eventually(lambda: rolled_out(client, "db"), within=90, what="restarted")
    after = (await client.get(STATEFUL_SETS, "db", namespace="default"))["status"]
    assert after["updateRevision"] != restarts["updateRevision"]

    # kubectl scale through the /scale subresource.
    kubectl("scale", "sts", "db", "--replicas=1")
    await eventually(lambda: ready_set(client, "db", {"db-0"}), within=60, what="scaled")


class NotYet(dict[str, Any]):
    """A status that is not there yet: falsy for `eventually`, shown when it gives up."""

    def __bool__(self) -> bool:
        return False


async def rolled_out(client: ApiClient, name: str) -> bool | NotYet:
    """True once every pod runs the update revision and is ready; else the status."""
    sts = await client.get(STATEFUL_SETS, name, namespace="default")
    status, replicas = sts["status"], sts["spec"]["replicas"]
    done = status.get("observedGeneration") == sts["metadata"]["generation"] and \
        status.get("updatedReplicas") == status.get("readyReplicas") == replicas and \
        status.get("currentRevision") == status.get("updateRevision")
    return True if done else NotYet(status)


async def test_bad_input_gets_kubernetes_errors(apiserver: ApiServer) -> None:
    async with connected(apiserver) as client:
        bad = stateful_set("bad", claims=False, podManagementPolicy="Sometimes")
        bad["spec"]["template"]["spec"]["restartPolicy"] = "Never"
        with pytest.raises(errors.Invalid) as e:
            await client.create(STATEFUL_SETS, bad)
        causes = {c["field"]: c["message"] for c in e.value.details["causes"]}
        assert causes["spec.podManagementPolicy"] == \
            'Invalid value: "Sometimes": must be \'OrderedReady\' or \'Parallel\''
        assert causes["spec.template.spec.restartPolicy"] == \
            'Unsupported value: "Never": supported values: "Always"'
        await client.create(STATEFUL_SETS, stateful_set("ok", claims=False))
        with pytest.raises(errors.Invalid) as e:
            await client.patch(STATEFUL_SETS, "ok", {"spec": {"serviceName": "other"}},
                               namespace="default")
        assert e.value.message.endswith(
            "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', "
            "'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', "
            "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")
        mismatched = stateful_set("mm", claims=False)
        mismatched["spec"]["selector"] = {"matchLabels": {"app": "other"}}
        with pytest.raises(errors.Invalid, match="`selector` does not match template `labels`"):
            await client.create(STATEFUL_SETS, mismatched)
