"""The bootstrap RBAC policy is valid, complete and aggregated; reconcile merges are unions;
aggregation is deduplicated and stable."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api.rbac_aggregation import aggregated_rules
from kybernetes.apiserver.authz.rbac import bootstrap_policy as policy
from kybernetes.apiserver.authz.rbac.bootstrap import merge_binding, merge_role
from kybernetes.apiserver.kinds.rbac import clusterrole, clusterrolebinding, role, rolebinding

KINDS = {"ClusterRole": clusterrole, "ClusterRoleBinding": clusterrolebinding,
         "Role": role, "RoleBinding": rolebinding}
ALL = (policy.cluster_roles() + policy.cluster_role_bindings() + policy.namespace_roles()
       + policy.namespace_role_bindings())


@pytest.mark.parametrize("obj", ALL, ids=[f"{o['kind']}/{o['metadata']['name']}" for o in ALL])
def test_every_object_is_valid_and_marked(obj: dict) -> None:
    kind = KINDS[obj["kind"]].DEFINITION
    obj = copy.deepcopy(obj)
    kind.apply_defaults(obj)
    assert kind.causes(obj) == []
    assert obj["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
    assert obj["metadata"]["annotations"][policy.AUTOUPDATE] == "true"


def test_names_are_unique_and_bindings_point_at_roles() -> None:
    keys = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in ALL]
    assert len(keys) == len(set(keys))
    cluster_roles = {o["metadata"]["name"] for o in policy.cluster_roles()}
    for binding in policy.cluster_role_bindings():
        assert binding["roleRef"]["name"] in cluster_roles


def test_admin_edit_view_are_aggregated_supersets() -> None:
    roles = {o["metadata"]["name"]: o for o in policy.cluster_roles()}
    view, edit, admin = (roles[n]["rules"] for n in ("view", "edit", "admin"))
    assert view == roles["system:aggregate-to-view"]["rules"] + \
        roles["system:aggregated-metrics-reader"]["rules"]
    assert all(r in edit for r in view) and all(r in admin for r in edit)
    assert any("rolebindings" in r.get("resources", []) for r in admin)
    assert not any("rolebindings" in r.get("resources", []) for r in edit)


def test_the_controller_manager_user_holds_every_controller_role() -> None:
    controllers = {o["metadata"]["name"] for o in policy.controller_roles()}
    for name in ("replicaset-controller", "deployment-controller", "namespace-controller",
                 "generic-garbage-collector", "clusterrole-aggregation-controller",
                 "persistent-volume-binder", "root-ca-cert-publisher"):
        assert policy.CONTROLLER_PREFIX + name in controllers
    bound = {b["roleRef"]["name"]: b.get("subjects") for b in policy.cluster_role_bindings()}
    for name in controllers:
        suffix = name.removeprefix(policy.CONTROLLER_PREFIX)
        assert bound[name] == [policy.service_account("kube-system", suffix),
                               policy.user(policy.CONTROLLER_MANAGER_USER)]
    assert "subjects" not in {b["metadata"]["name"]: b
                              for b in policy.cluster_role_bindings()}["system:node"]


def test_aggregation_is_deduplicated_sorted_by_name_and_skips_itself() -> None:
    a = {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}
    b = {"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]}
    label = {"x/agg": "true"}
    agg = policy.cluster_role("agg", labels=label)
    agg["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": label}]}
    zed = policy.cluster_role("zed", b, a, labels=label)
    abe = policy.cluster_role("abe", a, {**a, "resourceNames": []}, labels=label)
    other = policy.cluster_role("other", {"verbs": ["*"], "nonResourceURLs": ["*"]})
    assert aggregated_rules(agg, [zed, other, abe, agg]) == [a, b]


def test_merges_add_what_is_missing_and_keep_the_rest() -> None:
    expected = policy.cluster_role("r", policy.rule(["get"], [""], ["pods"]),
                                   policy.rule(["list"], [""], ["pods"]))
    existing: dict[str, Any] = {
        "metadata": {"name": "r", "labels": {"mine": "yes"}},
        "rules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]},
                  {"verbs": ["watch"], "apiGroups": [""], "resources": ["pods"]}]}
    merge_role(existing, expected)
    assert existing["rules"] == [
        {"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]},
        {"verbs": ["watch"], "apiGroups": [""], "resources": ["pods"]},
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]
    assert existing["metadata"]["labels"] == {"kubernetes.io/bootstrapping": "rbac-defaults",
                                              "mine": "yes"}
    binding = policy.cluster_binding("view", policy.group("a"), policy.group("b"))
    stored = {"metadata": {"name": "view"}, "subjects": [policy.user("u"), policy.group("b")]}
    merge_binding(stored, binding)
    assert stored["subjects"] == [policy.user("u"), policy.group("b"), policy.group("a")]
