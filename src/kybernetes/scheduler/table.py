"""The per-node sums as numpy columns, so one pod's filter and score over hundreds
of nodes are a few vector operations instead of a Python loop.

The cache owns one :class:`NodeTable` per version of its node list: row `i` is
`cache.nodes()[i]` (and `NodeInfo.row == i`). Every change to a node's sums
rewrites its row in O(1), so the table is always current; adding or removing a
node rebuilds it (rare next to pod changes). Plugins read it through
`cache.table()` and fall back to their per-node code for anything the columns
do not hold (ephemeral storage, extended resources).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kybernetes.scheduler.nodeinfo import NodeInfo

COLUMNS = ("alloc_cpu", "alloc_memory", "alloc_pods", "req_cpu", "req_memory",
           "nz_cpu", "nz_memory", "npods")


class NodeTable:
    """int64 columns over the nodes in cache order."""

    def __init__(self, nodes: Sequence[NodeInfo]) -> None:
        self.data = np.zeros((len(COLUMNS), len(nodes)), dtype=np.int64)
        for i, info in enumerate(nodes):
            info.row = i
            self.write(info)
        (self.alloc_cpu, self.alloc_memory, self.alloc_pods, self.req_cpu, self.req_memory,
         self.nz_cpu, self.nz_memory, self.npods) = self.data

    def write(self, info: NodeInfo) -> None:
        """Copy one node's current sums into its row."""
        self.data[:, info.row] = (info.alloc_cpu, info.alloc_memory, info.alloc_pods,
                                  info.req_cpu, info.req_memory, info.nz_cpu, info.nz_memory,
                                  len(info.pods))

    @staticmethod
    def rows(nodes: Sequence[NodeInfo], known: np.ndarray | None = None) -> np.ndarray:
        """The row numbers of `nodes` (`known`, the runtime's, when it matches)."""
        if known is not None and len(known) == len(nodes):
            return known
        return np.fromiter((n.row for n in nodes), dtype=np.intp, count=len(nodes))
