"""HorizontalPodAutoscalers (autoscaling/v2): the replica count of a scalable workload
kept between minReplicas and maxReplicas from its pods' metrics. The
horizontalpodautoscaling controller (:mod:`kybernetes.controllers.horizontal_pod_autoscaler`)
acts on Resource metrics; Pods, Object, ContainerResource and External metrics are
accepted and validated as kube does but not acted on."""

from __future__ import annotations

from typing import Any

from kybernetes.api import resources as r
from kybernetes.api.autoscaling import default_scale_down, default_scale_up
from kybernetes.api.field_errors import ErrorList, as_dict, as_list
from kybernetes.api.quantity import parse_quantity
from kybernetes.apiserver.kinds.definition import KindDefinition, TableSpec, builtin_schema
from kybernetes.apiserver.kinds.strategy import StatusStrategy
from kybernetes.apiserver.tables import AGE, NAME, age_last

Obj = dict[str, Any]
DEFAULT_CPU_UTILIZATION = 80
METRIC_SOURCE_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")
_SOURCE_FIELD = {"ContainerResource": "containerResource", "External": "external",
                 "Object": "object", "Pods": "pods", "Resource": "resource"}
TARGET_TYPES = ("AverageValue", "Utilization", "Value")
SELECT_POLICIES = ("Disabled", "Max", "Min")
POLICY_TYPES = ("Percent", "Pods")
MAX_STABILIZATION_SECONDS = 3600
MAX_PERIOD_SECONDS = 1800


def _fill_rules(rules: Any, defaults: Obj) -> Obj:
    if not isinstance(rules, dict):
        return defaults
    for key, value in defaults.items():
        if rules.get(key) is None:
            rules[key] = value
    return rules


def defaults(hpa: Obj) -> None:
    """SetDefaults_HorizontalPodAutoscaler (v2): minReplicas 1, cpu at 80% when no
    metric is named, and a given behavior's missing rules filled with kube's."""
    spec = hpa.get("spec")
    if not isinstance(spec, dict):
        return
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        behavior["scaleUp"] = _fill_rules(behavior.get("scaleUp"), default_scale_up())
        behavior["scaleDown"] = _fill_rules(behavior.get("scaleDown"), default_scale_down())


def _positive(value: Any) -> bool:
    try:
        return parse_quantity(value) > 0
    except (ValueError, TypeError):
        return True  # a malformed quantity is refused by the schema's type check


def _target(errs: ErrorList, target: Obj, path: str) -> None:
    """validateMetricTarget."""
    kind = target.get("type")
    if not kind:
        errs.required(f"{path}.type", "must specify a metric target type")
    if kind not in TARGET_TYPES:
        errs.invalid(f"{path}.type", kind or "",
                     "must be either Utilization, Value, or AverageValue")
    for key in ("value", "averageValue"):
        value = target.get(key)
        if value is not None and not _positive(value):
            errs.invalid(f"{path}.{key}", value, "must be positive")
    utilization = target.get("averageUtilization")
    if isinstance(utilization, int) and utilization < 1:
        errs.invalid(f"{path}.averageUtilization", utilization, "must be greater than 0")


def _resource_source(errs: ErrorList, source: Obj, path: str) -> None:
    if not source.get("name"):
        errs.required(f"{path}.name", "must specify a resource name")
    if path.endswith("containerResource") and not source.get("container"):
        errs.required(f"{path}.container", "must specify a container")
    target = as_dict(source.get("target"))
    _target(errs, target, f"{path}.target")
    has_util = target.get("averageUtilization") is not None
    has_value = target.get("averageValue") is not None
    if not has_util and not has_value:
        errs.required(f"{path}.target.averageUtilization",
                      "must set either a target raw value or a target utilization")
    if has_util and has_value:
        errs.forbidden(f"{path}.target.averageValue",
                       "may not set both a target raw value and a target utilization")


def _named_source(errs: ErrorList, source: Obj, path: str) -> None:
    """Object, External and Pods sources: a metric name and a value target."""
    if not as_dict(source.get("metric")).get("name"):
        errs.required(f"{path}.metric.name", "must specify a metric name")
    target = as_dict(source.get("target"))
    _target(errs, target, f"{path}.target")
    value, average = target.get("value"), target.get("averageValue")
    if path.endswith(".pods"):
        if average is None:
            errs.required(f"{path}.target.averageValue",
                          "must specify a positive target averageValue")
    elif path.endswith(".object"):
        if value is None and average is None:
            errs.required(f"{path}.target.averageValue",
                          "must set either a target value or averageValue")
    else:
        if value is None and average is None:
            errs.required(f"{path}.target.averageValue",
                          "must set either a target value for metric or a per-pod target")
        if value is not None and average is not None:
            errs.forbidden(f"{path}.target.value",
                           "may not set both a target value for metric and a per-pod target")


# kube checks the first source present, in this order
_SOURCE_ORDER = ("object", "external", "pods", "resource", "containerResource")


def _metric(errs: ErrorList, metric: Obj, path: str) -> None:
    """validateMetricSpec."""
    kind = metric.get("type")
    if not kind:
        errs.required(f"{path}.type", "must specify a metric source type")
    if kind not in METRIC_SOURCE_TYPES:
        errs.not_supported(f"{path}.type", kind or "", METRIC_SOURCE_TYPES)
    present = [f for f in _SOURCE_ORDER if metric.get(f) is not None]
    if present:
        first = present[0]
        source = as_dict(metric.get(first))
        if first in ("resource", "containerResource"):
            _resource_source(errs, source, f"{path}.{first}")
        else:
            _named_source(errs, source, f"{path}.{first}")
    expected = _SOURCE_FIELD.get(str(kind))
    if expected is not None and metric.get(expected) is None:
        errs.required(f"{path}.{expected}", "must populate information for the given "
                                            "metric source")
    if len(present) != 1:
        for extra in present:
            if extra != expected:
                errs.forbidden(f"{path}.{extra}", "must populate the given metric source only")


def _rules(errs: ErrorList, rules: Obj, path: str) -> None:
    window = rules.get("stabilizationWindowSeconds")
    if isinstance(window, int):
        if window < 0:
            errs.invalid(f"{path}.stabilizationWindowSeconds", window,
                         "must be greater than or equal to zero")
        elif window > MAX_STABILIZATION_SECONDS:
            errs.invalid(f"{path}.stabilizationWindowSeconds", window,
                         f"must be less than or equal to {MAX_STABILIZATION_SECONDS}")
    select = rules.get("selectPolicy")
    if select is not None and select not in SELECT_POLICIES:
        errs.not_supported(f"{path}.selectPolicy", select, SELECT_POLICIES)
    policies = as_list(rules.get("policies"))
    if not policies:
        errs.required(f"{path}.policies", "must specify at least one Policy")
    for i, policy in enumerate(policies):
        p, policy = f"{path}.policies[{i}]", as_dict(policy)
        if policy.get("type") not in POLICY_TYPES:
            errs.not_supported(f"{p}.type", policy.get("type"), POLICY_TYPES)
        value = policy.get("value")
        if isinstance(value, int) and value <= 0:
            errs.invalid(f"{p}.value", value, "must be greater than zero")
        period = policy.get("periodSeconds")
        if isinstance(period, int):
            if period <= 0:
                errs.invalid(f"{p}.periodSeconds", period, "must be greater than zero")
            elif period > MAX_PERIOD_SECONDS:
                errs.invalid(f"{p}.periodSeconds", period,
                             f"must be less than or equal to {MAX_PERIOD_SECONDS}")


def validate(errs: ErrorList, hpa: Obj, old: Obj | None) -> None:
    """ValidateHorizontalPodAutoscaler (spec) with kube's messages."""
    spec = as_dict(hpa.get("spec"))
    ref = as_dict(spec.get("scaleTargetRef"))
    for key in ("kind", "name"):
        value = ref.get(key)
        if not value:
            errs.required(f"spec.scaleTargetRef.{key}")
        elif "/" in value or "%" in value or value in (".", ".."):
            errs.invalid(f"spec.scaleTargetRef.{key}", value,
                         "may not contain '/'" if "/" in value else
                         "may not contain '%'" if "%" in value else f"may not be '{value}'")
    low = spec.get("minReplicas")
    if isinstance(low, int) and low < 1:
        errs.invalid("spec.minReplicas", low, "must be greater than or equal to 1")
    high = spec.get("maxReplicas")
    if isinstance(high, int):
        if high < 1:
            errs.invalid("spec.maxReplicas", high, "must be greater than 0")
        if isinstance(low, int) and low > high:
            errs.invalid("spec.maxReplicas", high, "must be greater than or equal to `minReplicas`")
    for i, metric in enumerate(as_list(spec.get("metrics"))):
        _metric(errs, as_dict(metric), f"spec.metrics[{i}]")
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        for key in ("scaleUp", "scaleDown"):
            if isinstance(behavior.get(key), dict):
                _rules(errs, behavior[key], f"spec.behavior.{key}")


# -- the table ---------------------------------------------------------------------


def _target_text(spec_metric: Obj, current: Obj | None) -> str:
    """One metric as kube's printer shows it: "cpu: 20%/50%" (current/target)."""
    kind = spec_metric.get("type")
    field = _SOURCE_FIELD.get(str(kind), "")
    source = as_dict(spec_metric.get(field))
    target = as_dict(source.get("target"))
    now = as_dict(as_dict(current).get(field)).get("current") if current else None
    now = as_dict(now)
    if kind in ("Resource", "ContainerResource"):
        label = f"{source.get('name', '')}: "
        if target.get("averageUtilization") is not None:
            shown = f"{now['averageUtilization']}%" if now.get("averageUtilization") \
                is not None else "<unknown>"
            return f"{label}{shown}/{target['averageUtilization']}%"
        shown = str(now.get("averageValue", "<unknown>"))
        return f"{label}{shown}/{target.get('averageValue', '')}"
    goal = target.get("averageValue") or target.get("value") or ""
    shown = str(now.get("averageValue") or now.get("value") or "<unknown>")
    suffix = " (avg)" if target.get("averageValue") is not None else ""
    return f"{shown}/{goal}{suffix}"


def targets_cell(hpa: Obj) -> str:
    metrics = [as_dict(m) for m in as_list(as_dict(hpa.get("spec")).get("metrics"))]
    if not metrics:
        return "<none>"
    currents = as_list(as_dict(hpa.get("status")).get("currentMetrics"))
    texts = [_target_text(m, as_dict(currents[i]) if i < len(currents) else None)
             for i, m in enumerate(metrics)]
    shown = ", ".join(texts[:2])
    return shown + (f" + {len(texts) - 2} more..." if len(texts) > 2 else "")


def _reference(hpa: Obj) -> str:
    ref = as_dict(as_dict(hpa.get("spec")).get("scaleTargetRef"))
    return f"{ref.get('kind', '')}/{ref.get('name', '')}"


def _min_pods(hpa: Obj) -> str:
    low = as_dict(hpa.get("spec")).get("minReplicas")
    return "<unset>" if low is None else str(low)


TABLE = TableSpec(
    (NAME, ("Reference", "string", 0), ("Targets", "string", 0), ("MinPods", "string", 0),
     ("MaxPods", "integer", 0), ("Replicas", "integer", 0), AGE),
    age_last(_reference, targets_cell, _min_pods,
             lambda o: int(as_dict(o.get("spec")).get("maxReplicas") or 0),
             lambda o: int(as_dict(o.get("status")).get("currentReplicas") or 0)),
    descriptions={
        "Reference": "The reference to the scalable resource.",
        "Targets": "The current and target values of the metrics.",
        "MinPods": "Lower limit for the number of pods that can be set by the autoscaler, "
                   "default 1.",
        "MaxPods": "Upper limit for the number of pods that can be set by the autoscaler; "
                   "cannot be smaller than MinReplicas.",
        "Replicas": "Current number of replicas of pods managed by this autoscaler."})

DEFINITION = KindDefinition(
    resource=r.HORIZONTAL_POD_AUTOSCALERS,
    schema=builtin_schema("io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler"),
    openapi_name="io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
    defaults=defaults,
    validate=validate,
    strategy=StatusStrategy({"desiredReplicas": 0}),
    table=TABLE,
    field_selectors={},
)
