"""A DaemonSet's RollingUpdate step: which old pods to delete, which nodes get a
new pod now. Pure, as Kubernetes' `rollingUpdate` (pkg/controller/daemon/update.go).

Without surge, old pods are deleted while at most maxUnavailable nodes are
unavailable (an unavailable old pod may always be replaced); the manage step then
creates the new pods. With surge, a new pod is created beside an old one on up to
maxSurge nodes (at once where the old pod is unavailable), and the old pod is
deleted when the new one is available.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


def scaled(value: Any, total: int) -> int:
    """An int-or-percent of `total`, rounded up (GetScaledValueFromIntOrPercent)."""
    if isinstance(value, str) and value.endswith("%"):
        try:
            return math.ceil(int(value[:-1]) * total / 100)
        except ValueError:
            return 0
    return int(value) if isinstance(value, int) else 0


def surge_and_unavailable(ds: Obj, desired: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) for `desired` nodes; never both 0 (then 1 unavailable)."""
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    surge = scaled(rolling.get("maxSurge", 0), desired)
    unavailable = scaled(rolling.get("maxUnavailable", 1), desired)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


@dataclass
class NodePods:
    """The one new and one old pod on a node (`ok` False: more than one of a kind)."""

    new: Obj | None = None
    old: Obj | None = None
    ok: bool = True


def split_node_pods(pods: list[Obj], updated: Callable[[Obj], bool]) -> NodePods:
    """findUpdatedPodsOnNode: pods being deleted do not count."""
    out = NodePods()
    for pod in pods:
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        if updated(pod):
            if out.new is not None:
                return NodePods(ok=False)
            out.new = pod
        else:
            if out.old is not None:
                return NodePods(ok=False)
            out.old = pod
    return out


@dataclass
class Step:
    delete: list[Obj] = field(default_factory=list)
    create_on: list[str] = field(default_factory=list)


def rolling_step(node_pods: dict[str, list[Obj]], *, updated: Callable[[Obj], bool],
                 available: Callable[[Obj], bool], should_run: Callable[[str], bool],
                 max_surge: int, max_unavailable: int, desired: int) -> Step:
    """One RollingUpdate step over every node's daemon pods."""
    if max_surge == 0:
        return _without_surge(node_pods, updated, available, max_unavailable)
    return _with_surge(node_pods, updated, available, should_run, max_surge, desired)


def _without_surge(node_pods: dict[str, list[Obj]], updated: Callable[[Obj], bool],
                   available: Callable[[Obj], bool], max_unavailable: int) -> Step:
    unavailable = 0
    replace: list[Obj] = []
    candidates: list[Obj] = []
    for name in sorted(node_pods):
        split = split_node_pods(node_pods[name], updated)
        if not split.ok or (split.new is None) == (split.old is None):
            unavailable += 1  # the manage step creates or deletes here
        elif split.new is not None:
            if not available(split.new):
                unavailable += 1
        elif split.old is not None:
            if not available(split.old):
                replace.append(split.old)
            elif unavailable < max_unavailable:
                candidates.append(split.old)
    room = min(max(max_unavailable - unavailable, 0), len(candidates))
    return Step(delete=replace + candidates[:room])


def _with_surge(node_pods: dict[str, list[Obj]], updated: Callable[[Obj], bool],
                available: Callable[[Obj], bool], should_run: Callable[[str], bool],
                max_surge: int, desired: int) -> Step:
    step = Step()
    not_wanted: list[Obj] = []
    candidates: list[str] = []
    allowed: list[str] = []
    surging = available_count = 0
    for name in sorted(node_pods):
        split = split_node_pods(node_pods[name], updated)
        if not split.ok:
            surging += 1
            continue
        current = split.new if split.new is not None else split.old
        if current is not None and available(current):
            available_count += 1
        if not should_run(name):
            if split.old is not None:
                not_wanted.append(split.old)
            continue
        if split.old is None:
            continue
        if split.new is None:
            if not available(split.old):
                allowed.append(name)
            elif surging < max_surge:
                candidates.append(name)
        elif not available(split.new):
            surging += 1
        else:
            step.delete.append(split.old)
    # Keep 100% availability: pods on nodes that no longer want one go only when
    # more than `desired` pods are available.
    deletable = min(max(available_count - desired, 0), len(not_wanted))
    step.delete.extend(not_wanted[:deletable])
    room = min(max(max_surge - surging, 0), len(candidates))
    step.create_on = allowed + candidates[:room]
    return step
