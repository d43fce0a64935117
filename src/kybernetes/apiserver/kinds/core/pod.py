"""Pods: created Pending, deleted gracefully by their kubelet, status written by it."""

from __future__ import annotations

from typing import Any

from kybernetes.api import defaults, pod_validation
from kybernetes.api import resources as r
from kybernetes.api.fields import field_getter
from kybernetes.apiserver import tables
from kybernetes.apiserver.kinds.definition import KindDefinition, builtin_schema
from kybernetes.apiserver.kinds.strategy import StatusStrategy

Obj = dict[str, Any]


class PodStrategy(StatusStrategy):
    graceful_deletion = True

    def __init__(self) -> None:
        super().__init__({"phase": "Pending"}, tracks_generation=True)

    def prepare_for_create(self, obj: Obj) -> None:
        """Status starts Pending with the pod's QoS class, as podStrategy sets it."""
        obj["status"]["qosClass"] = defaults.qos_class(obj.get("spec") or {})

    def delete_grace(self, obj: Obj, requested: int | None) -> int:
        """0 when no kubelet runs it (unbound or finished); else the grace asked for,
        or the pod's terminationGracePeriodSeconds (30 by default)."""
        spec = obj.get("spec") or {}
        if not spec.get("nodeName"):
            return 0
        if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return max(0, requested)
        grace = spec.get("terminationGracePeriodSeconds")
        return int(grace) if grace is not None else 30


DEFINITION = KindDefinition(
    resource=r.PODS,
    schema=builtin_schema("io.k8s.api.core.v1.Pod"),
    openapi_name="io.k8s.api.core.v1.Pod",
    defaults=defaults.pod_defaults,
    validate=pod_validation.validate_pod,
    strategy=PodStrategy(),
    table=tables.POD,
    field_selectors={
        "spec.nodeName": field_getter("spec", "nodeName"),
        "spec.restartPolicy": field_getter("spec", "restartPolicy"),
        "spec.schedulerName": field_getter("spec", "schedulerName"),
        "spec.serviceAccountName": field_getter("spec", "serviceAccountName"),
        "spec.hostNetwork": field_getter("spec", "hostNetwork", default="false"),
        "status.phase": field_getter("status", "phase"),
        "status.podIP": field_getter("status", "podIP"),
        "status.nominatedNodeName": field_getter("status", "nominatedNodeName"),
    },
    subresource_validate={
        "ephemeralcontainers": pod_validation.validate_ephemeral_containers_update},
)
