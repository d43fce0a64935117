"""autoscaling/v1 HorizontalPodAutoscalers: kube's view of the autoscaling/v2 objects
(stored as v2), which `kubectl autoscale` sends (kubectl 1.27 to 1.33 all use v1).

v1 shows one metric: ``spec.targetCPUUtilizationPercentage`` is the cpu Resource metric
with a Utilization target, ``status.currentCPUUtilizationPercentage`` its current
utilization. What v1 cannot show (other metrics, behavior) is kept from the stored
object on a v1 update; kube keeps it in ``autoscaling.alpha.kubernetes.io/*``
annotations of the v1 view instead, which are not written here."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from kybernetes.api import resources as r
from kybernetes.api.field_errors import as_dict, as_list
from kybernetes.apiserver.kinds.autoscaling import horizontalpodautoscaler as v2
from kybernetes.apiserver.kinds.definition import KindDefinition, TableSpec, builtin_schema

Obj = dict[str, Any]
V1, V2 = "autoscaling/v1", "autoscaling/v2"


def _is_cpu_utilization(metric: Any) -> bool:
    metric = as_dict(metric)
    source = as_dict(metric.get("resource"))
    return metric.get("type") == "Resource" and source.get("name") == "cpu" and \
        as_dict(source.get("target")).get("type") == "Utilization"


def to_v1(obj: Obj) -> Obj:
    """The stored (v2) object as autoscaling/v1 shows it."""
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    out_spec: Obj = {k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas")
                if k in spec}
    cpu = next((m for m in as_list(spec.get("metrics")) if _is_cpu_utilization(m)), None)
    if cpu is not None:
        out_spec["targetCPUUtilizationPercentage"] = \
            cpu["resource"]["target"].get("averageUtilization")
    out_status: Obj = {k: status[k] for k in ("observedGeneration", "lastScaleTime",
                                         "currentReplicas", "desiredReplicas") if k in status}
    for current in as_list(status.get("currentMetrics")):
        source = as_dict(as_dict(current).get("resource"))
        value = as_dict(source.get("current")).get("averageUtilization")
        if source.get("name") == "cpu" and value is not None:
            out_status["currentCPUUtilizationPercentage"] = value
    out = {**obj, "apiVersion": V1, "spec": out_spec}
    if "status" in obj:
        out["status"] = out_status
    return out


def to_v2(obj: Obj, old: Obj | None) -> Obj:
    """A v1 object in the storage version; other metrics and behavior from `old`."""
    if obj.get("apiVersion") == V2:
        return obj
    spec, old_spec = as_dict(obj.get("spec")), as_dict((old or {}).get("spec"))
    out_spec: Obj = {k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas")
                if k in spec}
    metrics = [m for m in as_list(old_spec.get("metrics")) if not _is_cpu_utilization(m)]
    target = spec.get("targetCPUUtilizationPercentage")
    if target is not None:
        metrics.insert(0, {"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": target}}})
    if metrics:
        out_spec["metrics"] = metrics
    if old_spec.get("behavior") is not None:
        out_spec["behavior"] = old_spec["behavior"]
    out = {**obj, "apiVersion": V2, "spec": out_spec}
    if old is not None and "status" in old:
        out["status"] = old["status"]
    else:
        status = as_dict(obj.get("status"))
        out["status"] = {k: status[k] for k in ("observedGeneration", "lastScaleTime",
                                                "currentReplicas", "desiredReplicas")
                         if k in status}
    return out


class Conversion:
    """autoscaling/v1 <-> the stored autoscaling/v2."""

    def to_storage(self, obj: Obj, old: Obj | None) -> Obj:
        return to_v2(obj, old)

    def from_storage(self, obj: Obj) -> Obj:
        return to_v1(obj)


def _v1_printer(obj: Obj, now: _dt.datetime) -> list[Any]:
    return v2.TABLE.printer(to_v2(obj, None), now)


DEFINITION = KindDefinition(
    resource=r.HORIZONTAL_POD_AUTOSCALERS_V1,
    schema=builtin_schema("io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler"),
    openapi_name="io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler",
    defaults=v2.defaults,  # objects are converted to v2 before defaulting and validation
    validate=v2.validate,
    strategy=v2.DEFINITION.strategy,
    table=TableSpec(v2.TABLE.columns, _v1_printer, descriptions=v2.TABLE.descriptions),
    field_selectors={},
    storage_version=V2,
    convert=Conversion(),
)
