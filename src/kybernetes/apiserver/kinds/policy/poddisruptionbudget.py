"""PodDisruptionBudgets (policy/v1): how many of a set of pods voluntary disruptions
(evictions) may take down at once. The disruption controller keeps the status; the
eviction subresource reads and decrements it (:mod:`kybernetes.apiserver.eviction`)."""

from __future__ import annotations

from typing import Any

from kybernetes.api import resources as r
from kybernetes.api.field_errors import ErrorList, label_selector_errors
from kybernetes.api.pod_validation import _int_or_percent
from kybernetes.apiserver.kinds.definition import KindDefinition, TableSpec, builtin_schema
from kybernetes.apiserver.kinds.strategy import StatusStrategy
from kybernetes.apiserver.tables import AGE, NAME, age_last

Obj = dict[str, Any]
EVICTION_POLICIES = ("AlwaysAllow", "IfHealthyBudget")
_STATUS_COUNTS = ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods")


def validate(errs: ErrorList, pdb: Obj, old: Obj | None) -> None:
    """ValidatePodDisruptionBudget (+ the status update's non-negative counts)."""
    spec = pdb.get("spec") if isinstance(pdb.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errs.invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set")
    for key in ("minAvailable", "maxUnavailable"):
        if spec.get(key) is not None:
            _int_or_percent(errs, spec[key], f"spec.{key}")
    if spec.get("selector") is not None:
        errs.causes.extend(label_selector_errors(spec["selector"], "spec.selector"))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in EVICTION_POLICIES:
        errs.not_supported("spec.unhealthyPodEvictionPolicy", policy, EVICTION_POLICIES)
    status = pdb.get("status") if isinstance(pdb.get("status"), dict) else {}
    assert isinstance(status, dict)
    for key in _STATUS_COUNTS:
        errs.non_negative(f"status.{key}", status.get(key))


def _budget_cell(value: Any) -> str:
    return "N/A" if value is None else str(value)


TABLE = TableSpec(
    (NAME, ("Min Available", "string", 0), ("Max Unavailable", "string", 0),
     ("Allowed Disruptions", "integer", 0), AGE),
    age_last(lambda o: _budget_cell((o.get("spec") or {}).get("minAvailable")),
             lambda o: _budget_cell((o.get("spec") or {}).get("maxUnavailable")),
             lambda o: int((o.get("status") or {}).get("disruptionsAllowed") or 0)),
    descriptions={
        "Min Available": "The minimum number of pods that must be available.",
        "Max Unavailable": "The maximum number of pods that may be unavailable.",
        "Allowed Disruptions": "Calculated number of pods that may be disrupted at this time."})

DEFINITION = KindDefinition(
    resource=r.POD_DISRUPTION_BUDGETS,
    schema=builtin_schema("io.k8s.api.policy.v1.PodDisruptionBudget"),
    openapi_name="io.k8s.api.policy.v1.PodDisruptionBudget",
    defaults=None,
    validate=validate,
    strategy=StatusStrategy({"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0,
                             "expectedPods": 0}, tracks_generation=True),
    table=TABLE,
    field_selectors={},
)
