"""Discovery documents as kubectl and client-go expect them."""

import orjson

from kybernetes.apiserver import discovery
from tests.support.kinds import KINDS

DOCS = discovery.Discovery(KINDS)

V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def test_legacy_documents():
    assert discovery.api_versions(KINDS, "1.2.3.4:6443")["versions"] == ["v1"]
    groups = discovery.api_group_list(KINDS)["groups"]
    assert [g["name"] for g in groups] == ["apps", "authentication.k8s.io",
                                          "authorization.k8s.io", "autoscaling", "batch",
                                          "certificates.k8s.io", "networking.k8s.io", "policy",
                                          "rbac.authorization.k8s.io", "storage.k8s.io",
                                          "coordination.k8s.io",
                                          "apiextensions.k8s.io",
                                          "admissionregistration.k8s.io", "scheduling.k8s.io",
                                          "discovery.k8s.io", "events.k8s.io",
                                          "metrics.k8s.io"]
    assert groups[0]["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    assert discovery.api_group(KINDS, "nope") is None
    assert discovery.api_resource_list(KINDS, "nope", "v1") is None


def test_core_resource_list_has_resources_and_subresources():
    doc = discovery.api_resource_list(KINDS, "", "v1")
    assert doc["kind"] == "APIResourceList" and doc["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in doc["resources"]}
    assert by_name["pods"] == {"name": "pods", "singularName": "pod", "namespaced": True,
                               "kind": "Pod", "verbs": ["create", "delete", "deletecollection",
                                                        "get", "list", "patch", "update",
                                                        "watch"],
                               "shortNames": ["po"], "categories": ["all"]}
    assert by_name["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert by_name["pods/binding"]["kind"] == "Binding"
    assert by_name["pods/eviction"]["group"] == "policy"
    assert by_name["replicationcontrollers/scale"]["kind"] == "Scale"
    assert by_name["replicationcontrollers/scale"]["group"] == "autoscaling"
    assert not by_name["nodes"]["namespaced"]
    assert by_name["bindings"]["verbs"] == ["create"]


def test_negotiate_prefers_first_acceptable():
    assert discovery.negotiate(f"{V2},{V2BETA1},application/json") == "v2"
    assert discovery.negotiate(f"{V2BETA1},application/json") == "v2beta1"
    assert discovery.negotiate("application/json") is None
    assert discovery.negotiate(None) is None
    assert discovery.negotiate("application/json;g=apidiscovery.k8s.io;v=v9;"
                               "as=APIGroupDiscoveryList,application/json") is None


def test_aggregated_documents():
    body, content_type = DOCS.document("/apis", f"{V2},application/json")
    assert content_type == V2
    doc = orjson.loads(body)
    assert doc["kind"] == "APIGroupDiscoveryList"
    assert doc["apiVersion"] == "apidiscovery.k8s.io/v2"
    apps = doc["items"][0]
    assert apps["metadata"]["name"] == "apps"
    deployments = next(r for r in apps["versions"][0]["resources"]
                       if r["resource"] == "deployments")
    assert deployments["scope"] == "Namespaced"
    assert deployments["responseKind"] == {"group": "apps", "version": "v1",
                                           "kind": "Deployment"}
    scale = next(s for s in deployments["subresources"] if s["subresource"] == "scale")
    assert scale["responseKind"]["kind"] == "Scale"
    core_body, core_type = DOCS.document("/api", V2BETA1)
    assert core_type == V2BETA1
    core = orjson.loads(core_body)
    assert [v["version"] for v in core["items"][0]["versions"]] == ["v1"]


def test_document_paths():
    assert DOCS.document("/api/v1")[1] == "application/json"
    assert orjson.loads(DOCS.document("/apis/apps")[0])["kind"] == "APIGroup"
    assert orjson.loads(DOCS.document("/apis/apps/v1/")[0])["groupVersion"] == "apps/v1"
    assert DOCS.document("/apis/apps/v2") is None
    assert DOCS.document("/api/v1/pods") is None
