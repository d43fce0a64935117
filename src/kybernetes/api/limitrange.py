"""LimitRange: its defaulting and validation, and what the LimitRanger admission plugin
does to a pod (plugin/pkg/admission/limitranger): default requests and limits into
containers, then min / max / maxLimitRequestRatio per Container and per Pod, refused
with Kubernetes' words. Pure: no I/O.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from kybernetes.api.field_errors import ErrorList, as_dict, as_list
from kybernetes.api.quantity import format_quantity, parse_quantity
from kybernetes.api.quota import pod_totals

Obj = dict[str, Any]
LIMIT_TYPES = ("Pod", "Container", "PersistentVolumeClaim")
ANNOTATION = "kubernetes.io/limit-ranger"
_FIELDS = ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")


def _q(value: Any) -> Fraction | None:
    try:
        return parse_quantity(value)
    except (ValueError, TypeError):
        return None


def _text(value: Any) -> str:
    """Quantity.String() of a value as written (canonical when it parses)."""
    q = _q(value)
    if q is None:
        return str(value)
    binary = isinstance(value, str) and value.rstrip().endswith("i")
    return format_quantity(q, binary=binary)


def limit_range_defaults(obj: Obj) -> None:
    """SetDefaults_LimitRangeItem: a Container item's default limit is its max, its
    default request the default limit, else the min."""
    for item in as_list(as_dict(obj.get("spec")).get("limits")):
        if not isinstance(item, dict) or item.get("type") != "Container":
            continue
        default = item.setdefault("default", {}) if isinstance(
            item.get("default", {}), dict) else {}
        request = item.setdefault("defaultRequest", {}) if isinstance(
            item.get("defaultRequest", {}), dict) else {}
        for key, value in as_dict(item.get("max")).items():
            default.setdefault(key, value)
        for key, value in default.items():
            request.setdefault(key, value)
        for key, value in as_dict(item.get("min")).items():
            request.setdefault(key, value)
        for name, value in (("default", default), ("defaultRequest", request)):
            if not value:
                item.pop(name, None)


def validate_limit_range(errs: ErrorList, obj: Obj, old: Obj | None) -> None:
    """ValidateLimitRange."""
    seen: set[str] = set()
    for i, item in enumerate(as_list(as_dict(obj.get("spec")).get("limits"))):
        item, path = as_dict(item), f"spec.limits[{i}]"
        kind = item.get("type")
        if not kind:
            errs.required(f"{path}.type")
        elif kind not in LIMIT_TYPES and "/" not in str(kind):
            errs.invalid(f"{path}.type", kind, "must be a standard limit type or fully "
                                               "qualified")
        if kind in seen:
            errs.duplicate(f"{path}.type", kind)
        seen.add(str(kind))
        values: dict[str, dict[str, Fraction]] = {}
        for name in _FIELDS:
            values[name] = {}
            for key, raw in as_dict(item.get(name)).items():
                q = _q(raw)
                if q is None:
                    errs.invalid(f"{path}.{name}[{key}]", raw, "must be a valid quantity")
                    continue
                if q < 0:
                    errs.invalid(f"{path}.{name}[{key}]", _text(raw),
                                 "must be greater than or equal to 0")
                values[name][str(key)] = q
        if kind == "Pod":
            for name in ("default", "defaultRequest"):
                if item.get(name):
                    errs.forbidden(f"{path}.{name}", "may not be specified when `type` is 'Pod'")
        _check_order(errs, path, item, values)


def _check_order(errs: ErrorList, path: str, item: Obj,
                 values: dict[str, dict[str, Fraction]]) -> None:
    keys = sorted({k for v in values.values() for k in v})
    lo, hi = values["min"], values["max"]
    dflt, dreq, ratio = values["default"], values["defaultRequest"], values[
        "maxLimitRequestRatio"]

    def t(name: str, key: str) -> str:
        return _text(as_dict(item.get(name)).get(key))
    for k in keys:
        if k in lo and k in hi and lo[k] > hi[k]:
            errs.invalid(f"{path}.min[{k}]", t("min", k),
                         f"min value {t('min', k)} is greater than max value {t('max', k)}")
        if k in dreq and k in lo and lo[k] > dreq[k]:
            errs.invalid(f"{path}.defaultRequest[{k}]", t("defaultRequest", k),
                         f"min value {t('min', k)} is greater than default request value "
                         f"{t('defaultRequest', k)}")
        if k in dreq and k in hi and dreq[k] > hi[k]:
            errs.invalid(f"{path}.defaultRequest[{k}]", t("defaultRequest", k),
                         f"default request value {t('defaultRequest', k)} is greater than max "
                         f"value {t('max', k)}")
        if k in dreq and k in dflt and dreq[k] > dflt[k]:
            errs.invalid(f"{path}.defaultRequest[{k}]", t("defaultRequest", k),
                         f"default request value {t('defaultRequest', k)} is greater than "
                         f"default limit value {t('default', k)}")
        if k in dflt and k in lo and lo[k] > dflt[k]:
            errs.invalid(f"{path}.default[{k}]", t("min", k),
                         f"min value {t('min', k)} is greater than default value "
                         f"{t('default', k)}")
        if k in dflt and k in hi and dflt[k] > hi[k]:
            errs.invalid(f"{path}.default[{k}]", t("max", k),
                         f"default value {t('default', k)} is greater than max value "
                         f"{t('max', k)}")
        if k in ratio and ratio[k] < 1:
            errs.invalid(f"{path}.maxLimitRequestRatio[{k}]", t("maxLimitRequestRatio", k),
                         f"ratio {t('maxLimitRequestRatio', k)} is less than 1")
        if k in ratio and k in lo and k in hi and lo[k] > 0 and ratio[k] > hi[k] / lo[k]:
            errs.invalid(f"{path}.maxLimitRequestRatio[{k}]", t("maxLimitRequestRatio", k),
                         f"ratio {t('maxLimitRequestRatio', k)} is greater than max/min = "
                         f"{float(hi[k] / lo[k]):f}")


# -- admission ----------------------------------------------------------------------------

def _containers(pod: Obj) -> list[tuple[str, Obj]]:
    spec = as_dict(pod.get("spec"))
    return [*(("init container", c) for c in as_list(spec.get("initContainers"))
              if isinstance(c, dict)),
            *(("container", c) for c in as_list(spec.get("containers")) if isinstance(c, dict))]


def default_pod(pod: Obj, limit_ranges: list[Obj]) -> bool:
    """mergePodResourceRequirements: each Container item's default limits and requests
    into every container that lacks them, noted in the limit-ranger annotation.
    True when the pod changed."""
    notes: list[str] = []
    for lr in limit_ranges:
        limits, requests = {}, {}
        for item in as_list(as_dict(lr.get("spec")).get("limits")):
            if isinstance(item, dict) and item.get("type") == "Container":
                limits.update(as_dict(item.get("default")))
                requests.update(as_dict(item.get("defaultRequest")))
        if not limits and not requests:
            continue
        for prefix, container in _containers(pod):
            resources = container.setdefault("resources", {})
            if not isinstance(resources, dict):
                continue
            set_now = {}
            for field, defaults in (("limits", limits), ("requests", requests)):
                current = resources.get(field)
                if not isinstance(current, dict):
                    current = {}
                set_now[field] = sorted(k for k in defaults if k not in current)
                for k in set_now[field]:
                    current[k] = defaults[k]
                if current:
                    resources[field] = current
            for field, word in (("requests", "request"), ("limits", "limit")):  # kube's order
                if set_now[field]:
                    notes.append(f"{', '.join(set_now[field])} {word} for {prefix} "
                                 f"{container.get('name', '')}")
    if notes:
        meta = pod.setdefault("metadata", {})
        annotations = meta.get("annotations") if isinstance(meta.get("annotations"),
                                                            dict) else {}
        annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)
        meta["annotations"] = annotations
    return bool(notes)


def _resource_list(value: Any) -> dict[str, Fraction]:
    out = {}
    for k, v in as_dict(value).items():
        q = _q(v)
        if q is not None:
            out[str(k)] = q
    return out


def _texts(value: Any) -> dict[str, str]:
    return {str(k): _text(v) for k, v in as_dict(value).items()}


def _min(kind: str, name: str, enforced: str, req: dict[str, Fraction], lim: dict[str, Fraction],
         texts: tuple[dict[str, str], dict[str, str]]) -> str | None:
    floor = parse_quantity(enforced)
    if name not in req:
        return f"minimum {name} usage per {kind} is {enforced}.  No request is specified"
    if req[name] < floor:
        return f"minimum {name} usage per {kind} is {enforced}, but request is {texts[0][name]}"
    if name in lim and lim[name] < floor:
        return f"minimum {name} usage per {kind} is {enforced}, but limit is {texts[1][name]}"
    return None


def _max(kind: str, name: str, enforced: str, req: dict[str, Fraction], lim: dict[str, Fraction],
         texts: tuple[dict[str, str], dict[str, str]]) -> str | None:
    ceiling = parse_quantity(enforced)
    if name not in lim:
        return f"maximum {name} usage per {kind} is {enforced}.  No limit is specified"
    if lim[name] > ceiling:
        return f"maximum {name} usage per {kind} is {enforced}, but limit is {texts[1][name]}"
    if name in req and req[name] > ceiling:
        return f"maximum {name} usage per {kind} is {enforced}, but request is {texts[0][name]}"
    return None


def _ratio(kind: str, name: str, enforced: str, req: dict[str, Fraction],
           lim: dict[str, Fraction], texts: tuple[dict[str, str], dict[str, str]]
           ) -> str | None:
    most = parse_quantity(enforced)
    head = f"{name} max limit to request ratio per {kind} is {enforced}"
    if not req.get(name):
        return f"{head}, but no request is specified or request is 0"
    if not lim.get(name):
        return f"{head}, but no limit is specified or limit is 0"
    observed = lim[name] / req[name]
    if observed > most:
        return f"{head}, but provided ratio is {float(observed):f}"
    return None


_CHECKS = (("min", _min), ("max", _max), ("maxLimitRequestRatio", _ratio))


def _check(kind: str, item: Obj, req: dict[str, Fraction], lim: dict[str, Fraction],
           texts: tuple[dict[str, str], dict[str, str]]) -> list[str]:
    problems = []
    for field, check in _CHECKS:
        for name, value in sorted(as_dict(item.get(field)).items()):
            problem = check(kind, str(name), _text(value), req, lim, texts)
            if problem:
                problems.append(problem)
    return problems


def pod_violations(pod: Obj, limit_ranges: list[Obj]) -> list[str]:
    """PodValidateLimitFunc for every LimitRange, in order, duplicates dropped."""
    problems: list[str] = []
    for lr in limit_ranges:
        for item in as_list(as_dict(lr.get("spec")).get("limits")):
            item = as_dict(item)
            if item.get("type") == "Container":
                for _, c in _containers(pod):
                    res = as_dict(c.get("resources"))
                    problems += _check("Container", item, _resource_list(res.get("requests")),
                                       _resource_list(res.get("limits")),
                                       (_texts(res.get("requests")), _texts(res.get("limits"))))
            elif item.get("type") == "Pod":
                req, lim = pod_totals(pod, "requests"), pod_totals(pod, "limits")
                problems += _check("Pod", item, req, lim, (
                    {k: format_quantity(v, binary=v.denominator == 1 and v % 1024 == 0
                                        and "memory" in k) for k, v in req.items()},
                    {k: format_quantity(v, binary=v.denominator == 1 and v % 1024 == 0
                                        and "memory" in k) for k, v in lim.items()}))
    return list(dict.fromkeys(problems))


def aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message bare, several in brackets."""
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
