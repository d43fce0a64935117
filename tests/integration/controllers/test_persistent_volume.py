"""The PersistentVolume binder against a real API server: static binding, Retain and
Delete reclaim, a claim naming a missing class, the default class, local-path
provisioning on a chosen node, and `kubectl get pv/pvc/sc` (oldest and newest)."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest

from kybernetes.api import errors
from kybernetes.api.resources import (
    EVENTS,
    NODES,
    PERSISTENT_VOLUME_CLAIMS,
    PERSISTENT_VOLUMES,
    PODS,
    STORAGE_CLASSES,
)
from kybernetes.client import ApiClient
from kybernetes.controllers.manager import Options
from tests.integration.controllers.helpers import running
from tests.support.apiserver import ApiServer
from tests.support.kubectl import KUBECTLS, Kubectl
from tests.support.poll import eventually

BINDER = "persistentvolume-binder"
# the binder with storage in-use protection, whose finalizers every claim and volume get
STORAGE = (BINDER, "pvc-protection", "pv-protection")
_ids = itertools.count()


def volume(name: str, size: str, *, cls: str = "manual", policy: str = "Retain",
           path: str = "/tmp/kyb-pv") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                     "storageClassName": cls, "persistentVolumeReclaimPolicy": policy,
                     "hostPath": {"path": path}}}


def claim(name: str, ns: str, size: str = "1Gi", cls: str | None = "manual") -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def uniq(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


async def phase_of(client: ApiClient, resource: Any, name: str, want: str,
                   namespace: str | None = None) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        obj = await client.get(resource, name, namespace=namespace)
        return obj if (obj.get("status") or {}).get("phase") == want else None
    return await eventually(check, within=20, what=f"{name} {want}")


async def test_static_binding_picks_the_smallest_fit_and_retain_releases(
        client: ApiClient, ns: str) -> None:
    cls = uniq("manual")
    big, small = uniq("big"), uniq("small")
    await client.create(PERSISTENT_VOLUMES, volume(big, "10Gi", cls=cls))
    await client.create(PERSISTENT_VOLUMES, volume(small, "2Gi", cls=cls))
    async with running(client, *STORAGE):
        await phase_of(client, PERSISTENT_VOLUMES, small, "Available")
        await client.create(PERSISTENT_VOLUME_CLAIMS, claim("data", ns, cls=cls))
        pvc = await phase_of(client, PERSISTENT_VOLUME_CLAIMS, "data", "Bound", ns)
        assert pvc["spec"]["volumeName"] == small
        assert pvc["status"]["capacity"] == {"storage": "2Gi"}
        assert pvc["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
        assert pvc["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"
        pv = await phase_of(client, PERSISTENT_VOLUMES, small, "Bound")
        assert pv["spec"]["claimRef"]["uid"] == pvc["metadata"]["uid"]
        assert pv["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"
        assert (await client.get(PERSISTENT_VOLUMES, big))["status"]["phase"] == "Available"
        await client.delete(PERSISTENT_VOLUME_CLAIMS, "data", namespace=ns)
        await phase_of(client, PERSISTENT_VOLUMES, small, "Released")


async def test_delete_policy_deletes_the_volume(client: ApiClient, ns: str) -> None:
    cls, name = uniq("gone"), uniq("del")
    await client.create(PERSISTENT_VOLUMES, volume(name, "1Gi", cls=cls, policy="Delete"))
    async with running(client, *STORAGE):
        await client.create(PERSISTENT_VOLUME_CLAIMS, claim("d", ns, cls=cls))
        await phase_of(client, PERSISTENT_VOLUME_CLAIMS, "d", "Bound", ns)
        await client.delete(PERSISTENT_VOLUME_CLAIMS, "d", namespace=ns)
        await eventually(lambda: gone(client, PERSISTENT_VOLUMES, name), within=20,
                         what="the released volume deleted")


async def reasons(client: ApiClient, ns: str, name: str) -> list[tuple[str, str, str]]:
    items = (await client.list(EVENTS, namespace=ns))["items"]
    return [(e["type"], e["reason"], e["message"]) for e in items
            if e["involvedObject"]["name"] == name]


async def test_a_missing_class_leaves_the_claim_pending_with_kubes_event(
        client: ApiClient, ns: str) -> None:
    async with running(client, *STORAGE):
        await client.create(PERSISTENT_VOLUME_CLAIMS, claim("lost", ns, cls="nope"))

        async def event() -> list[Any]:
            return [e for e in await reasons(client, ns, "lost")
                    if e[1] == "ProvisioningFailed"]
        found = await eventually(event, within=20, what="ProvisioningFailed event")
        assert found[0] == ("Warning", "ProvisioningFailed",
                            'storageclass.storage.k8s.io "nope" not found')
        pvc = await client.get(PERSISTENT_VOLUME_CLAIMS, "lost", namespace=ns)
        assert pvc["status"]["phase"] == "Pending"


async def test_local_path_provisions_on_the_selected_node(
        client: ApiClient, ns: str, tmp_path: Path) -> None:
    # The default class from the API server's bootstrap, filled in by admission.
    sc = await client.get(STORAGE_CLASSES, "local-path")
    assert sc["provisioner"] == "kyb.io/local-path"
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"
    node = uniq("node")
    await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": node, "labels": {"kubernetes.io/hostname": node}}})
    root = tmp_path / "local-path"
    async with running(client, *STORAGE, options=Options(local_path_root=root)):
        created = await client.create(PERSISTENT_VOLUME_CLAIMS, claim("dyn", ns, cls=None))
        assert created["spec"]["storageClassName"] == "local-path"

        async def waiting() -> list[Any]:
            return [e for e in await reasons(client, ns, "dyn")
                    if e[1] == "WaitForFirstConsumer"]
        await eventually(waiting, within=20, what="WaitForFirstConsumer event")
        created = await client.get(PERSISTENT_VOLUME_CLAIMS, "dyn", namespace=ns)
        created["metadata"].setdefault("annotations", {})[
            "volume.kubernetes.io/selected-node"] = node  # as the scheduler does
        await client.update(PERSISTENT_VOLUME_CLAIMS, created)
        pvc = await phase_of(client, PERSISTENT_VOLUME_CLAIMS, "dyn", "Bound", ns)
        uid = pvc["metadata"]["uid"]
        pv = await client.get(PERSISTENT_VOLUMES, f"pvc-{uid}")
        assert pv["spec"]["hostPath"] == {"path": str(root / uid), "type": "DirectoryOrCreate"}
        terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
        assert terms[0]["matchExpressions"][0]["values"] == [node]
        assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
        (root / uid).mkdir(parents=True)  # as the kubelet does on first mount
        (root / uid / "f").write_text("x")
        await client.delete(PERSISTENT_VOLUME_CLAIMS, "dyn", namespace=ns)

        async def cleaned() -> bool:
            try:
                await client.get(PERSISTENT_VOLUMES, f"pvc-{uid}")
            except errors.NotFound:
                return not (root / uid).exists()
            return False
        await eventually(cleaned, within=20, what="volume and directory removed")
    await client.delete(NODES, node)


async def gone(client: ApiClient, resource: Any, name: str, namespace: str | None = None
               ) -> bool:
    try:
        await client.get(resource, name, namespace=namespace)
    except errors.NotFound:
        return True
    return False


async def test_a_claim_in_use_and_its_bound_volume_outlive_their_deletion(
        client: ApiClient, ns: str, shared_apiserver: ApiServer, tmp_path: Path) -> None:
    cls, pv = uniq("held"), uniq("held")
    created = await client.create(PERSISTENT_VOLUMES, volume(pv, "1Gi", cls=cls))
    assert created["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]
    pvc = await client.create(PERSISTENT_VOLUME_CLAIMS, claim("data", ns, cls=cls))
    assert pvc["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    await client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                               "metadata": {"name": "user", "namespace": ns},
                               "spec": {"nodeName": "somewhere", "containers": [
                                   {"name": "c", "image": "busybox"}],
                                   "volumes": [{"name": "d", "persistentVolumeClaim": {
                                       "claimName": "data"}}]}})
    async with running(client, *STORAGE):
        await phase_of(client, PERSISTENT_VOLUME_CLAIMS, "data", "Bound", ns)
        # a volume bound to a claim: deleting it only marks it
        await client.delete(PERSISTENT_VOLUMES, pv)
        # the claim a scheduled pod names: the same, and kubectl shows it Terminating
        kubectl = Kubectl("kubectl", shared_apiserver, tmp_path)
        assert kubectl("delete", "pvc", "data", "-n", ns, "--wait=false").strip() == \
            'persistentvolumeclaim "data" deleted'
        await asyncio.sleep(1.5)  # time for the controllers to (wrongly) let go
        held = await client.get(PERSISTENT_VOLUME_CLAIMS, "data", namespace=ns)
        assert held["metadata"]["deletionTimestamp"]
        assert held["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
        assert kubectl("get", "pvc", "data", "-n", ns).splitlines()[1].split()[:3] == [
            "data", "Terminating", pv]
        assert (await client.get(PERSISTENT_VOLUMES, pv))["status"]["phase"] == "Bound"
        # the pod goes: the claim, then the volume it held (Released), go too
        await client.delete(PODS, "user", namespace=ns, grace_period_seconds=0)
        await eventually(lambda: gone(client, PERSISTENT_VOLUME_CLAIMS, "data", ns),
                         within=20, what="the claim deleted once no pod uses it")
        await eventually(lambda: gone(client, PERSISTENT_VOLUMES, pv), within=20,
                         what="the volume deleted once released")


async def test_a_protection_finalizer_taken_off_a_live_claim_comes_back(
        client: ApiClient, ns: str) -> None:
    await client.create(PERSISTENT_VOLUME_CLAIMS, claim("bare", ns, cls=uniq("none")))
    await client.patch(PERSISTENT_VOLUME_CLAIMS, "bare", {"metadata": {"finalizers": None}},
                       namespace=ns)
    async with running(client, *STORAGE):
        async def protected() -> bool:
            found = await client.get(PERSISTENT_VOLUME_CLAIMS, "bare", namespace=ns)
            return found["metadata"].get("finalizers") == ["kubernetes.io/pvc-protection"]
        await eventually(protected, within=20, what="the finalizer added again")
        # unused: deleting it deletes it
        await client.delete(PERSISTENT_VOLUME_CLAIMS, "bare", namespace=ns)
        await eventually(lambda: gone(client, PERSISTENT_VOLUME_CLAIMS, "bare", ns),
                         within=20, what="an unused claim deleted")


@pytest.mark.parametrize("binary", [KUBECTLS[0], KUBECTLS[-1]])
async def test_kubectl_tables(client: ApiClient, ns: str, shared_apiserver: ApiServer,
                              tmp_path: Path, binary: str) -> None:
    cls, name = uniq("tbl"), uniq("tbl")
    await client.create(PERSISTENT_VOLUMES, volume(name, "3Gi", cls=cls))
    async with running(client, *STORAGE):
        await client.create(PERSISTENT_VOLUME_CLAIMS, claim("t", ns, "1Gi", cls=cls))
        await phase_of(client, PERSISTENT_VOLUME_CLAIMS, "t", "Bound", ns)
    kubectl = Kubectl(binary, shared_apiserver, tmp_path)
    pv_out = kubectl("get", "pv", name).splitlines()
    assert pv_out[0].split() == ["NAME", "CAPACITY", "ACCESS", "MODES", "RECLAIM", "POLICY",
                                 "STATUS", "CLAIM", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS",
                                 "REASON", "AGE"]
    assert pv_out[1].split()[:7] == [name, "3Gi", "RWO", "Retain", "Bound", f"{ns}/t", cls]
    pvc_out = kubectl("get", "pvc", "-n", ns).splitlines()
    assert pvc_out[0].split() == ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES",
                                  "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "AGE"]
    assert pvc_out[1].split()[:7] == ["t", "Bound", name, "3Gi", "RWO", cls, "<unset>"]
    sc_out = kubectl("get", "sc", "local-path").splitlines()
    assert sc_out[0].split() == ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE",
                                 "ALLOWVOLUMEEXPANSION", "AGE"]
    assert sc_out[1].split()[:6] == ["local-path", "(default)", "kyb.io/local-path", "Delete",
                                     "WaitForFirstConsumer", "false"]
