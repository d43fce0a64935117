"""The in-tree plugins, registered by name, and the default profile's plugin set.

A config file names plugins from :data:`REGISTRY`; out-of-tree plugins can be
added with :func:`register` before the scheduler starts. :data:`DEFAULT_PLUGINS`
is the default profile in Kubernetes' multiPoint order, with its score weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kybernetes.scheduler.framework import Handle, Plugin
from kybernetes.scheduler.plugins.binder import DefaultBinder
from kybernetes.scheduler.plugins.inter_pod_affinity import InterPodAffinity
from kybernetes.scheduler.plugins.node_affinity import NodeAffinity
from kybernetes.scheduler.plugins.node_ports import NodePorts
from kybernetes.scheduler.plugins.node_resources import (
    NodeResourcesBalancedAllocation,
    NodeResourcesFit,
)
from kybernetes.scheduler.plugins.node_state import NodeName, NodeReady, NodeUnschedulable
from kybernetes.scheduler.plugins.preemption import DefaultPreemption
from kybernetes.scheduler.plugins.spread import PodTopologySpread
from kybernetes.scheduler.plugins.tolerations import TaintToleration
from kybernetes.scheduler.plugins.volume_binding import VolumeBinding

#: Builds a plugin from its pluginConfig args (None when there are none).
PluginFactory = Callable[[dict[str, Any] | None, Handle], Plugin]

REGISTRY: dict[str, PluginFactory] = {
    cls.name: cls for cls in (
        NodeUnschedulable, NodeName, TaintToleration, NodeReady, NodeAffinity, NodePorts,
        NodeResourcesFit, VolumeBinding, PodTopologySpread, InterPodAffinity, DefaultPreemption,
        NodeResourcesBalancedAllocation, DefaultBinder,
    )
}

#: (name, score weight) in the order the default profile runs them.
DEFAULT_PLUGINS: tuple[tuple[str, int], ...] = (
    ("NodeUnschedulable", 0), ("NodeName", 0), ("TaintToleration", 3), ("NodeReady", 0),
    ("NodeAffinity", 2), ("NodePorts", 0), ("NodeResourcesFit", 1), ("VolumeBinding", 0),
    ("PodTopologySpread", 2), ("InterPodAffinity", 2),
    ("DefaultPreemption", 0), ("NodeResourcesBalancedAllocation", 1), ("DefaultBinder", 0),
)


def register(name: str, factory: PluginFactory) -> None:
    """Add an out-of-tree plugin under `name`."""
    if name in REGISTRY:
        raise ValueError(f"a plugin named {name!r} is already registered")
    REGISTRY[name] = factory
