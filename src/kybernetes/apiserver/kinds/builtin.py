"""The built-in kinds, in the order discovery lists their groups."""

from __future__ import annotations

from kybernetes.apiserver.kinds.admissionregistration import (
    mutatingwebhookconfiguration,
    validatingadmissionpolicy,
    validatingadmissionpolicybinding,
    validatingwebhookconfiguration,
)
from kybernetes.apiserver.kinds.apiextensions import customresourcedefinition
from kybernetes.apiserver.kinds.apps import (
    controllerrevision,
    daemonset,
    deployment,
    replicaset,
    statefulset,
)
from kybernetes.apiserver.kinds.authentication import selfsubjectreview, tokenreview
from kybernetes.apiserver.kinds.authorization import reviews
from kybernetes.apiserver.kinds.autoscaling import (
    horizontalpodautoscaler,
    horizontalpodautoscaler_v1,
)
from kybernetes.apiserver.kinds.batch import cronjob, job
from kybernetes.apiserver.kinds.certificates import certificatesigningrequest
from kybernetes.apiserver.kinds.coordination import lease
from kybernetes.apiserver.kinds.core import (
    binding,
    configmap,
    endpoints,
    event,
    limitrange,
    namespace,
    node,
    persistentvolume,
    persistentvolumeclaim,
    pod,
    replicationcontroller,
    resourcequota,
    secret,
    service,
    serviceaccount,
)
from kybernetes.apiserver.kinds.definition import KindDefinition
from kybernetes.apiserver.kinds.discovery import endpointslice
from kybernetes.apiserver.kinds.events import event as events_v1_event
from kybernetes.apiserver.kinds.metrics import nodemetrics, podmetrics
from kybernetes.apiserver.kinds.networking import ingress, ingressclass, networkpolicy
from kybernetes.apiserver.kinds.policy import poddisruptionbudget
from kybernetes.apiserver.kinds.rbac import clusterrole, clusterrolebinding, role, rolebinding
from kybernetes.apiserver.kinds.registry import KindRegistry
from kybernetes.apiserver.kinds.scheduling import priorityclass
from kybernetes.apiserver.kinds.storage import storageclass

BUILTIN: tuple[KindDefinition, ...] = tuple(m.DEFINITION for m in (
    namespace, pod, replicationcontroller, service, endpoints, node, event, configmap, secret,
    serviceaccount, binding, resourcequota, limitrange, persistentvolume,
    persistentvolumeclaim,
    controllerrevision, daemonset, deployment, replicaset, statefulset,
    selfsubjectreview, tokenreview,
)) + reviews.DEFINITIONS + tuple(m.DEFINITION for m in (
    horizontalpodautoscaler, horizontalpodautoscaler_v1,
    job, cronjob,
    certificatesigningrequest,
    networkpolicy, ingress, ingressclass,
    poddisruptionbudget,
    role, rolebinding, clusterrole, clusterrolebinding,
    storageclass,
    lease,
    customresourcedefinition,
    mutatingwebhookconfiguration, validatingwebhookconfiguration, validatingadmissionpolicy,
    validatingadmissionpolicybinding,
    priorityclass,
    endpointslice,
    events_v1_event,
    nodemetrics, podmetrics,
))


def builtin_registry() -> KindRegistry:
    """A registry holding the built-in kinds (a new one per API server)."""
    return KindRegistry(BUILTIN)
