"""Pod priority: PriorityClasses (scheduling.k8s.io/v1), their defaults and
validation (pkg/apis/scheduling/validation), and the two system classes every
cluster has (pkg/apis/scheduling SystemPriorityClasses)."""

from __future__ import annotations

from typing import Any

from kybernetes.api.field_errors import ErrorList

Obj = dict[str, Any]

SYSTEM_PREFIX = "system-"
HIGHEST_USER_DEFINABLE = 1_000_000_000
PREEMPT_LOWER, PREEMPT_NEVER = "PreemptLowerPriority", "Never"
PREEMPTION_POLICIES = (PREEMPT_LOWER, PREEMPT_NEVER)

#: name -> (value, description), as kube-apiserver creates them on start
SYSTEM_CLASSES: dict[str, tuple[int, str]] = {
    "system-node-critical": (2_000_001_000, "Used for system critical pods that must not be "
                                            "moved from their current node."),
    "system-cluster-critical": (2_000_000_000, "Used for system critical pods that must run "
                                               "in the cluster, but can be moved to another "
                                               "node if necessary."),
}


def system_class(name: str) -> Obj:
    value, description = SYSTEM_CLASSES[name]
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value, "description": description,
            "preemptionPolicy": PREEMPT_LOWER}


def priority_class_defaults(pc: Obj) -> None:
    """SetDefaults_PriorityClass: preemptionPolicy PreemptLowerPriority."""
    pc.setdefault("preemptionPolicy", PREEMPT_LOWER)


def _known_system_class_error(name: str, value: Any, global_default: bool) -> str | None:
    if name not in SYSTEM_CLASSES:
        return f"{name} is not a known system priority class"
    if value != SYSTEM_CLASSES[name][0]:
        return f"value of {name} PriorityClass must be {SYSTEM_CLASSES[name][0]}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return None


def validate_priority_class(errs: ErrorList, pc: Obj, old: Obj | None) -> None:
    """ValidatePriorityClass and ValidatePriorityClassUpdate."""
    name = str((pc.get("metadata") or {}).get("name") or "")
    value = pc.get("value")
    if not isinstance(value, int) or isinstance(value, bool):
        errs.required("value")
    elif name.startswith(SYSTEM_PREFIX):
        problem = _known_system_class_error(name, value, bool(pc.get("globalDefault")))
        if problem:
            errs.forbidden("metadata.name", f"priority class names with '{SYSTEM_PREFIX}' "
                                            f"prefix are reserved for system use only. "
                                            f"error: {problem}")
    elif value > HIGHEST_USER_DEFINABLE:
        errs.forbidden("value", "maximum allowed value of a user defined priority is "
                                f"{HIGHEST_USER_DEFINABLE}")
    policy = pc.get("preemptionPolicy")
    if policy is not None and policy not in PREEMPTION_POLICIES:
        errs.not_supported("preemptionPolicy", policy, PREEMPTION_POLICIES)
    if old is None:
        return
    if value != old.get("value"):
        errs.forbidden("value", "may not be changed in an update.")
    if policy != old.get("preemptionPolicy"):
        errs.immutable("preemptionPolicy", policy, old.get("preemptionPolicy"))
