"""Storage object in-use protection, the pure parts: which objects need the finalizer
added or may lose it, which claims a pod holds, and the admission plugin's mutation."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.api.storage import PV_PROTECTION_FINALIZER, PVC_PROTECTION_FINALIZER
from kybernetes.apiserver.storage_protection import StorageObjectInUseProtection
from kybernetes.apiserver.webhooks.attributes import (
    CREATE,
    UPDATE,
    AdmissionAttributes,
    UserInfo,
)
from kybernetes.controllers.storage_protection import (
    claims_of,
    deletion_candidate,
    needs_finalizer,
    pod_uses_claim,
)

F = PVC_PROTECTION_FINALIZER


def claim(finalizers: list[str] | None = None, deleting: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "data", "namespace": "ns"}
    if finalizers is not None:
        metadata["finalizers"] = finalizers
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-30T00:00:00Z"
    return {"metadata": metadata}


def pod(*claims: str, node: str = "n1") -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns"},
            "spec": {"nodeName": node, "volumes": [
                {"name": "scratch", "emptyDir": {}},
                *({"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims)]}}


def test_finalizer_added_only_to_live_objects_and_removed_only_from_deleted_ones() -> None:
    assert needs_finalizer(claim(), F) and needs_finalizer(claim(["other"]), F)
    assert not needs_finalizer(claim([F]), F)
    assert not needs_finalizer(claim(deleting=True), F)  # too late to protect
    assert deletion_candidate(claim(["other", F], deleting=True), F)
    assert not deletion_candidate(claim([F]), F)
    assert not deletion_candidate(claim(["other"], deleting=True), F)


def test_a_scheduled_pod_naming_the_claim_holds_it() -> None:
    assert claims_of(pod("data", "logs")) == ["ns/data", "ns/logs"]
    assert pod_uses_claim(pod("data"), "data")
    assert not pod_uses_claim(pod("logs"), "data")
    assert not pod_uses_claim(pod("data", node=""), "data")  # never started on it
    finished = pod("data")
    finished["status"] = {"phase": "Succeeded"}
    assert pod_uses_claim(finished, "data")  # as Kubernetes: until the pod is gone


def attrs(resource: str, obj: dict[str, Any], operation: str = CREATE,
          subresource: str = "") -> AdmissionAttributes:
    return AdmissionAttributes(operation=operation, group="", version="v1",
                               resource=resource, kind="X", user=UserInfo("u"),
                               subresource=subresource, object=obj)


@pytest.mark.parametrize(("resource", "finalizer"), [
    ("persistentvolumeclaims", PVC_PROTECTION_FINALIZER),
    ("persistentvolumes", PV_PROTECTION_FINALIZER)])
async def test_admission_protects_new_claims_and_volumes(resource: str, finalizer: str) -> None:
    plugin = StorageObjectInUseProtection()
    sent = {"metadata": {"name": "x", "finalizers": ["mine"]}}
    changed, warnings = await plugin.mutate(attrs(resource, sent))
    assert changed is not None and warnings == []
    assert changed["metadata"]["finalizers"] == ["mine", finalizer]
    assert sent["metadata"]["finalizers"] == ["mine"]  # the request's object is not changed
    assert await plugin.mutate(attrs(resource, changed)) == (None, [])  # already there
    assert await plugin.mutate(attrs(resource, sent, operation=UPDATE)) == (None, [])
    assert await plugin.mutate(attrs(resource, sent, subresource="status")) == (None, [])
    assert await plugin.mutate(attrs("configmaps", sent)) == (None, [])
