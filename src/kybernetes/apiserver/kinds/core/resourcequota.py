"""ResourceQuota: per-namespace limits on object counts and compute; status.used is
kept by the ResourceQuota admission plugin and the resource quota controller."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from kybernetes.api import quota
from kybernetes.api import resources as r
from kybernetes.api.field_errors import ErrorList, as_dict, as_list
from kybernetes.api.quantity import parse_quantity
from kybernetes.apiserver.kinds.definition import KindDefinition, TableSpec, builtin_schema
from kybernetes.apiserver.kinds.strategy import StatusStrategy
from kybernetes.apiserver.tables import AGE, NAME, since

Obj = dict[str, Any]
_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def _validate_list(errs: ErrorList, values: Any, path: str) -> None:
    """validateResourceQuotaResourceName and ValidateResourceQuantityValue per entry."""
    for name, raw in as_dict(values).items():
        at = f"{path}[{name}]"
        if "/" not in name and name not in quota.STANDARD and not name.startswith(
                "requests.hugepages-"):
            errs.invalid(at, name, "must be a standard resource for quota")
        try:
            value = parse_quantity(raw)
        except (ValueError, TypeError):
            errs.invalid(at, raw, "must be a valid quantity")
            continue
        if value < 0:
            errs.invalid(at, raw, "must be greater than or equal to 0")
        if quota.is_integer_resource(name) and value.denominator != 1:
            errs.invalid(at, raw, "must be an integer")


def _validate_scopes(errs: ErrorList, spec: Obj) -> None:
    scopes = [str(s) for s in as_list(spec.get("scopes"))]
    for scope in scopes:
        if scope not in quota.SCOPES:
            errs.invalid("spec.scopes", scope, "unsupported scope")
    selector = as_dict(spec.get("scopeSelector"))
    for i, expr in enumerate(as_list(selector.get("matchExpressions"))):
        expr, path = as_dict(expr), f"spec.scopeSelector.matchExpressions[{i}]"
        scope, op = str(expr.get("scopeName", "")), expr.get("operator")
        if scope not in quota.SCOPES:
            errs.invalid(f"{path}.scopeName", scope, "unsupported scope")
        if op not in _OPERATORS:
            errs.invalid(f"{path}.operator", op, "not a valid selector operator")
        values = as_list(expr.get("values"))
        if scope in ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort") and \
                op != "Exists":
            errs.invalid(f"{path}.operator", op, "must be 'Exist' when scope is any of "
                         "ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, "
                         "ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or "
                         "ResourceQuotaScopeCrossNamespacePodAffinity")
        if op in ("In", "NotIn") and not values:
            errs.required(f"{path}.values",
                          "must be at least one value when `operator` is 'In' or 'NotIn' for "
                          "scope selector")
        elif op in ("Exists", "DoesNotExist") and values:
            errs.invalid(f"{path}.values", values,
                         "must be no value when `operator` is 'Exist' or 'DoesNotExist' for "
                         "scope selector")
    named = {s for s, _, _ in quota.scope_requirements({"spec": spec})}
    hard = list(as_dict(spec.get("hard")))
    for scope in named & set(quota.SCOPES):
        allowed = quota.SCOPE_RESOURCES[scope]
        if any(name not in allowed for name in hard):
            errs.invalid("spec.scopes" if scope in scopes else "spec.scopeSelector",
                         scopes or scope, "unsupported scope applied to resource")
    for a, b in (("Terminating", "NotTerminating"), ("BestEffort", "NotBestEffort")):
        if a in named and b in named:
            errs.invalid("spec.scopes" if a in scopes else "spec.scopeSelector",
                         scopes or [a, b], "conflicting scopes")


def validate_resource_quota(errs: ErrorList, obj: Obj, old: Obj | None) -> None:
    """ValidateResourceQuota: resource names, quantities, scopes; status the same way."""
    spec = as_dict(obj.get("spec"))
    _validate_list(errs, spec.get("hard"), "spec.hard")
    _validate_scopes(errs, spec)
    status = as_dict(obj.get("status"))
    _validate_list(errs, status.get("hard"), "status.hard")
    _validate_list(errs, status.get("used"), "status.used")


def _print_quota(obj: Obj, now: _dt.datetime) -> list[Any]:
    """printResourceQuota: `name: used/hard`, limits.* in LIMIT, the rest in REQUEST."""
    meta = as_dict(obj.get("metadata"))
    status = as_dict(obj.get("status"))
    used, hard = as_dict(status.get("used")), as_dict(status.get("hard"))
    request: list[str] = []
    limit: list[str] = []
    for name in sorted(as_dict(as_dict(obj.get("spec")).get("hard"))):
        column = limit if name.split(".")[0] == "limits" and "." in name else request
        column.append(f"{name}: {used.get(name, '0')}/{hard.get(name, '0')}")
    return [meta.get("name", ""), since(meta.get("creationTimestamp"), now),
            ", ".join(request), ", ".join(limit)]


DEFINITION = KindDefinition(
    resource=r.RESOURCE_QUOTAS,
    schema=builtin_schema("io.k8s.api.core.v1.ResourceQuota"),
    openapi_name="io.k8s.api.core.v1.ResourceQuota",
    defaults=None,
    validate=validate_resource_quota,
    strategy=StatusStrategy(None),
    table=TableSpec((NAME, AGE, ("Request", "string", 0), ("Limit", "string", 0)),
                    _print_quota),
    field_selectors={},
)
