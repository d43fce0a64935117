"""The metrics.k8s.io/v1beta1 schemas, from metrics-server's types (k8s.io/metrics):
Kubernetes' own OpenAPI documents do not carry them."""

from __future__ import annotations

from typing import Any

_DEFS = "#/$defs/io.k8s.apimachinery.pkg"
_USAGE = {"type": "object", "description": "The memory and CPU usage.",
          "additionalProperties": {"$ref": f"{_DEFS}.api.resource.Quantity"}}


def _top(kind: str, description: str, **properties: Any) -> dict[str, Any]:
    return {"description": description, "type": "object", "x-kubernetes-group-version-kind": [
        {"group": "metrics.k8s.io", "version": "v1beta1", "kind": kind}], "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
        "metadata": {"$ref": f"{_DEFS}.apis.meta.v1.ObjectMeta"},
        "timestamp": {"$ref": f"{_DEFS}.apis.meta.v1.Time",
                      "description": "The end of the window the usage was measured over."},
        "window": {"type": "string", "description": "The length of that window."},
        **properties}}


def node_metrics() -> dict[str, Any]:
    return _top("NodeMetrics", "NodeMetrics sets resource usage metrics of a node.", usage=_USAGE)


def pod_metrics() -> dict[str, Any]:
    container = {"type": "object", "required": ["name", "usage"], "properties": {
        "name": {"type": "string", "description": "Container name."}, "usage": _USAGE}}
    return _top("PodMetrics", "PodMetrics sets resource usage metrics of a pod.", containers={
        "type": "array", "items": container,
        "description": "Metrics for all containers are collected within the same window."})
