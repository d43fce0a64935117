"""Pure rules of the API server: strategies, continue tokens, watcher filtering."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kybernetes.api import resources as r
from kybernetes.api.errors import BadRequest, Invalid
from kybernetes.apiserver import strategy
from kybernetes.apiserver.lists import decode_continue, encode_continue
from kybernetes.apiserver.watch_cache import CacheEvent, Entry, WatchCache
from tests.support.kinds import kind

PODS, NAMESPACES, CONFIGMAPS = kind(r.PODS), kind(r.NAMESPACES), kind(r.CONFIGMAPS)


def pod(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "ns", "uid": "u1",
                         "creationTimestamp": "2026-01-01T00:00:00Z", "generation": 1},
            "spec": {"containers": [{"name": "c", "image": "i"}], **spec},
            "status": {"phase": "Running"}}


def test_create_sets_system_fields_and_resets_status() -> None:
    obj = pod()
    obj["metadata"].update(resourceVersion="5", deletionTimestamp="x")
    strategy.prepare_for_create(PODS, obj)
    meta = obj["metadata"]
    assert meta["uid"] != "u1" and len(meta["uid"]) == 36 and meta["generation"] == 1
    assert "resourceVersion" not in meta and "deletionTimestamp" not in meta
    assert obj["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    ns = {"metadata": {"name": "n"}}
    strategy.prepare_for_create(NAMESPACES, ns)
    assert ns["spec"]["finalizers"] == ["kubernetes"] and ns["status"]["phase"] == "Active"


def test_update_keeps_status_and_system_fields_and_bumps_generation() -> None:
    old = pod()
    new = pod(nodeSelector={"a": "b"})
    new["metadata"].update(generation=9)
    new["metadata"].pop("uid", None)  # left out: kept
    new["status"] = {"phase": "Failed"}
    result = strategy.prepare_for_update(PODS, new, old, subresource=None)
    assert result["status"] == {"phase": "Running"}
    assert result["metadata"]["uid"] == "u1" and result["metadata"]["generation"] == 2
    status_only = strategy.prepare_for_update(PODS, {**pod(nodeName="x"),
                                                       "status": {"phase": "Succeeded"}},
                                              old, subresource="status")
    assert status_only["spec"] == old["spec"] and status_only["status"]["phase"] == "Succeeded"


def test_update_may_not_change_the_uid() -> None:
    forged = pod()
    forged["metadata"]["uid"] = "forged"
    with pytest.raises(Invalid, match=r'metadata\.uid: Invalid value: "forged": field is '
                                      r'immutable'):
        strategy.prepare_for_update(PODS, forged, pod(), subresource=None)


def test_pod_grace_and_pending_delete() -> None:
    grace = PODS.strategy.delete_grace
    assert grace(pod(), None) == 0  # on no node: at once
    assert grace(pod(nodeName="n"), None) == 30
    assert grace(pod(nodeName="n", terminationGracePeriodSeconds=5), None) == 5
    assert grace(pod(nodeName="n"), 0) == 0
    assert strategy.pending_delete(PODS, pod(), grace=None, finalizers=[]) is None
    marked = strategy.pending_delete(PODS, pod(nodeName="n"), grace=10, finalizers=[])
    assert marked is not None and marked["metadata"]["deletionGracePeriodSeconds"] == 10
    held = strategy.pending_delete(CONFIGMAPS, {"metadata": {"name": "c"}}, grace=None,
                                   finalizers=["x"])
    assert held is not None and held["metadata"]["deletionGracePeriodSeconds"] == 0
    done = {**held, "metadata": {**held["metadata"], "finalizers": []}}
    assert strategy.finished_deleting(CONFIGMAPS, done, held)


def test_continue_tokens_round_trip_and_reject_garbage() -> None:
    token = encode_continue(42, "ns/p-7")
    assert decode_continue(token) == (42, "ns/p-7")
    with pytest.raises(BadRequest):
        decode_continue("not-a-token")


def test_watcher_sees_selector_transitions() -> None:
    async def run() -> list[tuple[str, str]]:
        cache = WatchCache(store=None)  # type: ignore[arg-type]
        rc = cache.for_prefix(CONFIGMAPS.key_prefix)
        prefix = "/registry/configmaps/ns/"
        watcher, initial, _ = rc.watch(
            prefix, lambda e: e.labels.get("app") == "a", from_rv=0)
        assert initial == []

        def entry(rv: int, app: str) -> Entry:
            return Entry(prefix + "c", {"metadata": {"name": "c", "labels": {"app": app},
                                                     "resourceVersion": str(rv)}}, rv)

        e1, e2, e3 = entry(1, "b"), entry(2, "a"), entry(3, "b")
        for ev in (CacheEvent("ADDED", e1, None), CacheEvent("MODIFIED", e2, e1),
                   CacheEvent("MODIFIED", e3, e2)):
            watcher.offer(ev)
        batch = await watcher.next_batch(0.1)
        return [(t, e.obj["metadata"]["resourceVersion"]) for t, e in batch]

    assert asyncio.run(run()) == [("ADDED", "2"), ("DELETED", "3")]
