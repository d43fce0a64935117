"""Defaults and validation of rbac.authorization.k8s.io/v1 roles and bindings.

Follows pkg/apis/rbac/v1/defaults.go and pkg/apis/rbac/validation/validation.go,
field paths and wording included (kubectl prints causes verbatim). Object
metadata is the generic path's, with names checked as URL path segments
(`meta.is_path_segment_name`), as Kubernetes' ValidateRBACName does.

Verbs are not checked against a list: Kubernetes stores any verb (an unknown
one simply never matches a request), so a Role with verb "frobnicate" is accepted.
"""

from __future__ import annotations

from kybernetes.api import meta as names
from kybernetes.api.field_errors import (
    ErrorList,
    GoSyntax,
    Obj,
    as_dict,
    as_list,
    label_selector_errors,
)

GROUP = "rbac.authorization.k8s.io"
SUBJECT_KINDS = ("ServiceAccount", "User", "Group")


# --- defaults ----------------------------------------------------------------------------

def binding_defaults(binding: Obj) -> None:
    """SetDefaults_{Cluster,}RoleBinding and SetDefaults_Subject: the roleRef's apiGroup,
    and the apiGroup of User and Group subjects, default to rbac.authorization.k8s.io."""
    ref = binding.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = GROUP
    for subject in as_list(binding.get("subjects")):
        if isinstance(subject, dict) and not subject.get("apiGroup") \
                and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = GROUP


# --- roles -------------------------------------------------------------------------------

def _validate_policy_rule(errs: ErrorList, rule: Obj, path: str, *, namespaced: bool) -> None:
    """ValidatePolicyRule: verbs always; either non-resource URLs (cluster roles only) or
    resources with their API groups."""
    if not as_list(rule.get("verbs")):
        errs.required(f"{path}.verbs", "verbs must contain at least one value")
    urls = as_list(rule.get("nonResourceURLs"))
    if urls:
        if namespaced:
            errs.invalid(f"{path}.nonResourceURLs", urls,
                         "namespaced rules cannot apply to non-resource URLs")
        if any(as_list(rule.get(k)) for k in ("apiGroups", "resources", "resourceNames")):
            errs.invalid(f"{path}.nonResourceURLs", urls,
                         "rules cannot apply to both regular resources and non-resource URLs")
        return
    if not as_list(rule.get("apiGroups")):
        errs.required(f"{path}.apiGroups", "resource rules must supply at least one api group")
    if not as_list(rule.get("resources")):
        errs.required(f"{path}.resources", "resource rules must supply at least one resource")


def _validate_rules(errs: ErrorList, role: Obj, *, namespaced: bool) -> None:
    for i, rule in enumerate(as_list(role.get("rules"))):
        _validate_policy_rule(errs, as_dict(rule), f"rules[{i}]", namespaced=namespaced)


def validate_role(errs: ErrorList, role: Obj, old: Obj | None) -> None:
    """ValidateRole (metadata is checked by the generic path)."""
    _validate_rules(errs, role, namespaced=True)


def validate_cluster_role(errs: ErrorList, role: Obj, old: Obj | None) -> None:
    """ValidateClusterRole: its rules, and the aggregation rule's label selectors."""
    _validate_rules(errs, role, namespaced=False)
    if "aggregationRule" not in role or role["aggregationRule"] is None:
        return
    path = "aggregationRule.clusterRoleSelectors"
    selectors = as_list(as_dict(role["aggregationRule"]).get("clusterRoleSelectors"))
    if not selectors:
        errs.required(path, "at least one clusterRoleSelector required if aggregationRule is "
                            "non-nil")
    for i, selector in enumerate(selectors):
        causes = label_selector_errors(selector, f"{path}[{i}]")
        errs.causes.extend(causes)
        if causes:  # LabelSelectorAsSelector fails too, leaving a nil selector
            errs.invalid(f"{path}[{i}]", "null", "invalid label selector.")


# --- bindings ----------------------------------------------------------------------------

def _validate_subject(errs: ErrorList, subject: Obj, path: str, *, namespaced: bool) -> None:
    """ValidateRoleBindingSubject."""
    name, group = str(subject.get("name") or ""), str(subject.get("apiGroup") or "")
    if not name:
        errs.required(f"{path}.name")
    kind = subject.get("kind") or ""
    if kind == "ServiceAccount":
        if name:
            errs.each(f"{path}.name", name, names.is_dns1123_subdomain(name))
        if group:
            errs.not_supported(f"{path}.apiGroup", group, ("",))
        if not namespaced and not subject.get("namespace"):
            errs.required(f"{path}.namespace")
    elif kind in ("User", "Group"):
        if group != GROUP:
            errs.not_supported(f"{path}.apiGroup", group, (GROUP,))
    else:
        errs.not_supported(f"{path}.kind", kind, SUBJECT_KINDS)


def _role_ref_text(ref: Obj) -> GoSyntax:
    """The roleRef as Go's %#v prints an rbac.RoleRef."""
    return GoSyntax(f'rbac.RoleRef{{APIGroup:"{ref.get("apiGroup") or ""}", '
                    f'Kind:"{ref.get("kind") or ""}", Name:"{ref.get("name") or ""}"}}')


def _validate_binding(errs: ErrorList, binding: Obj, old: Obj | None, *,
                      namespaced: bool) -> None:
    ref = as_dict(binding.get("roleRef"))
    api_group = ref.get("apiGroup") or ""
    if api_group != GROUP:
        errs.not_supported("roleRef.apiGroup", api_group, (GROUP,))
    kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    if ref.get("kind") not in kinds:
        errs.not_supported("roleRef.kind", ref.get("kind") or "", kinds)
    name = str(ref.get("name") or "")
    if not name:
        errs.required("roleRef.name")
    else:
        errs.each("roleRef.name", name, names.is_path_segment_name(name))
    for i, subject in enumerate(as_list(binding.get("subjects"))):
        _validate_subject(errs, as_dict(subject), f"subjects[{i}]", namespaced=namespaced)
    if old is not None:
        old_ref = as_dict(old.get("roleRef"))
        if any((ref.get(k) or "") != (old_ref.get(k) or "") for k in ("apiGroup", "kind", "name")):
            errs.invalid("roleRef", _role_ref_text(ref), "cannot change roleRef")


def validate_role_binding(errs: ErrorList, binding: Obj, old: Obj | None) -> None:
    """ValidateRoleBinding(Update): roleRef names a Role or ClusterRole and never changes."""
    _validate_binding(errs, binding, old, namespaced=True)


def validate_cluster_role_binding(errs: ErrorList, binding: Obj, old: Obj | None) -> None:
    """ValidateClusterRoleBinding(Update): roleRef names a ClusterRole and never changes;
    ServiceAccount subjects must say their namespace."""
    _validate_binding(errs, binding, old, namespaced=False)
