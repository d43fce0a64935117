"""Roles and bindings are defaulted and validated as Kubernetes' pkg/apis/rbac does, causes
word for word (through each kind's definition, so metadata's name rule is checked too)."""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.apiserver.kinds.definition import KindDefinition
from kybernetes.apiserver.kinds.rbac import clusterrole, clusterrolebinding, role, rolebinding

GROUP = "rbac.authorization.k8s.io"
READ_PODS = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}


def causes(kind: KindDefinition, obj: dict[str, Any],
           old: dict[str, Any] | None = None) -> list[tuple[str, str, str]]:
    obj = copy.deepcopy(obj)
    kind.apply_defaults(obj)
    return kind.causes(obj, old)


def a_role(*rules: dict[str, Any], name: str = "r") -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": "Role",
            "metadata": {"name": name, "namespace": "ns"}, "rules": list(rules)}


def a_cluster_role(*rules: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": "ClusterRole", "metadata": {"name": "cr"},
            "rules": list(rules), **extra}


def a_binding(ref: dict[str, Any], *subjects: dict[str, Any],
              namespaced: bool = True) -> dict[str, Any]:
    meta = {"name": "b", "namespace": "ns"} if namespaced else {"name": "b"}
    kind = "RoleBinding" if namespaced else "ClusterRoleBinding"
    return {"apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": meta, "roleRef": ref,
            "subjects": list(subjects)}


def test_a_valid_role_and_unknown_verbs_are_accepted() -> None:
    # Kubernetes stores any verb: an unknown one never matches a request.
    assert causes(role.DEFINITION, a_role(READ_PODS, {**READ_PODS, "verbs": ["frobnicate"]})) == []
    assert causes(role.DEFINITION, a_role()) == []


def test_names_are_path_segments_not_dns_names() -> None:
    assert causes(role.DEFINITION, a_role(name="system:Controller_X")) == []
    assert causes(role.DEFINITION, a_role(name="a/b")) == [
        ("metadata.name", "FieldValueInvalid", "Invalid value: \"a/b\": may not contain '/'")]
    assert causes(role.DEFINITION, a_role(name="..")) == [
        ("metadata.name", "FieldValueInvalid", "Invalid value: \"..\": may not be '..'")]


def test_policy_rules() -> None:
    assert causes(role.DEFINITION, a_role({"apiGroups": [""], "resources": ["pods"]})) == [
        ("rules[0].verbs", "FieldValueRequired",
         "Required value: verbs must contain at least one value")]
    assert causes(role.DEFINITION, a_role({"verbs": ["get"]})) == [
        ("rules[0].apiGroups", "FieldValueRequired",
         "Required value: resource rules must supply at least one api group"),
        ("rules[0].resources", "FieldValueRequired",
         "Required value: resource rules must supply at least one resource")]
    urls = {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}
    assert causes(role.DEFINITION, a_role(urls)) == [
        ("rules[0].nonResourceURLs", "FieldValueInvalid",
         'Invalid value: []string{"/healthz"}: namespaced rules cannot apply to non-resource '
         'URLs')]
    assert causes(clusterrole.DEFINITION, a_cluster_role(urls)) == []
    assert causes(clusterrole.DEFINITION, a_cluster_role({**urls, "resources": ["pods"]})) == [
        ("rules[0].nonResourceURLs", "FieldValueInvalid",
         'Invalid value: []string{"/healthz"}: rules cannot apply to both regular resources and '
         'non-resource URLs')]


def test_aggregation_rule() -> None:
    good = {"clusterRoleSelectors": [{"matchLabels": {"x/aggregate": "true"}}]}
    assert causes(clusterrole.DEFINITION, a_cluster_role(aggregationRule=good)) == []
    assert causes(clusterrole.DEFINITION, a_cluster_role(aggregationRule={})) == [
        ("aggregationRule.clusterRoleSelectors", "FieldValueRequired",
         "Required value: at least one clusterRoleSelector required if aggregationRule is "
         "non-nil")]
    bad = {"clusterRoleSelectors": [{"matchExpressions": [{"key": "k", "operator": "In"}]}]}
    assert [c[0] for c in causes(clusterrole.DEFINITION, a_cluster_role(aggregationRule=bad))] \
        == ["aggregationRule.clusterRoleSelectors[0].matchExpressions[0].values",
            "aggregationRule.clusterRoleSelectors[0]"]


def test_bindings_are_defaulted_and_role_refs_checked() -> None:
    obj = a_binding({"kind": "ClusterRole", "name": "view"}, {"kind": "User", "name": "jane"},
                    {"kind": "ServiceAccount", "name": "default", "namespace": "ns"})
    rolebinding.DEFINITION.apply_defaults(obj)
    assert obj["roleRef"]["apiGroup"] == GROUP
    assert obj["subjects"][0]["apiGroup"] == GROUP and "apiGroup" not in obj["subjects"][1]
    assert rolebinding.DEFINITION.causes(obj) == []
    assert causes(rolebinding.DEFINITION, a_binding({"apiGroup": "x", "kind": "Pod"})) == [
        ("roleRef.apiGroup", "FieldValueNotSupported",
         f'Unsupported value: "x": supported values: "{GROUP}"'),
        ("roleRef.kind", "FieldValueNotSupported",
         'Unsupported value: "Pod": supported values: "Role", "ClusterRole"'),
        ("roleRef.name", "FieldValueRequired", "Required value")]
    assert causes(clusterrolebinding.DEFINITION,
                  a_binding({"kind": "Role", "name": "r"}, namespaced=False)) == [
        ("roleRef.kind", "FieldValueNotSupported",
         'Unsupported value: "Role": supported values: "ClusterRole"')]


def test_subjects() -> None:
    ref = {"kind": "ClusterRole", "name": "view"}
    account = {"kind": "ServiceAccount", "name": "default"}
    assert causes(rolebinding.DEFINITION, a_binding(ref, account)) == []
    assert causes(clusterrolebinding.DEFINITION, a_binding(ref, account, namespaced=False)) == [
        ("subjects[0].namespace", "FieldValueRequired", "Required value")]
    assert causes(rolebinding.DEFINITION, a_binding(
        ref, {**account, "name": "Bad_Name", "apiGroup": GROUP},
        {"kind": "User", "name": "u", "apiGroup": "v1"}, {"kind": "Robot", "name": ""})) == [
        ("subjects[0].name", "FieldValueInvalid",
         'Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case '
         "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
         "character (e.g. 'example.com', regex used for validation is "
         "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
        ("subjects[0].apiGroup", "FieldValueNotSupported",
         f'Unsupported value: "{GROUP}": supported values: ""'),
        ("subjects[1].apiGroup", "FieldValueNotSupported",
         f'Unsupported value: "v1": supported values: "{GROUP}"'),
        ("subjects[2].name", "FieldValueRequired", "Required value"),
        ("subjects[2].kind", "FieldValueNotSupported",
         'Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"')]


def test_role_ref_cannot_change() -> None:
    old = a_binding({"kind": "ClusterRole", "name": "view"})
    rolebinding.DEFINITION.apply_defaults(old)
    new = a_binding({"kind": "ClusterRole", "name": "edit"})
    assert causes(rolebinding.DEFINITION, new, old) == [
        ("roleRef", "FieldValueInvalid",
         f'Invalid value: rbac.RoleRef{{APIGroup:"{GROUP}", Kind:"ClusterRole", Name:"edit"}}: '
         "cannot change roleRef")]
    same = a_binding({"kind": "ClusterRole", "name": "view"}, {"kind": "Group", "name": "g"})
    assert causes(rolebinding.DEFINITION, same, old) == []
