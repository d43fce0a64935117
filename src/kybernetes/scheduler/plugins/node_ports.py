"""NodePorts: a pod asking for a host port does not fit where that port is taken.

Two host ports conflict when protocol and port are equal and the host IPs are
equal or either is the wildcard 0.0.0.0. The node's ports in use are a counter
kept by the cache, so the check is a few dict lookups per node.
"""

from __future__ import annotations

from typing import Any

from kybernetes.scheduler.framework import SKIP, CycleState, Handle, Status, unschedulable
from kybernetes.scheduler.nodeinfo import NodeInfo
from kybernetes.scheduler.podinfo import PodInfo

WILDCARD = "0.0.0.0"


def conflicts(wanted: tuple[str, str, int], used: Any) -> bool:
    ip, protocol, port = wanted
    if ip == WILDCARD:
        return any(p == port and proto == protocol for _, proto, p in used)
    return (ip, protocol, port) in used or (WILDCARD, protocol, port) in used


class NodePorts:
    name = "NodePorts"
    reason = "node(s) didn't have free ports for the requested pod ports"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        pass

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return None if pod.host_ports else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        used = node.used_ports
        if used and any(conflicts(w, used) for w in pod.host_ports):
            return unschedulable(self.reason)
        return None
