"""Which pods a replica controller deletes first when it scales down.

As Kubernetes' ActivePodsWithRanks: the least valuable pod goes first, by
comparing in order (an earlier rule decides):

1. unassigned before assigned to a node;
2. Pending before Unknown before Running;
3. not ready before ready;
4. lower `controller.kubernetes.io/pod-deletion-cost` first;
5. "doubled up" first: more pods of this controller on the same node;
6. ready for a shorter time first (never ready counts as shortest);
7. more container restarts first;
8. newer before older (no creation time first).

Times compare on a logarithmic scale (whole powers of two of seconds), as
Kubernetes' LogarithmicScaleDown, so near-identical ages do not force an
order and rank decides instead.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from typing import Any

from kybernetes.api.meta import is_pod_ready, parse_time, pod_condition

DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}

Pod = dict[str, Any]


def _log_age(since: dt.datetime | None, now: dt.datetime) -> float:
    """-inf for no time, else floor(log2(seconds)) (newer = smaller)."""
    if since is None:
        return -math.inf
    seconds = max((now - since).total_seconds(), 0.0)
    return math.floor(math.log2(seconds)) if seconds >= 1 else 0


def _deletion_cost(pod: Pod) -> int:
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(DELETION_COST)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def _restarts(pod: Pod) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or ()
    return max((int(s.get("restartCount") or 0) for s in statuses), default=0)


def _sort_key(pod: Pod, rank: int, now: dt.datetime) -> tuple[Any, ...]:
    node = (pod.get("spec") or {}).get("nodeName")
    ready = is_pod_ready(pod)
    ready_since = parse_time((pod_condition(pod, "Ready") or {}).get("lastTransitionTime"))
    created = parse_time((pod.get("metadata") or {}).get("creationTimestamp"))
    return (
        bool(node),
        _PHASE_ORDER.get((pod.get("status") or {}).get("phase") or "Pending", 0),
        ready,
        _deletion_cost(pod),
        -rank,
        _log_age(ready_since, now) if ready else -math.inf,
        -_restarts(pod),
        _log_age(created, now),
    )


def pods_to_delete(pods: list[Pod], related: list[Pod], count: int,
                   now: dt.datetime | None = None) -> list[Pod]:
    """The `count` least valuable of `pods`; `related` pods rank nodes by crowding."""
    now = now or dt.datetime.now(dt.UTC)
    per_node = Counter((p.get("spec") or {}).get("nodeName") for p in related)
    def rank(p: Pod) -> int:
        node = (p.get("spec") or {}).get("nodeName")
        return per_node[node] if node else 0
    return sorted(pods, key=lambda p: _sort_key(p, rank(p), now))[:count]
