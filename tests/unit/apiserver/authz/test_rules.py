"""RBAC rule matching and coverage (escalation prevention), as rbac/v1 defines them."""

from __future__ import annotations

from kybernetes.apiserver.authn import User
from kybernetes.apiserver.authz.attributes import Attributes
from kybernetes.apiserver.authz.rbac.rules import Rule, compact, uncovered

BOB = User("bob")


def res(verb: str, resource: str, *, group: str = "", sub: str = "", name: str = "",
        namespace: str = "ns") -> Attributes:
    return Attributes(BOB, verb, True, api_group=group, resource=resource, subresource=sub,
                      namespace=namespace, name=name)


def rule(**raw: object) -> Rule:
    return Rule.of(raw)


def test_verbs_groups_and_resources_match_exactly_or_by_star() -> None:
    r = rule(verbs=["get", "list"], apiGroups=[""], resources=["pods"])
    assert r.allows(res("get", "pods")) and r.allows(res("list", "pods"))
    assert not r.allows(res("delete", "pods"))
    assert not r.allows(res("get", "pods", group="apps"))
    assert not r.allows(res("get", "pods", sub="log"))  # a subresource is named apart
    star = rule(verbs=["*"], apiGroups=["*"], resources=["*"])
    assert star.allows(res("escalate", "clusterroles", group="rbac.authorization.k8s.io"))


def test_subresources_and_star_slash_subresource() -> None:
    assert rule(verbs=["get"], apiGroups=[""], resources=["pods/log"]).allows(
        res("get", "pods", sub="log"))
    any_status = rule(verbs=["patch"], apiGroups=["*"], resources=["*/status"])
    assert any_status.allows(res("patch", "deployments", group="apps", sub="status"))
    assert not any_status.allows(res("patch", "deployments", group="apps"))


def test_resource_names_limit_to_named_objects() -> None:
    r = rule(verbs=["get"], apiGroups=[""], resources=["configmaps"], resourceNames=["a"])
    assert r.allows(res("get", "configmaps", name="a"))
    assert not r.allows(res("get", "configmaps", name="b"))
    assert not r.allows(res("get", "configmaps"))  # a list names nothing


def test_non_resource_urls_with_prefix_star() -> None:
    r = rule(verbs=["get"], nonResourceURLs=["/healthz", "/api/*"])
    assert r.allows(Attributes(BOB, "get", False, path="/healthz"))
    assert r.allows(Attributes(BOB, "get", False, path="/api/v1"))
    assert not r.allows(Attributes(BOB, "get", False, path="/apis"))
    assert not r.allows(res("get", "pods"))  # a URL rule never allows a resource


def test_malformed_stored_rules_match_nothing() -> None:
    assert not Rule.of("nonsense").allows(res("get", "pods"))
    assert not rule(verbs="get", apiGroups=[""], resources=["pods"]).allows(res("get", "pods"))


def test_coverage_breaks_rules_down() -> None:
    owned = [rule(verbs=["get", "list"], apiGroups=[""], resources=["pods", "services"]),
             rule(verbs=["*"], apiGroups=["apps"], resources=["*/scale"])]
    assert not uncovered(owned, [rule(verbs=["get"], apiGroups=[""], resources=["pods"])])
    assert not uncovered(owned, [rule(verbs=["update"], apiGroups=["apps"],
                                      resources=["deployments/scale"])])
    missing = uncovered(owned, [rule(verbs=["get", "delete"], apiGroups=[""],
                                     resources=["pods", "secrets"])])
    assert [m.compact() for m in compact(missing)] == [
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}',
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}']


def test_named_rules_cover_only_those_names() -> None:
    named = [rule(verbs=["get"], apiGroups=[""], resources=["secrets"], resourceNames=["a"])]
    assert not uncovered(named, [rule(verbs=["get"], apiGroups=[""], resources=["secrets"],
                                      resourceNames=["a"])])
    assert uncovered(named, [rule(verbs=["get"], apiGroups=[""], resources=["secrets"])])
