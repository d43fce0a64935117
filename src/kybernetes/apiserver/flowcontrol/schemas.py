"""Which priority level and flow a request belongs to: kube's mandatory and suggested
FlowSchemas (exempt, probes, system-leader-election, workload-leader-election,
system-node-high, system-nodes, kube-controller-manager, kube-scheduler,
kube-system-service-accounts, service-accounts, global-default, catch-all), in their
matching precedence, with their priority levels' concurrency shares and queues.

Kube keeps these as FlowSchema and PriorityLevelConfiguration objects a user may
edit; here they are fixed (the flowcontrol.apiserver.k8s.io API is not served).
"""

from __future__ import annotations

from dataclasses import dataclass

from kybernetes.apiserver.authz.attributes import Attributes

MASTERS = "system:masters"
NODES_GROUP = "system:nodes"
SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts"
KUBE_SYSTEM_SERVICE_ACCOUNTS = "system:serviceaccounts:kube-system"
CONTROL_PLANE_USERS = frozenset({"system:kube-controller-manager", "system:kube-scheduler"})
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/livez"})
LEADER_ELECTION_VERBS = frozenset({"get", "create", "update"})


@dataclass(frozen=True)
class PriorityLevel:
    """kube's PriorityLevelConfiguration, the fields that matter here."""

    name: str
    shares: int  # nominalConcurrencyShares
    queues: int = 64  # with queue_length: how many may wait (0 queues: kube's Reject)
    queue_length: int = 50  # queueLengthLimit: how many of one flow may wait
    exempt: bool = False


EXEMPT = PriorityLevel("exempt", 0, exempt=True)
SYSTEM = PriorityLevel("system", 30)
NODE_HIGH = PriorityLevel("node-high", 40)
LEADER_ELECTION = PriorityLevel("leader-election", 10, queues=16)
WORKLOAD_HIGH = PriorityLevel("workload-high", 40, queues=128)
WORKLOAD_LOW = PriorityLevel("workload-low", 100, queues=128)
GLOBAL_DEFAULT = PriorityLevel("global-default", 20, queues=128)
CATCH_ALL = PriorityLevel("catch-all", 5, queues=0)
LEVELS = (EXEMPT, SYSTEM, NODE_HIGH, LEADER_ELECTION, WORKLOAD_HIGH, WORKLOAD_LOW,
          GLOBAL_DEFAULT, CATCH_ALL)


def _resource_is(attrs: Attributes, group: str, *resources: str) -> bool:
    return attrs.resource_request and attrs.api_group == group and \
        attrs.resource in resources


def _leader_election(attrs: Attributes) -> bool:
    """kube's leader-election rules: get/create/update of leases, endpoints, configmaps."""
    return attrs.verb in LEADER_ELECTION_VERBS and (
        _resource_is(attrs, "coordination.k8s.io", "leases")
        or _resource_is(attrs, "", "endpoints", "configmaps"))


def classify(attrs: Attributes) -> tuple[PriorityLevel, str]:
    """The priority level and the flow (kube's ByUser distinguisher: the user name)."""
    user = attrs.user
    groups = user.groups
    if MASTERS in groups:
        return EXEMPT, ""
    if not attrs.resource_request and attrs.verb == "get" and attrs.path in PROBE_PATHS:
        return EXEMPT, ""
    kube_system_sa = KUBE_SYSTEM_SERVICE_ACCOUNTS in groups
    if (user.name in CONTROL_PLANE_USERS or kube_system_sa) and _leader_election(attrs):
        return LEADER_ELECTION, user.name
    if NODES_GROUP in groups:
        if (_resource_is(attrs, "", "nodes") and attrs.subresource in ("", "status")) \
                or _resource_is(attrs, "coordination.k8s.io", "leases"):
            return NODE_HIGH, user.name
        return SYSTEM, user.name
    if user.name in CONTROL_PLANE_USERS or kube_system_sa:
        return WORKLOAD_HIGH, user.name
    if SERVICE_ACCOUNTS_GROUP in groups:
        return WORKLOAD_LOW, user.name
    if "system:authenticated" in groups or "system:unauthenticated" in groups:
        return GLOBAL_DEFAULT, user.name
    return CATCH_ALL, user.name
