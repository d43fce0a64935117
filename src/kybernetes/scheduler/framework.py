"""The scheduling framework: plugin protocols, `Status`, and per-cycle state.

Modelled on kube-scheduler's `framework/interface.go`. A plugin is a class with a
`name`; it takes part in an extension point by having that point's method, and a
profile lists which plugins run at which point. Plugins never raise for an
expected outcome: they return a :class:`Status` whose code says what happens to
the pod, and whose reasons make up the Unschedulable message::

    PreFilter → Filter (per node) → [PostFilter] → PreScore → Score (per node)
      → NormalizeScore → Reserve → Bind   (Unreserve if anything after Reserve fails)

`None` is the cheap spelling of Success everywhere (hot loops run it 10^6 times);
a PreFilter or PreScore may return :data:`SKIP` to say "I have nothing to do for
this pod", and the runtime then leaves that plugin out of the per-node loops.
"""

from __future__ import annotations

import builtins
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from kybernetes.api.resources import Resource
from kybernetes.client.verbs import SubresourceCreator

if TYPE_CHECKING:
    from kybernetes.scheduler.cache import Cache
    from kybernetes.scheduler.nodeinfo import NodeInfo
    from kybernetes.scheduler.podinfo import PodInfo

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0


class Code(enum.IntEnum):
    """What a plugin's verdict means for the pod."""

    SUCCESS = 0
    #: A plugin failed unexpectedly; the pod is retried with back-off.
    ERROR = 1
    #: The node does not fit now; preemption or a change in the cluster may help,
    #: so the pod waits in the unschedulable queue for an event that could help.
    UNSCHEDULABLE = 2
    #: The node can never fit this pod as it stands (wrong labels, a taint):
    #: preemption cannot help; the pod still waits for cluster events.
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    #: PreFilter/PreScore only: this plugin has nothing to do for this pod.
    SKIP = 4


@dataclass(frozen=True, slots=True)
class Status:
    """A plugin's verdict: a code, the reasons (one message part each), the plugin."""

    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def ok(self) -> bool:
        return self.code == Code.SUCCESS

    @property
    def rejected(self) -> bool:
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def message(self) -> str:
        return ", ".join(self.reasons)

    def with_plugin(self, plugin: str) -> Status:
        return self if self.plugin else Status(self.code, self.reasons, plugin)


SKIP = Status(Code.SKIP)


def unschedulable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, reasons)


def unresolvable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons)


def error(reason: str) -> Status:
    return Status(Code.ERROR, (reason,))


@dataclass(slots=True)
class CycleState:
    """Data a plugin computes in PreFilter/PreScore and reads per node; one per attempt."""

    data: dict[str, Any] = field(default_factory=dict)
    #: Filled by the runtime: plugins that skipped themselves in this cycle.
    skip_filter: set[str] = field(default_factory=set)
    skip_score: set[str] = field(default_factory=set)
    #: Filled by the runtime for batch calls: the NodeTable rows of the nodes passed
    #: to `filter_nodes` / `score_nodes` (a numpy array), or None.
    rows: Any = None
    #: Filled by the runtime: this profile's filters on one node (the first rejection
    #: or None), for PostFilter plugins that try what-ifs on a copy of a node.
    run_filters: Callable[[CycleState, PodInfo, NodeInfo], Status | None] | None = None

    def read(self, key: str) -> Any:
        return self.data[key]

    def write(self, key: str, value: Any) -> None:
        self.data[key] = value


class Lister(Protocol):
    """Reads of an informer's cache: all a plugin may do with another resource."""

    def list(self, namespace: str | None = None) -> builtins.list[dict[str, Any]]: ...

    def get(self, key: str) -> dict[str, Any] | None: ...


class Preemptor(Protocol):
    """What preemption does to the cluster (the scheduler's API calls)."""

    def nominate(self, pod: PodInfo, node: str) -> None:
        """Hold `node`'s room for `pod` (it already preempted pods there)."""

    def preempt(self, pod: PodInfo, node: str, victims: builtins.list[PodInfo]) -> None:
        """Nominate `pod` to `node` and evict `victims` from it."""


@dataclass
class Handle:
    """What plugins may use: the API client (to bind), the cache, informers of other
    resources, and the preemptor (None: preemption only decides, nothing is done)."""

    client: SubresourceCreator
    cache: Cache
    informer: Callable[[Resource], Lister]
    preemptor: Preemptor | None = None


# --- the extension points -----------------------------------------------------------


@runtime_checkable
class Plugin(Protocol):
    name: str


@runtime_checkable
class PreFilterPlugin(Plugin, Protocol):
    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        """Check the pod once per cycle; return SKIP when Filter has nothing to do."""


@runtime_checkable
class FilterPlugin(Plugin, Protocol):
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """None (fits) or a rejecting Status for this node."""


@runtime_checkable
class BatchFilterPlugin(FilterPlugin, Protocol):
    def filter_nodes(self, state: CycleState, pod: PodInfo,
                     nodes: list[NodeInfo]) -> dict[int, Status]:
        """The rejections among many nodes, by position, in one call (the profile then
        uses this rather than `filter` per node)."""


@runtime_checkable
class PostFilterPlugin(Plugin, Protocol):
    def post_filter(self, state: CycleState, pod: PodInfo,
                    statuses: dict[str, Status]) -> Status | None:
        """Called when no node fits (preemption lives here in Kubernetes)."""


@runtime_checkable
class PreScorePlugin(Plugin, Protocol):
    def pre_score(self, state: CycleState, pod: PodInfo,
                  nodes: list[NodeInfo]) -> Status | None:
        """Prepare scoring over the feasible nodes; SKIP leaves Score out."""


@runtime_checkable
class ScorePlugin(Plugin, Protocol):
    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """A score in [0, 100] (or raw, when normalize_scores is defined)."""


@runtime_checkable
class BatchScorePlugin(ScorePlugin, Protocol):
    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Any:
        """`score` for many nodes in one call (a list or a numpy array, in node order);
        the profile then uses this rather than `score` per node."""


@runtime_checkable
class NormalizeScorePlugin(ScorePlugin, Protocol):
    def normalize_scores(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Rescale this plugin's raw scores (in node order) into [0, 100], in place."""


@runtime_checkable
class ReservePlugin(Plugin, Protocol):
    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None: ...

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None: ...


@runtime_checkable
class BindPlugin(Plugin, Protocol):
    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        """Bind the pod; SKIP passes to the next bind plugin."""
