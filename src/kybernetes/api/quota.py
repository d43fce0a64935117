"""ResourceQuota arithmetic: what an object uses, which quotas cover it, and the check.

Kubernetes' quota evaluators (pkg/quota/v1/evaluator/core) say, per resource, what an
object counts against (`pods`, `count/pods`, `requests.cpu`, …), whether a quota's
scopes (Terminating, BestEffort, PriorityClass, …) select it, and which per-container
requests a compute quota demands. Both the ResourceQuota admission plugin and the
resource quota controller use these functions, so admission's charge and the
controller's recount always agree. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from kybernetes.api.quantity import format_quantity, parse_quantity

Obj = dict[str, Any]
Usage = dict[str, Fraction]

# Object counts with a legacy name (pkg/quota/v1/evaluator/core/registry.go).
LEGACY_COUNTS = {("", "pods"): "pods", ("", "services"): "services",
                 ("", "replicationcontrollers"): "replicationcontrollers",
                 ("", "resourcequotas"): "resourcequotas", ("", "secrets"): "secrets",
                 ("", "configmaps"): "configmaps",
                 ("", "persistentvolumeclaims"): "persistentvolumeclaims"}
SERVICE_RESOURCES = ("services.nodeports", "services.loadbalancers")
COMPUTE = ("cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu",
           "limits.memory", "ephemeral-storage", "requests.ephemeral-storage",
           "limits.ephemeral-storage")
STORAGE = ("requests.storage", "storage")
STANDARD = frozenset((*LEGACY_COUNTS.values(), *SERVICE_RESOURCES, *COMPUTE, *STORAGE))
# A compute quota on one of these makes every container state it (validationSet).
CONSTRAINED = ("cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu",
               "limits.memory")
SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass",
          "CrossNamespacePodAffinity")
# The resources a quota with this scope may list (IsResourceQuotaScopeValidForResource).
_POD_OBJECT = ("pods", "count/pods")
SCOPE_RESOURCES: dict[str, tuple[str, ...]] = {
    "Terminating": (*_POD_OBJECT, *COMPUTE), "NotTerminating": (*_POD_OBJECT, *COMPUTE),
    "BestEffort": _POD_OBJECT, "NotBestEffort": (*_POD_OBJECT, *COMPUTE),
    "PriorityClass": (*_POD_OBJECT, *COMPUTE), "CrossNamespacePodAffinity": _POD_OBJECT}
_INTEGER_PREFIXES = ("count/",)


def is_integer_resource(name: str) -> bool:
    """Resources that count objects take whole numbers only (IsIntegerResourceName)."""
    return name in LEGACY_COUNTS.values() or name in SERVICE_RESOURCES or \
        name.startswith(_INTEGER_PREFIXES)


def count_name(group: str, plural: str) -> str:
    """`count/pods`, `count/deployments.apps`."""
    return f"count/{plural}.{group}" if group else f"count/{plural}"


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _q(value: Any) -> Fraction | None:
    try:
        return parse_quantity(value)
    except (ValueError, TypeError):
        return None


def _resource_list(value: Any) -> Usage:
    out: Usage = {}
    for key, raw in _d(value).items():
        q = _q(raw)
        if q is not None:
            out[str(key)] = q
    return out


def pod_totals(pod: Obj, field: str) -> Usage:
    """PodRequests / PodLimits: the larger of the containers' sum and any one init
    container's value (sidecars, restartPolicy Always, add to the sum), plus overhead."""
    spec = _d(pod.get("spec"))
    total: Usage = {}
    for c in _l(spec.get("containers")):
        for k, v in _resource_list(_d(_d(c).get("resources")).get(field)).items():
            total[k] = total.get(k, Fraction(0)) + v
    sidecars: Usage = {}
    for c in _l(spec.get("initContainers")):
        values = _resource_list(_d(_d(c).get("resources")).get(field))
        if _d(c).get("restartPolicy") == "Always":
            for k, v in values.items():
                sidecars[k] = sidecars.get(k, Fraction(0)) + v
                total[k] = total.get(k, Fraction(0)) + v
            continue
        for k, v in values.items():
            total[k] = max(total.get(k, Fraction(0)), v + sidecars.get(k, Fraction(0)))
    for k, v in _resource_list(spec.get("overhead")).items():
        total[k] = total.get(k, Fraction(0)) + v
    return total


def pod_compute_usage(requests: Usage, limits: Usage) -> Usage:
    """podComputeUsageHelper: what a pod's (or a container's) requests and limits count."""
    out: Usage = {}
    for name in ("cpu", "memory", "ephemeral-storage"):
        if name in requests:
            out[name] = out[f"requests.{name}"] = requests[name]
        if name in limits:
            out[f"limits.{name}"] = limits[name]
    for key, value in requests.items():
        if key.startswith("hugepages-"):
            out[f"requests.{key}"] = value
    return out


def is_terminal_pod(pod: Obj) -> bool:
    return _d(pod.get("status")).get("phase") in ("Succeeded", "Failed")


def usage(group: str, plural: str, obj: Obj) -> Usage:
    """What one object of `group/plural` counts against quota."""
    if group == "" and plural == "pods" and is_terminal_pod(obj):
        return {}
    out: Usage = {count_name(group, plural): Fraction(1)}
    legacy = LEGACY_COUNTS.get((group, plural))
    if legacy:
        out[legacy] = Fraction(1)
    if group == "" and plural == "pods":
        out.update(pod_compute_usage(pod_totals(obj, "requests"), pod_totals(obj, "limits")))
    elif group == "" and plural == "services":
        spec = _d(obj.get("spec"))
        kind = spec.get("type") or "ClusterIP"
        ports = len(_l(spec.get("ports")))
        if kind == "LoadBalancer":
            out["services.loadbalancers"] = Fraction(1)
        if kind in ("NodePort", "LoadBalancer"):
            out["services.nodeports"] = Fraction(ports)
    elif group == "" and plural == "persistentvolumeclaims":
        storage = _q(_d(_d(_d(obj.get("spec")).get("resources")).get("requests")).get(
            "storage"))
        if storage is not None:
            out["requests.storage"] = storage
            cls = _d(obj.get("spec")).get("storageClassName")
            if cls:
                out[f"{cls}.storageclass.storage.k8s.io/requests.storage"] = storage
                out[f"{cls}.storageclass.storage.k8s.io/persistentvolumeclaims"] = Fraction(1)
    return out


def _is_best_effort(pod: Obj) -> bool:
    spec = _d(pod.get("spec"))
    for c in (*_l(spec.get("containers")), *_l(spec.get("initContainers"))):
        res = _d(_d(c).get("resources"))
        for field in ("requests", "limits"):
            for key, value in _d(res.get(field)).items():
                q = _q(value)
                if key in ("cpu", "memory") and q is not None and q != 0:
                    return False
    return True


def _scope_matches(scope: str, operator: str, values: list[str], pod: Obj) -> bool:
    spec = _d(pod.get("spec"))
    if scope == "Terminating":
        deadline = spec.get("activeDeadlineSeconds")
        return isinstance(deadline, int) and deadline >= 0
    if scope == "NotTerminating":
        deadline = spec.get("activeDeadlineSeconds")
        return not (isinstance(deadline, int) and deadline >= 0)
    if scope == "BestEffort":
        return _is_best_effort(pod)
    if scope == "NotBestEffort":
        return not _is_best_effort(pod)
    if scope == "PriorityClass":
        name = spec.get("priorityClassName")
        has = bool(name)
        if operator == "Exists":
            return has
        if operator == "DoesNotExist":
            return not has
        if operator == "In":
            return has and name in values
        if operator == "NotIn":
            return not has or name not in values
    return False  # CrossNamespacePodAffinity and unknown scopes select nothing here


def scope_requirements(quota: Obj) -> list[tuple[str, str, list[str]]]:
    """(scope, operator, values) for `spec.scopes` and `spec.scopeSelector`, ANDed."""
    spec = _d(quota.get("spec"))
    out: list[tuple[str, str, list[str]]] = [(str(s), "Exists", []) for s in _l(spec.get("scopes"))]
    for expr in _l(_d(spec.get("scopeSelector")).get("matchExpressions")):
        expr = _d(expr)
        out.append((str(expr.get("scopeName", "")), str(expr.get("operator", "")),
                    [str(v) for v in _l(expr.get("values"))]))
    return out


def quota_matches(quota: Obj, group: str, plural: str, obj: Obj) -> bool:
    """Whether the quota's scopes select the object (a scoped quota selects only pods)."""
    requirements = scope_requirements(quota)
    if not requirements:
        return True
    if (group, plural) != ("", "pods"):
        return False
    return all(_scope_matches(s, op, values, obj) for s, op, values in requirements)


def matching_resources(hard: Iterable[str], group: str, plural: str) -> list[str]:
    """The names in `hard` an object of this resource can count against."""
    own = count_name(group, plural)
    legacy = LEGACY_COUNTS.get((group, plural))
    out = []
    for name in hard:
        if name in (own, legacy):
            out.append(name)
        elif group == "" and plural == "pods" and (
                name in COMPUTE or name.startswith("requests.hugepages-")):
            out.append(name)
        elif group == "" and plural == "services" and name in SERVICE_RESOURCES:
            out.append(name)
        elif group == "" and plural == "persistentvolumeclaims" and (
                name == "requests.storage" or ".storageclass.storage.k8s.io/" in name):
            out.append(name)
    return sorted(out)


def pod_constraints(required: Iterable[str], pod: Obj) -> str | None:
    """`must specify limits.cpu for: c; requests.memory for: a,b` or None (Constraints)."""
    wanted = set(required) & set(CONSTRAINED)
    if not wanted:
        return None
    spec = _d(pod.get("spec"))
    missing: dict[str, set[str]] = {}
    for c in (*_l(spec.get("containers")), *_l(spec.get("initContainers"))):
        res = _d(_d(c).get("resources"))
        have = set(pod_compute_usage(_resource_list(res.get("requests")),
                                     _resource_list(res.get("limits"))))
        for name in wanted - have:
            missing.setdefault(name, set()).add(str(_d(c).get("name", "")))
    if not missing:
        return None
    parts = [f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing)]
    return "must specify " + "; ".join(parts)


def parse_list(values: Mapping[str, Any] | None) -> Usage:
    """A ResourceList (`{"pods": "2"}`) as numbers; unparsable values are left out."""
    return _resource_list(values)


def add(a: Mapping[str, Fraction], b: Mapping[str, Fraction]) -> Usage:
    out = dict(a)
    for key, value in b.items():
        out[key] = out.get(key, Fraction(0)) + value
    return out


def subtract_non_negative(a: Mapping[str, Fraction], b: Mapping[str, Fraction]) -> Usage:
    """SubtractWithNonNegativeResult: an update is charged only for what grows."""
    return {k: max(Fraction(0), v - b.get(k, Fraction(0))) for k, v in a.items()}


def _is_binary(name: str) -> bool:
    return name.endswith(("memory", "storage")) or "hugepages-" in name


def format_value(name: str, value: Fraction) -> str:
    """A usage figure as Kubernetes prints it (`2`, `500m`, `128Mi`)."""
    return format_quantity(value, binary=_is_binary(name) and value.denominator == 1
                           and value % 1024 == 0)


def format_list(values: Mapping[str, Fraction]) -> dict[str, str]:
    return {k: format_value(k, v) for k, v in sorted(values.items())}


def pretty(values: Mapping[str, Fraction]) -> str:
    """prettyPrint: `pods=1,requests.cpu=500m`, sorted by name."""
    return ",".join(f"{k}={format_value(k, v)}" for k, v in sorted(values.items()))


def exceeded(name: str, hard: Mapping[str, Fraction], used: Mapping[str, Fraction],
             delta: Mapping[str, Fraction]) -> str | None:
    """Kube's refusal when `used + delta` passes `hard` on a name `delta` requests."""
    requested = {k: v for k, v in delta.items() if k in hard}
    over = sorted(k for k, v in requested.items() if used.get(k, Fraction(0)) + v > hard[k])
    if not over:
        return None
    return (f"exceeded quota: {name}, requested: {pretty({k: requested[k] for k in over})}, "
            f"used: {pretty({k: used.get(k, Fraction(0)) for k in over})}, "
            f"limited: {pretty({k: hard[k] for k in over})}")
