"""Validation of a pod's placement rules that involve other pods: its
`topologySpreadConstraints` and its inter-pod affinity and anti-affinity
(pkg/apis/core/validation validateTopologySpreadConstraints and
validatePodAffinity/validatePodAntiAffinity), with Kubernetes' paths and wording.
"""

from __future__ import annotations

from typing import Any, TypeGuard

from kybernetes.api import meta as names
from kybernetes.api.field_errors import ErrorList, as_dict, as_list, label_selector_errors

_ACTIONS = ("DoNotSchedule", "ScheduleAnyway")
_INCLUSION_POLICIES = ("Honor", "Ignore")
_NOT_POSITIVE = "must be greater than zero"


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _selector_keys(selector: Any) -> set[str]:
    selector = as_dict(selector)
    return set(as_dict(selector.get("matchLabels"))) | {
        str(as_dict(e).get("key", "")) for e in as_list(selector.get("matchExpressions"))}


def _label_keys(errs: ErrorList, keys: Any, path: str, selector: Any) -> None:
    """matchLabelKeys (and mismatchLabelKeys): label names not in the labelSelector."""
    keys = as_list(keys)
    if keys and selector is None:
        errs.forbidden(path, "must not be specified when labelSelector is not set")
    in_selector = _selector_keys(selector)
    for i, key in enumerate(keys):
        errs.each(f"{path}[{i}]", key, names.is_qualified_name(str(key)))
        if key in in_selector:
            errs.invalid(f"{path}[{i}]", key, "exists in both matchLabelKeys and labelSelector")


def validate_topology_spread(errs: ErrorList, constraints: Any, path: str) -> None:
    constraints = [as_dict(c) for c in as_list(constraints)]
    for i, c in enumerate(constraints):
        p = f"{path}[{i}]"
        max_skew = c.get("maxSkew")
        if not _is_int(max_skew) or max_skew <= 0:
            errs.invalid(f"{p}.maxSkew", max_skew if max_skew is not None else 0, _NOT_POSITIVE)
        if not c.get("topologyKey"):
            errs.required(f"{p}.topologyKey", "can not be empty")
        action = c.get("whenUnsatisfiable")
        if action not in _ACTIONS:
            errs.not_supported(f"{p}.whenUnsatisfiable", action or "", _ACTIONS)
        if any(c.get("topologyKey") == other.get("topologyKey") and
               action == other.get("whenUnsatisfiable") for other in constraints[i + 1:]):
            errs.duplicate(f"{p}.{{topologyKey, whenUnsatisfiable}}",
                           f"{{{c.get('topologyKey')}, {action}}}")
        min_domains = c.get("minDomains")
        if min_domains is not None:
            if not _is_int(min_domains) or min_domains <= 0:
                errs.invalid(f"{p}.minDomains", min_domains, _NOT_POSITIVE)
            if action != "DoNotSchedule":
                errs.invalid(f"{p}.minDomains", min_domains,
                             f"can only use minDomains if whenUnsatisfiable=DoNotSchedule, "
                             f"not {action}")
        for policy in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            value = c.get(policy)
            if value is not None and value not in _INCLUSION_POLICIES:
                errs.not_supported(f"{p}.{policy}", value, _INCLUSION_POLICIES)
        _label_keys(errs, c.get("matchLabelKeys"), f"{p}.matchLabelKeys", c.get("labelSelector"))
        if c.get("labelSelector") is not None:
            errs.causes.extend(label_selector_errors(c["labelSelector"], f"{p}.labelSelector"))


def _affinity_term(errs: ErrorList, term: Any, path: str) -> None:
    term = as_dict(term)
    selector = term.get("labelSelector")
    if selector is not None:
        errs.causes.extend(label_selector_errors(selector, f"{path}.labelSelector"))
    if term.get("namespaceSelector") is not None:
        errs.causes.extend(label_selector_errors(term["namespaceSelector"],
                                                 f"{path}.namespaceSelector"))
    for name in as_list(term.get("namespaces")):
        # kube names this path `namespace` (singular)
        errs.each(f"{path}.namespace", name, names.is_dns1123_label(str(name)))
    for keys in ("matchLabelKeys", "mismatchLabelKeys"):
        _label_keys(errs, term.get(keys), f"{path}.{keys}", selector)
    key = str(term.get("topologyKey") or "")
    if not key:
        errs.required(f"{path}.topologyKey", "can not be empty")
    errs.each(f"{path}.topologyKey", key, names.is_qualified_name(key))


def _pod_affinity(errs: ErrorList, section: Any, path: str) -> None:
    section = as_dict(section)
    required = "requiredDuringSchedulingIgnoredDuringExecution"
    for i, term in enumerate(as_list(section.get(required))):
        _affinity_term(errs, term, f"{path}.{required}[{i}]")
    preferred = "preferredDuringSchedulingIgnoredDuringExecution"
    for i, weighted in enumerate(as_list(section.get(preferred))):
        weighted, p = as_dict(weighted), f"{path}.{preferred}[{i}]"
        weight = weighted.get("weight")
        if not _is_int(weight) or not 1 <= weight <= 100:
            errs.invalid(f"{p}.weight", weight if weight is not None else 0,
                         "must be in the range 1-100")
        _affinity_term(errs, weighted.get("podAffinityTerm"), f"{p}.podAffinityTerm")


def validate_pod_placement(errs: ErrorList, spec: dict[str, Any], path: str) -> None:
    """A pod spec's topologySpreadConstraints and pod (anti-)affinity."""
    validate_topology_spread(errs, spec.get("topologySpreadConstraints"),
                             f"{path}.topologySpreadConstraints")
    affinity = as_dict(spec.get("affinity"))
    for kind in ("podAffinity", "podAntiAffinity"):
        if affinity.get(kind) is not None:
            _pod_affinity(errs, affinity[kind], f"{path}.affinity.{kind}")
