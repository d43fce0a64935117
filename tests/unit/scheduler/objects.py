"""Builders for Pod and Node objects used by the scheduler tests (unit and integration)."""

from __future__ import annotations

from typing import Any


def make_node(name: str, *, cpu: str = "4", memory: str = "32Gi", pods: int = 110,
              labels: dict[str, str] | None = None, taints: list[dict[str, str]] | None = None,
              ready: str = "True", unschedulable: bool = False,
              extra: dict[str, str] | None = None) -> dict[str, Any]:
    """A Node as a kubelet would register it (allocatable, Ready condition)."""
    allocatable = {"cpu": cpu, "memory": memory, "pods": str(pods),
                   "ephemeral-storage": "100Gi", **(extra or {})}
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name,
                     "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": {"capacity": dict(allocatable), "allocatable": allocatable,
                   "conditions": [{"type": "Ready", "status": ready, "reason": "KubeletReady"}]},
    }


def make_pod(name: str, *, namespace: str = "default", cpu: str | None = None,
             memory: str | None = None, labels: dict[str, str] | None = None,
             scheduler_name: str | None = None, node_selector: dict[str, str] | None = None,
             affinity: dict[str, Any] | None = None,
             tolerations: list[dict[str, Any]] | None = None, host_port: int | None = None,
             owner: dict[str, Any] | None = None, uid: str | None = None,
             **spec_extra: Any) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    container: dict[str, Any] = {"name": "c", "image": "busybox"}
    if requests:
        container["resources"] = {"requests": requests}
    if host_port:
        container["ports"] = [{"containerPort": 80, "hostPort": host_port, "protocol": "TCP"}]
    spec: dict[str, Any] = {"containers": [container], **spec_extra}
    for key, value in (("schedulerName", scheduler_name), ("nodeSelector", node_selector),
                       ("affinity", affinity), ("tolerations", tolerations)):
        if value:
            spec[key] = value
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels or {}}
    if uid:
        meta["uid"] = uid
    if owner:
        meta["ownerReferences"] = [owner]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
