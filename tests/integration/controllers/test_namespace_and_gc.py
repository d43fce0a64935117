"""Namespace deletion and the three cascade modes, driven by the real kubectl."""

from __future__ import annotations

import asyncio

import pytest

from kybernetes.api import errors
from kybernetes.api.meta import owner_reference
from kybernetes.api.resources import (
    CONFIGMAPS,
    CUSTOM_RESOURCE_DEFINITIONS,
    NAMESPACES,
    REPLICATION_CONTROLLERS,
    SERVICES,
    Resource,
)
from kybernetes.client import ApiClient
from tests.integration.controllers.helpers import pods_of, rc, running
from tests.support.kubectl import Kubectl
from tests.support.poll import eventually

GC = ("replicationcontroller", "garbagecollector")


async def _gone(client: ApiClient, resource, name: str, ns: str | None) -> bool:
    try:
        await client.get(resource, name, namespace=ns)
    except errors.NotFound:
        return True
    return False


async def _pods_with_owner(client: ApiClient, ns: str, n: int) -> list[dict]:
    async def check() -> list[dict] | None:
        pods = await pods_of(client, "app=cascade", ns)
        owned = [p for p in pods if p["metadata"].get("ownerReferences")]
        return pods if len(owned) == n else None
    return await eventually(check, what=f"{n} owned pods")


async def test_deleting_a_namespace_empties_it_then_removes_it(
        client: ApiClient, ns: str) -> None:
    async with running(client, "namespace", *GC):
        await client.create(REPLICATION_CONTROLLERS, rc("web", 3, namespace=ns))
        await client.create(CONFIGMAPS, {"metadata": {"name": "cfg", "namespace": ns}})
        await client.create(SERVICES, {"metadata": {"name": "svc", "namespace": ns},
                                       "spec": {"ports": [{"port": 80}]}})
        await eventually(lambda: pods_of(client, "app=web", ns), what="pods")
        await client.delete(NAMESPACES, ns)
        await eventually(lambda: _gone(client, NAMESPACES, ns, None), what="namespace gone")
        assert not (await client.list(CONFIGMAPS, namespace=ns))["items"]


@pytest.mark.parametrize("cascade", ["background", "foreground"])
async def test_cascading_delete_removes_the_pods(
        client: ApiClient, ns: str, kubectl: Kubectl, cascade: str) -> None:
    async with running(client, *GC):
        await client.create(REPLICATION_CONTROLLERS, rc("cascade", 3, namespace=ns))
        await _pods_with_owner(client, ns, 3)
        await kubectl.arun("delete", "rc", "cascade", "-n", ns, f"--cascade={cascade}",
                           "--wait=false")

        async def all_gone() -> bool:
            return not await pods_of(client, "app=cascade", ns, active=False) and await _gone(
                client, REPLICATION_CONTROLLERS, "cascade", ns)
        await eventually(all_gone, what=f"rc and pods gone ({cascade})")


async def test_foreground_keeps_the_owner_until_its_pods_are_gone(
        client: ApiClient, ns: str) -> None:
    await client.create(REPLICATION_CONTROLLERS, rc("cascade", 2, namespace=ns))
    async with running(client, "replicationcontroller"):
        await _pods_with_owner(client, ns, 2)
    # No garbage collector yet: a foreground delete must wait for it.
    await client.delete(REPLICATION_CONTROLLERS, "cascade", namespace=ns,
                        propagation_policy="Foreground")
    owner = await client.get(REPLICATION_CONTROLLERS, "cascade", namespace=ns)
    assert owner["metadata"]["deletionTimestamp"]
    assert "foregroundDeletion" in owner["metadata"]["finalizers"]
    assert len(await pods_of(client, "app=cascade", ns)) == 2
    async with running(client, *GC):
        await eventually(lambda: _gone(client, REPLICATION_CONTROLLERS, "cascade", ns),
                         what="owner deleted after its pods")
        assert not await pods_of(client, "app=cascade", ns, active=False)


async def test_orphan_cascade_keeps_pods_without_owner(
        client: ApiClient, ns: str, kubectl: Kubectl) -> None:
    async with running(client, *GC):
        await client.create(REPLICATION_CONTROLLERS, rc("cascade", 3, namespace=ns))
        await _pods_with_owner(client, ns, 3)
        await kubectl.arun("delete", "rc", "cascade", "-n", ns, "--cascade=orphan",
                           "--wait=false")
        await eventually(lambda: _gone(client, REPLICATION_CONTROLLERS, "cascade", ns),
                         what="rc gone")
        await asyncio.sleep(0.3)
        pods = await pods_of(client, "app=cascade", ns)
        assert len(pods) == 3
        assert all(not p["metadata"].get("ownerReferences") for p in pods)


GADGETS = Resource("demo.kyb.io", "v1", "gadgets", "Gadget", True)


async def _gadget_crd(client: ApiClient) -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "gadgets.demo.kyb.io"},
           "spec": {"group": "demo.kyb.io", "scope": "Namespaced",
                    "names": {"plural": "gadgets", "kind": "Gadget"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {
                                      "type": "object",
                                      "x-kubernetes-preserve-unknown-fields": True}}}]}}
    try:
        await client.create(CUSTOM_RESOURCE_DEFINITIONS, crd)
    except errors.AlreadyExists:
        pass

    async def served() -> bool:
        try:
            await client.list(GADGETS, namespace="default")
        except errors.NotFound:
            return False
        return True
    await eventually(served, what="gadgets served")


async def test_custom_resources_own_and_are_collected(client: ApiClient, ns: str) -> None:
    """The collector learns a CRD's kind from discovery: deleting a custom resource
    deletes the ConfigMap it owns; deleting the namespace deletes custom resources."""
    await _gadget_crd(client)
    async with running(client, "namespace", *GC):
        owner = await client.create(GADGETS, {"apiVersion": "demo.kyb.io/v1", "kind": "Gadget",
                                              "metadata": {"name": "g", "namespace": ns}})
        ref = owner_reference(owner)
        await client.create(CONFIGMAPS, {"metadata": {"name": "owned", "namespace": ns,
                                                      "ownerReferences": [ref]}})
        await client.create(GADGETS, {"apiVersion": "demo.kyb.io/v1", "kind": "Gadget",
                                      "metadata": {"name": "left", "namespace": ns}})
        await client.delete(GADGETS, "g", namespace=ns)
        await eventually(lambda: _gone(client, CONFIGMAPS, "owned", ns), what="owned cm gone")
        await client.delete(NAMESPACES, ns)
        await eventually(lambda: _gone(client, NAMESPACES, ns, None), what="namespace gone")
        assert not (await client.list(GADGETS, namespace=ns))["items"]
