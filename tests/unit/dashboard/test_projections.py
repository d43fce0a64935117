"""The map's projection keeps exactly what the map draws, in the objects' own shape,
and a long sync goes out in pages the page can draw one by one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kybernetes.dashboard.events import _sync
from kybernetes.dashboard.projections import map_node, map_pod, projection_for

POD = {"metadata": {"namespace": "ns", "name": "p", "uid": "u1", "resourceVersion": "7",
                    "labels": {"a": "b"}, "managedFields": [{"manager": "x"}]},
       "spec": {"nodeName": "n1", "containers": [
           {"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "100m"}}},
           {"name": "d", "image": "busybox"}]},
       "status": {"phase": "Running", "podIP": "10.0.0.1", "conditions": [{"type": "Ready"}]}}


def test_a_pod_keeps_what_the_map_draws() -> None:
    assert map_pod(POD) == {
        "metadata": {"namespace": "ns", "name": "p", "uid": "u1", "resourceVersion": "7"},
        "spec": {"nodeName": "n1", "containers": [{"resources": {"requests": {"cpu": "100m"}}},
                                                  {}]},
        "status": {"phase": "Running"}}
    unscheduled = map_pod({"metadata": {"name": "q", "deletionTimestamp": "t"}, "spec": {}})
    assert unscheduled == {"metadata": {"name": "q", "deletionTimestamp": "t"},
                           "spec": {"containers": []}, "status": {}}


def test_a_node_keeps_readiness_cordon_and_allocatable() -> None:
    node = {"metadata": {"name": "n1", "uid": "u", "resourceVersion": "3", "labels": {}},
            "spec": {"unschedulable": True, "podCIDR": "10.0.0.0/24"},
            "status": {"allocatable": {"cpu": "2", "pods": "110"}, "images": [{"names": ["x"]}],
                       "conditions": [{"type": "MemoryPressure", "status": "False"},
                                      {"type": "Ready", "status": "True", "reason": "R"}]}}
    assert map_node(node) == {
        "metadata": {"name": "n1", "uid": "u", "resourceVersion": "3"},
        "spec": {"unschedulable": True},
        "status": {"allocatable": {"cpu": "2", "pods": "110"},
                   "conditions": [{"type": "Ready", "status": "True"}]}}


def test_projections_exist_only_for_the_maps_lists() -> None:
    assert projection_for("", "/api/v1/services") is None
    assert projection_for("map", "/api/v1/namespaces/ns/pods") is map_pod
    assert projection_for("map", "/api/v1/nodes") is map_node
    with pytest.raises(KeyError):
        projection_for("map", "/api/v1/services")


@pytest.mark.parametrize(("count", "chunk", "sizes"), [
    (5, 0, [("sync", 5, None)]),
    (3, 3, [("sync", 3, None)]),
    (7, 3, [("sync", 3, True), ("page", 3, True), ("page", 1, False)]),
])
def test_a_long_sync_goes_out_in_pages(count: int, chunk: int,
                                       sizes: list[tuple[str, int, bool | None]]) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []

    async def emit(event: str, data: dict[str, Any]) -> None:
        sent.append((event, data))
    listed = {"kind": "PodList", "metadata": {"resourceVersion": "9"},
              "items": [{"n": i} for i in range(count)]}
    asyncio.run(_sync(listed, emit, chunk))
    assert [(e, len(d["items"]), d.get("more")) for e, d in sent] == sizes
    assert [i["n"] for _, d in sent for i in d["items"]] == list(range(count))
    assert sent[0][1]["metadata"] == {"resourceVersion": "9"}
