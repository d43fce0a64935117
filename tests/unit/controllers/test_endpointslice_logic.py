"""EndpointSlice packing and endpoint conditions (pure)."""

from __future__ import annotations

from typing import Any

from kybernetes.controllers.endpointslice import (
    desired,
    plan,
    pod_endpoint,
    slice_template,
)

SERVICE = {"metadata": {"name": "web", "namespace": "ns", "uid": "u1"},
           "spec": {"selector": {"app": "web"}, "ports": [{"name": "h", "port": 80,
                                                           "targetPort": 8080}]}}


def _pod(i: int, *, ready: bool = True, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": f"p{i}", "namespace": "ns", "uid": f"uid{i}"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "spec": {"nodeName": "n1"},
            "status": {"podIP": f"10.0.{i // 200}.{i % 200 + 1}", "phase": "Running",
                       "conditions": [{"type": "Ready", "status": str(ready)}]}}


def test_conditions_as_kube() -> None:
    assert pod_endpoint(_pod(1), SERVICE, "z1")["conditions"] == {
        "ready": True, "serving": True, "terminating": False}
    ep = pod_endpoint(_pod(1, deleting=True), SERVICE, None)
    assert ep["conditions"] == {"ready": False, "serving": True, "terminating": True}
    assert pod_endpoint(_pod(1), SERVICE, "z1")["zone"] == "z1"


def _named(bodies: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    for i, b in enumerate(bodies):
        b["metadata"]["name"] = f"{prefix}{i}"
    return bodies


def test_packing_at_100_and_keeping_endpoints_in_place() -> None:
    template = slice_template(SERVICE)
    groups = desired(SERVICE, [_pod(i) for i in range(250)], {})
    first = plan([], groups, template)
    assert [len(s["endpoints"]) for s in first.create] == [100, 100, 50]
    assert first.update == [] and first.delete == []
    existing = _named(first.create, "web-")
    # Ten pods of the first slice go away, five new ones come: the first slice is
    # refilled, the others are untouched.
    gone = {ep["targetRef"]["name"] for ep in existing[0]["endpoints"][:10]}
    pods = [_pod(i) for i in range(255) if f"p{i}" not in gone]
    second = plan(existing, desired(SERVICE, pods, {}), template)
    assert second.create == [] and second.delete == []
    assert [s["metadata"]["name"] for s in second.update] == ["web-0"]
    assert len(second.update[0]["endpoints"]) == 95


def test_placeholder_and_stale_port_sets() -> None:
    template = slice_template(SERVICE)
    empty = plan([], {}, template)
    assert len(empty.create) == 1 and empty.create[0]["endpoints"] == []
    placeholder = _named(empty.create, "web-")
    filled = plan(placeholder, desired(SERVICE, [_pod(1)], {}), template)
    assert filled.delete == ["web-0"] and len(filled.create) == 1
    assert plan(placeholder, {}, template).create == []
