"""The audit policy: parsing, the checks kube-apiserver makes, and rule matching."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kybernetes.apiserver.audit.policy import Level, PolicyError, parse_policy
from kybernetes.apiserver.authn import User
from kybernetes.apiserver.authz.attributes import Attributes, request_attributes

ALICE = User("alice", groups=("dev", "system:authenticated"))


def policy(rules: str, **top: Any) -> Any:
    doc = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": yaml.safe_load(rules),
           **top}
    return parse_policy(doc)


def ask(method: str, path: str, user: User = ALICE, **query: str) -> Attributes:
    return request_attributes(user, method, path, query)


def level(p: Any, attrs: Attributes) -> str:
    return str(p.evaluate(attrs).level.wire)


def test_first_matching_rule_wins_and_no_match_is_none() -> None:
    p = policy("[{level: Request, verbs: [create]}, {level: Metadata, verbs: [create, get]}]")
    assert level(p, ask("POST", "/api/v1/namespaces/a/pods")) == "Request"
    assert level(p, ask("GET", "/api/v1/namespaces/a/pods/x")) == "Metadata"
    assert level(p, ask("DELETE", "/api/v1/namespaces/a/pods/x")) == "None"


def test_users_and_groups() -> None:
    p = policy("[{level: None, users: [bob]}, {level: Request, userGroups: [dev]},"
               " {level: Metadata}]")
    assert level(p, ask("GET", "/version", User("bob", groups=("dev",)))) == "None"
    assert level(p, ask("GET", "/version")) == "Request"
    assert level(p, ask("GET", "/version", User("carol"))) == "Metadata"


@pytest.mark.parametrize("spec, path, matches", [
    ("pods", "/api/v1/namespaces/a/pods/x", True),
    ("pods", "/api/v1/namespaces/a/pods/x/log", False),
    ("pods/log", "/api/v1/namespaces/a/pods/x/log", True),
    ("pods/*", "/api/v1/namespaces/a/pods/x/exec", True),
    ("pods/*", "/api/v1/namespaces/a/pods/x", True),  # as kube: the resource too
    ("*/scale", "/apis/apps/v1/namespaces/a/deployments/d/scale", False),  # group apps
    ("*", "/api/v1/namespaces/a/pods/x/status", True),
])
def test_resources_and_subresources(spec: str, path: str, matches: bool) -> None:
    p = policy(f"[{{level: Request, resources: [{{group: '', resources: ['{spec}']}}]}}]")
    assert (level(p, ask("GET", path)) == "Request") is matches


def test_group_wildcard_subresource_and_resource_names() -> None:
    p = policy("""
- level: Request
  resources: [{group: apps, resources: ["*/scale"]}]
- level: RequestResponse
  resources: [{group: "", resources: [configmaps], resourceNames: [chosen]}]
- level: Metadata
  resources: [{group: apps}]
""")
    assert level(p, ask("PUT", "/apis/apps/v1/namespaces/a/deployments/d/scale")) == "Request"
    assert level(p, ask("GET", "/api/v1/namespaces/a/configmaps/chosen")) == "RequestResponse"
    assert level(p, ask("POST", "/api/v1/namespaces/a/configmaps")) == "None"  # no name yet
    assert level(p, ask("GET", "/apis/apps/v1/deployments")) == "Metadata"
    assert level(p, ask("GET", "/apis/batch/v1/jobs")) == "None"


def test_namespaces_and_cluster_scope() -> None:
    p = policy("[{level: Request, namespaces: [kube-system]}, {level: Metadata, namespaces: ['']}]")
    assert level(p, ask("GET", "/api/v1/namespaces/kube-system/pods")) == "Request"
    assert level(p, ask("GET", "/api/v1/nodes/n1")) == "Metadata"
    assert level(p, ask("GET", "/api/v1/namespaces/default/pods")) == "None"
    assert level(p, ask("GET", "/version")) == "None"  # namespaces: resource requests only


def test_non_resource_urls() -> None:
    p = policy("[{level: None, nonResourceURLs: ['/healthz*']},"
               " {level: Metadata, nonResourceURLs: ['/version', '/apis/*']}]")
    assert level(p, ask("GET", "/healthz/etcd")) == "None"
    assert level(p, ask("GET", "/version")) == "Metadata"
    assert level(p, ask("GET", "/apis/apps")) == "Metadata"
    assert level(p, ask("GET", "/versions")) == "None"
    assert level(p, ask("GET", "/apis/apps/v1/deployments")) == "None"  # a resource request


def test_omit_stages_union_and_managed_fields_override() -> None:
    p = policy("[{level: Metadata, verbs: [get], omitStages: [ResponseStarted],"
               " omitManagedFields: false}, {level: Metadata}]",
               omitStages=["RequestReceived"], omitManagedFields=True)
    got = p.evaluate(ask("GET", "/version"))
    assert got.omit_stages == {"RequestReceived", "ResponseStarted"}
    assert got.omit_managed_fields is False
    other = p.evaluate(ask("POST", "/version"))
    assert other.omit_stages == {"RequestReceived"} and other.omit_managed_fields is True
    assert other.level is Level.METADATA


@pytest.mark.parametrize("rules, words", [
    ("[{}]", "rules[0].level: Required value"),
    ("[{level: Loud}]", 'rules[0].level: Unsupported value: "Loud": supported values: '
                        '"None", "Metadata", "Request", "RequestResponse"'),
    ("[{level: None, omitStages: [Later]}]", 'rules[0].omitStages[0]: Invalid value: "Later"'),
    ("[{level: None, nonResourceURLs: [healthz]}]", "must begin with a '/' character"),
    ("[{level: None, nonResourceURLs: ['/a*/b']}]", "must be the final character"),
    ("[{level: None, nonResourceURLs: [/a], resources: [{group: ''}]}]",
     "rules cannot apply to both regular resources and non-resource URLs"),
    ("[{level: None, resources: [{resourceNames: [x]}]}]",
     "using resourceNames requires at least one resource"),
    ("[{level: None, resources: [{group: Apps}]}]", 'rules[0].resources.group: Invalid value'),
    ("[{level: None, verbs: get}]", "rules[0].verbs: must be a list of strings"),
    ("[]", "loaded illegal policy with 0 rules"),
    ("[{level: Loud}, {}]", "[rules[0].level: Unsupported value"),
])
def test_refused_policies_name_the_field(rules: str, words: str) -> None:
    with pytest.raises(PolicyError) as caught:
        policy(rules)
    assert words in str(caught.value)


def test_kind_and_version_are_required() -> None:
    with pytest.raises(PolicyError, match="kind: Required value"):
        parse_policy({"apiVersion": "audit.k8s.io/v1", "rules": []})
    with pytest.raises(PolicyError, match="unknown group version"):
        parse_policy({"apiVersion": "audit.k8s.io/v1beta1", "kind": "Policy"})
    with pytest.raises(PolicyError, match="policy: must be an object"):
        parse_policy(["not", "a", "policy"])
