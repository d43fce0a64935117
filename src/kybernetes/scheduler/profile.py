"""A profile: one schedulerName's plugins, and the algorithm that runs them.

`Profile.schedule(pod)` is one scheduling cycle's decision, as kube-scheduler's
`schedulePod`:

1. PreFilter every plugin once; a plugin answering SKIP is left out of Filter.
2. Filter nodes starting at a round-robin index, stopping once enough feasible
   nodes are found (`percentageOfNodesToScore`: adaptive 50% - nodes/125, at
   least 5% and at least 100 nodes). A node's verdict is the first rejecting
   plugin's Status. If none fits, PostFilter runs and a :class:`FitError`
   carries every node's Status for the message.
3. PreScore, Score each feasible node, NormalizeScore, multiply by the weights,
   sum; the best node wins, ties broken uniformly at random.

Everything here is synchronous CPU work on objects the cache owns; nothing is
copied.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from kybernetes.scheduler.config import ProfileConfig
from kybernetes.scheduler.framework import (
    BatchFilterPlugin,
    BatchScorePlugin,
    BindPlugin,
    Code,
    CycleState,
    FilterPlugin,
    Handle,
    NormalizeScorePlugin,
    Plugin,
    PostFilterPlugin,
    PreFilterPlugin,
    PreScorePlugin,
    ReservePlugin,
    ScorePlugin,
    Status,
)
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.plugins import REGISTRY
from kybernetes.scheduler.podinfo import PodInfo

MIN_FEASIBLE_NODES = 100
MIN_PERCENTAGE = 5
P = TypeVar("P", bound=Plugin)
NodesFilter = Callable[[CycleState, PodInfo, list[NodeInfo]], dict[int, Status]]
NodesScorer = Callable[[CycleState, PodInfo, list[NodeInfo]], Any]
Normalizer = Callable[[CycleState, PodInfo, list[int]], None]


class NoNodesAvailable(Exception):
    """The cluster has no nodes at all (a scheduler error, retried with back-off)."""

    def __init__(self) -> None:
        super().__init__("no nodes available to schedule pods")


class FitError(Exception):
    """No node fits the pod; `str()` is Kubernetes' FailedScheduling message."""

    def __init__(self, pod: PodInfo, total: int, statuses: dict[str, Status], *,
                 pre_filter: Status | None = None, post_filter: Status | None = None,
                 rejectors: frozenset[str] = frozenset()) -> None:
        self.pod = pod
        self.total = total
        self.statuses = statuses
        self.rejectors = rejectors
        self.pre_filter = pre_filter
        self.post_filter = post_filter
        super().__init__(self.message())

    def plugins(self) -> frozenset[str]:
        """The plugins that turned the pod away (for the queue's event hints)."""
        if self.pre_filter is not None and self.pre_filter.plugin:
            return self.rejectors | {self.pre_filter.plugin}
        return self.rejectors

    def message(self) -> str:
        msg = f"0/{self.total} nodes are available:"
        if self.pre_filter is not None:
            msg += f" {self.pre_filter.message()}."
        else:
            counts: Counter[str] = Counter()
            for status in self.statuses.values():
                counts.update(status.reasons)
            reasons = sorted(f"{n} {reason}" for reason, n in counts.items())
            if reasons:
                msg += f" {', '.join(reasons)}."
        if self.post_filter is not None and self.post_filter.reasons:
            msg += f" {self.post_filter.message()}."
        return msg


def _nodes_filter(plugin: FilterPlugin) -> NodesFilter:
    """The plugin's rejections among many nodes by position: its `filter_nodes`, or
    its `filter` asked node by node."""
    if isinstance(plugin, BatchFilterPlugin):
        return plugin.filter_nodes
    f = plugin.filter

    def one_by_one(state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
                   ) -> dict[int, Status]:
        rejected = {}
        for i, node in enumerate(nodes):
            status = f(state, pod, node)
            if status is not None:
                rejected[i] = status
        return rejected
    return one_by_one


def _nodes_scorer(plugin: ScorePlugin) -> NodesScorer:
    """The plugin's scores of many nodes in node order: its `score_nodes`, or its
    `score` asked node by node."""
    if isinstance(plugin, BatchScorePlugin):
        return plugin.score_nodes
    score = plugin.score
    return lambda state, pod, nodes: [score(state, pod, n) for n in nodes]


def num_feasible_nodes_to_find(nodes: int, percentage: int) -> int:
    """How many feasible nodes are enough to score, as kube-scheduler computes it."""
    if nodes < MIN_FEASIBLE_NODES:
        return nodes
    adaptive = percentage or max(50 - nodes // 125, MIN_PERCENTAGE)
    return max(nodes * adaptive // 100, MIN_FEASIBLE_NODES)


class Profile:
    """The plugins of one schedulerName, instantiated, per extension point."""

    def __init__(self, config: ProfileConfig, handle: Handle, *,
                 percentage_of_nodes_to_score: int = 0, rng: random.Random | None = None) -> None:
        self.name = config.scheduler_name
        self.handle = handle
        self.percentage = percentage_of_nodes_to_score
        self.rng = rng or random.Random()
        self.next_start = 0
        names = {n for entries in config.plugins.values() for n, _ in entries}
        self.plugins = {n: REGISTRY[n](config.args.get(n), handle) for n in sorted(names)}
        p = config.plugins
        self.pre_filter = self._at(PreFilterPlugin, p["preFilter"])
        self.filter = self._at(FilterPlugin, p["filter"])
        self.post_filter = self._at(PostFilterPlugin, p["postFilter"])
        self.pre_score = self._at(PreScorePlugin, p["preScore"])
        self.score = list(zip(self._at(ScorePlugin, p["score"]), (w for _, w in p["score"]),
                              strict=True))
        # how each plugin sees many nodes at once, found once here, not per pod
        self._nodes_filters = [(f, _nodes_filter(f)) for f in self.filter]
        self._scorers: list[tuple[ScorePlugin, int, NodesScorer, Normalizer | None]] = [
            (scorer, weight, _nodes_scorer(scorer),
             scorer.normalize_scores if isinstance(scorer, NormalizeScorePlugin) else None)
            for scorer, weight in self.score]
        self.reserve = self._at(ReservePlugin, p["reserve"])
        self.bind = self._at(BindPlugin, p["bind"])

    def _at(self, point: type[P], entries: list[tuple[str, int]]) -> list[P]:
        """The plugins listed for one extension point, each checked against its protocol
        once here rather than failing in the middle of a scheduling cycle."""
        plugins = [self.plugins[n] for n, _ in entries]
        wrong = [p.name for p in plugins if not isinstance(p, point)]
        if wrong:
            raise TypeError(f"plugins {wrong} do not implement {point.__name__}")
        return [p for p in plugins if isinstance(p, point)]

    # --- one decision -------------------------------------------------------------

    def schedule(self, pod: PodInfo, state: CycleState) -> str:
        """The node for `pod`; raises FitError (or RuntimeError for a plugin error)."""
        state.run_filters = self.run_filters
        nodes = self.handle.cache.nodes()
        if not nodes:
            raise NoNodesAvailable()
        for plugin in self.pre_filter:
            status = plugin.pre_filter(state, pod)
            if status is None:
                continue
            if status.code == Code.SKIP:
                state.skip_filter.add(plugin.name)
            elif status.code == Code.ERROR:
                raise RuntimeError(f"{plugin.name}: {status.message()}")
            else:
                raise FitError(pod, len(nodes), {}, pre_filter=status.with_plugin(plugin.name))
        rejectors: set[str] = set()
        feasible, statuses = self._find_feasible(pod, state, nodes, rejectors)
        if not feasible:
            post = None
            for post_filter in self.post_filter:
                post = post_filter.post_filter(state, pod, statuses) or post
            raise FitError(pod, len(nodes), statuses, post_filter=post,
                           rejectors=frozenset(rejectors))
        if len(feasible) == 1:
            return feasible[0].name
        return self._select(self._prioritize(pod, state, feasible), feasible)

    def run_filters(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """Every filter of this cycle on one node: the first rejection, or None."""
        for plugin in self.filter:
            if plugin.name not in state.skip_filter:
                status = plugin.filter(state, pod, node)
                if status is not None:
                    return status.with_plugin(plugin.name)
        return None

    def _find_feasible(self, pod: PodInfo, state: CycleState, nodes: list[NodeInfo],
                       rejectors: set[str]) -> tuple[list[NodeInfo], dict[str, Status]]:
        """Filter in chunks from the round-robin start until `want` nodes fit.

        `rejectors` collects the names of the plugins that rejected some node.

        Each chunk goes through the filters as a pipeline (a node rejected by one
        filter is not shown to the next); a plugin with `filter_nodes` sees the
        whole chunk in one call, with the chunk's NodeTable rows in `state.rows`.
        On return `state.rows` holds the feasible nodes' rows, for scoring.
        """
        filters = [(p, f) for p, f in self._nodes_filters if p.name not in state.skip_filter]
        total = len(nodes)
        want = num_feasible_nodes_to_find(total, self.percentage)
        start = self.next_start % total
        feasible: list[NodeInfo] = []
        feasible_rows: list[np.ndarray] = []
        statuses: dict[str, Status] = {}
        pos = 0
        while pos < total and len(feasible) < want:
            size = min(max(want - len(feasible), 64), total - pos)
            lo = (start + pos) % total
            chunk = nodes[lo:lo + size]
            if len(chunk) < size:  # the window wraps around the end
                chunk += nodes[:size - len(chunk)]
            rows = (np.arange(size) + lo) % total
            pos += len(chunk)
            for plugin, filter_nodes in filters:
                state.rows = rows
                rejected = filter_nodes(state, pod, chunk)
                if rejected:
                    rejectors.add(plugin.name)
                    for i, status in rejected.items():
                        if status.code == Code.ERROR:
                            raise RuntimeError(f"{plugin.name} on {chunk[i].name}: "
                                               f"{status.message()}")
                        statuses[chunk[i].name] = status
                    keep = np.ones(len(chunk), dtype=bool)
                    keep[list(rejected)] = False
                    chunk = [n for i, n in enumerate(chunk) if i not in rejected]
                    rows = rows[keep]
            feasible += chunk
            feasible_rows.append(rows)
        del feasible[want:]
        state.rows = np.concatenate(feasible_rows)[:want] if feasible_rows else None
        self.next_start = (start + pos) % total
        return feasible, statuses

    def _prioritize(self, pod: PodInfo, state: CycleState,
                    nodes: list[NodeInfo]) -> np.ndarray:
        """The weighted sum of the scores of each node, in node order."""
        for plugin in self.pre_score:
            status = plugin.pre_score(state, pod, nodes)
            if status is not None and status.code == Code.SKIP:
                state.skip_score.add(plugin.name)
            elif status is not None and status.code == Code.ERROR:
                raise RuntimeError(f"{plugin.name}: {status.message()}")
        totals = np.zeros(len(nodes), dtype=np.int64)
        for scorer, weight, score_nodes, normalize in self._scorers:
            if scorer.name in state.skip_score:
                continue
            scores = score_nodes(state, pod, nodes)
            if normalize is not None:
                scores = list(scores)
                normalize(state, pod, scores)
            totals += np.asarray(scores, dtype=np.int64) * weight
        return totals

    def _select(self, totals: np.ndarray, nodes: list[NodeInfo]) -> str:
        """The best-scored node; ties broken uniformly at random."""
        ties = np.flatnonzero(totals == totals.max())
        return nodes[int(ties[0] if len(ties) == 1 else self.rng.choice(ties))].name

    # --- after the decision -------------------------------------------------------

    def run_reserve(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        for i, plugin in enumerate(self.reserve):
            status = plugin.reserve(state, pod, node)
            if status is not None and status.code != Code.SUCCESS:
                for done in reversed(self.reserve[:i + 1]):
                    done.unreserve(state, pod, node)
                return status.with_plugin(plugin.name)
        return None

    def run_unreserve(self, state: CycleState, pod: PodInfo, node: str) -> None:
        for plugin in reversed(self.reserve):
            plugin.unreserve(state, pod, node)

    async def run_bind(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        for plugin in self.bind:
            status = await plugin.bind(state, pod, node)
            if status is None or status.code != Code.SKIP:
                return status
        return None
