"""TaintToleration: a node's NoSchedule/NoExecute taints keep out pods that do not
tolerate them (Filter); untolerated PreferNoSchedule taints lower a node's score.

Matching is `v1.Toleration.ToleratesTaint`: an empty toleration effect matches
every effect, an empty key with operator Exists matches every key, operator
Equal (the default) compares values. The rejection reason is Kubernetes' own:
`node(s) had untolerated taint {key: value}`.
"""

from __future__ import annotations

from typing import Any

from kybernetes.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    CycleState,
    Handle,
    Status,
    unresolvable,
)
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo

Toleration = tuple[str, str, str, str]  # key, operator, value, effect
NO_SCHEDULE, PREFER_NO_SCHEDULE, NO_EXECUTE = "NoSchedule", "PreferNoSchedule", "NoExecute"


def tolerates(toleration: Toleration, key: str, value: str, effect: str) -> bool:
    t_key, t_op, t_value, t_effect = toleration
    if t_effect and t_effect != effect:
        return False
    if t_key and t_key != key:
        return False
    if t_op == "Exists":
        return True
    return t_op in ("", "Equal") and t_value == value


def tolerated(tolerations: tuple[Toleration, ...], key: str, value: str, effect: str) -> bool:
    return any(tolerates(t, key, value, effect) for t in tolerations)


def untolerated_taint_reason(key: str, value: str) -> str:
    return f"node(s) had untolerated taint {{{key}: {value}}}"


class TaintToleration:
    name = "TaintToleration"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        self.handle = handle

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return None if self.handle is None or self.handle.cache.any_node("tainted") else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        for key, value, effect in node.taints:
            if effect in (NO_SCHEDULE, NO_EXECUTE) and not tolerated(
                    pod.tolerations, key, value, effect):
                return unresolvable(untolerated_taint_reason(key, value))
        return None

    def pre_score(self, state: CycleState, pod: PodInfo,
                  nodes: list[NodeInfo]) -> Status | None:
        if self.handle is not None and not self.handle.cache.any_node("prefer_no_schedule"):
            return SKIP
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return sum(1 for key, value, effect in node.taints
                   if effect == PREFER_NO_SCHEDULE
                   and not tolerated(pod.tolerations, key, value, effect))

    def normalize_scores(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize(scores, reverse=True)


def default_normalize(scores: list[int], *, reverse: bool) -> None:
    """helper.DefaultNormalizeScore: scale to [0, 100] by the maximum, maybe reversed."""
    top = max(scores, default=0)
    if top == 0:
        if reverse:
            scores[:] = [MAX_NODE_SCORE] * len(scores)
        return
    for i, s in enumerate(scores):
        s = MAX_NODE_SCORE * s // top
        scores[i] = MAX_NODE_SCORE - s if reverse else s
