"""Projections of live lists: only the fields a page draws.

The map draws 10,000 pods and 1,000 nodes; whole objects are ~2 KB a pod, and parsing
and holding 20 MB in the browser was most of its first paint. A watch asked with
``"projection": "map"`` sends each pod and node cut down to what the map shows, in
the objects' own shape (so the page reads ``pod.status.phase`` either way):

* pod: ``metadata`` {namespace, name, uid, resourceVersion, deletionTimestamp},
  ``spec`` {nodeName, containers[].resources.requests}, ``status`` {phase};
* node: ``metadata`` {name, uid, resourceVersion}, ``spec`` {unschedulable},
  ``status`` {allocatable, conditions: [Ready]}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
Projection = Callable[[Obj], Obj]
_MAP_META = ("namespace", "name", "uid", "resourceVersion", "deletionTimestamp")


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata") or {}
    return {k: meta[k] for k in _MAP_META if k in meta}


def map_pod(pod: Obj) -> Obj:
    spec = pod.get("spec") or {}
    containers = []
    for c in spec.get("containers") or ():
        requests = (c.get("resources") or {}).get("requests")
        containers.append({"resources": {"requests": requests}} if requests else {})
    slim_spec: Obj = {"containers": containers}
    if spec.get("nodeName"):
        slim_spec["nodeName"] = spec["nodeName"]
    phase = (pod.get("status") or {}).get("phase")
    return {"metadata": _meta(pod), "spec": slim_spec,
            "status": {"phase": phase} if phase else {}}


def map_node(node: Obj) -> Obj:
    status = node.get("status") or {}
    ready = [{"type": c.get("type"), "status": c.get("status")}
             for c in status.get("conditions") or () if c.get("type") == "Ready"]
    spec = {"unschedulable": True} if (node.get("spec") or {}).get("unschedulable") else {}
    return {"metadata": _meta(node), "spec": spec,
            "status": {"allocatable": status.get("allocatable") or {}, "conditions": ready}}


_PROJECTIONS: dict[tuple[str, str], Projection] = {("map", "pods"): map_pod,
                                                   ("map", "nodes"): map_node}


def projection_for(name: str, path: str) -> Projection | None:
    """The projection `name` of the list at `path`; KeyError if it has none."""
    if not name:
        return None
    return _PROJECTIONS[(name, path.rstrip("/").rsplit("/", 1)[-1])]
