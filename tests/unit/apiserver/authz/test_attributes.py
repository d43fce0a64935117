"""Request attributes read from the path as kube-apiserver's RequestInfoFactory reads them."""

from __future__ import annotations

import pytest

from kybernetes.apiserver.authn import User
from kybernetes.apiserver.authz.attributes import request_attributes

BOB = User("bob", groups=("system:authenticated",))


@pytest.mark.parametrize(("method", "path", "query", "want"), [
    ("GET", "/api/v1/namespaces/ns/pods", {}, ("list", "", "pods", "", "ns", "")),
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": "true"},
     ("watch", "", "pods", "", "ns", "")),
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": "1", "fieldSelector": "metadata.name=p"},
     ("watch", "", "pods", "", "ns", "p")),
    ("GET", "/api/v1/namespaces/ns/pods/p/log", {}, ("get", "", "pods", "log", "ns", "p")),
    ("POST", "/api/v1/namespaces/ns/pods/p/exec", {}, ("create", "", "pods", "exec", "ns", "p")),
    ("DELETE", "/apis/apps/v1/namespaces/ns/deployments", {},
     ("deletecollection", "apps", "deployments", "", "ns", "")),
    ("PATCH", "/apis/apps/v1/namespaces/ns/deployments/d/scale", {},
     ("patch", "apps", "deployments", "scale", "ns", "d")),
    ("GET", "/api/v1/namespaces/ns", {}, ("get", "", "namespaces", "", "ns", "ns")),
    ("PUT", "/api/v1/namespaces/ns/finalize", {},
     ("update", "", "namespaces", "finalize", "ns", "ns")),
    ("GET", "/api/v1/nodes", {}, ("list", "", "nodes", "", "", "")),
    ("GET", "/api/v1/watch/namespaces/ns/pods", {}, ("watch", "", "pods", "", "ns", "")),
    ("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/view", {},
     ("get", "rbac.authorization.k8s.io", "clusterroles", "", "", "view")),
])
def test_resource_requests(method: str, path: str, query: dict[str, str],
                           want: tuple[str, ...]) -> None:
    a = request_attributes(BOB, method, path, query)
    assert a.resource_request
    assert (a.verb, a.api_group, a.resource, a.subresource, a.namespace, a.name) == want


@pytest.mark.parametrize(("method", "path", "verb"), [
    ("GET", "/healthz", "get"), ("GET", "/version", "get"), ("GET", "/api", "get"),
    ("GET", "/apis", "get"), ("GET", "/apis/apps", "get"), ("POST", "/metrics", "post"),
    ("GET", "/openapi/v3", "get"),
])
def test_non_resource_requests(method: str, path: str, verb: str) -> None:
    a = request_attributes(BOB, method, path, {})
    assert not a.resource_request and a.verb == verb and a.path == path
