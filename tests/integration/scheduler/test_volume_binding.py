"""VolumeBinding with the real scheduler and the persistentvolume-binder: a pod's
WaitForFirstConsumer claim is provisioned (local-path) on the node the scheduler
picked, and a pod whose claim is bound to a local volume goes to that volume's node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kybernetes.api.resources import PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES, PODS
from kybernetes.client import ApiClient
from kybernetes.controllers.manager import Options
from tests.integration.controllers.helpers import running
from tests.integration.scheduler.conftest import add_nodes, make_node, wait_bound
from tests.unit.scheduler.objects import make_pod


def claim(name: str, cls: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}}}
    if cls is not None:
        spec["storageClassName"] = cls
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def with_claim(pod: dict[str, Any], claim_name: str) -> dict[str, Any]:
    pod["spec"]["volumes"] = [{"name": "data",
                               "persistentVolumeClaim": {"claimName": claim_name}}]
    return pod


async def test_wait_for_first_consumer_is_provisioned_on_the_pods_node(
        client: ApiClient, start_scheduler: Any, tmp_path: Path) -> None:
    nodes = [make_node(n, labels={"kubernetes.io/hostname": n}) for n in ("n1", "n2")]
    await add_nodes(client, *nodes)
    await start_scheduler()
    async with running(client, "persistentvolume-binder",
                       options=Options(local_path_root=tmp_path)):
        await client.create(PERSISTENT_VOLUME_CLAIMS, claim("dyn"))  # default: local-path
        await client.create(PODS, with_claim(make_pod("p", node_selector={
            "kubernetes.io/hostname": "n2"}), "dyn"))
        assert await wait_bound(client, "p", within=30) == "n2"
        pvc = await client.get(PERSISTENT_VOLUME_CLAIMS, "dyn", namespace="default")
        assert pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == "n2"
        assert pvc["status"]["phase"] == "Bound"
        pv = await client.get(PERSISTENT_VOLUMES, pvc["spec"]["volumeName"])
        term = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]
        assert term["matchExpressions"][0]["values"] == ["n2"]

        # A second pod on the same claim goes where the volume is, whatever it prefers.
        await client.create(PODS, with_claim(make_pod("q"), "dyn"))
        assert await wait_bound(client, "q", within=30) == "n2"


async def test_an_unbound_immediate_claim_holds_the_pod_until_bound(
        client: ApiClient, start_scheduler: Any) -> None:
    await add_nodes(client, make_node("n1", labels={"kubernetes.io/hostname": "n1"}))
    await start_scheduler()
    await client.create(PERSISTENT_VOLUME_CLAIMS, claim("imm", cls="manual"))
    await client.create(PODS, with_claim(make_pod("w"), "imm"))
    async with running(client, "persistentvolume-binder"):
        await client.create(PERSISTENT_VOLUMES, {
            "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "static"},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                     "storageClassName": "manual", "hostPath": {"path": "/tmp/kyb-static"}}})
        assert await wait_bound(client, "w", within=30) == "n1"
