"""The Node authorizer, its graph and NodeRestriction admission, as pure logic: the graph
follows a real WatchCache fed events by hand (no store)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from kybernetes.api.errors import Forbidden, NotFound
from kybernetes.apiserver.authn import User
from kybernetes.apiserver.authz.attributes import Attributes, request_attributes
from kybernetes.apiserver.authz.node.authorizer import NodeAuthorizer, node_role_rules
from kybernetes.apiserver.authz.node.graph import PERSISTENT_VOLUMES, PODS, NodeGraph
from kybernetes.apiserver.authz.node.references import (
    CONFIG_MAP,
    POD,
    PV,
    PVC,
    SECRET,
    SERVICE_ACCOUNT,
    Ref,
    pod_references,
)
from kybernetes.apiserver.authz.node.restriction import NodeRestriction
from kybernetes.apiserver.authz.rbac import bootstrap_policy
from kybernetes.apiserver.watch_cache import WatchCache
from kybernetes.apiserver.webhooks.attributes import (
    CREATE,
    DELETE,
    UPDATE,
    AdmissionAttributes,
    UserInfo,
)
from kybernetes.storage.interface import Event, KeyValue

N1 = User("system:node:n1", "", ("system:nodes", "system:authenticated"))


def pod(name: str, node: str = "", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}"},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}], **spec}}


def test_pod_references_cover_volumes_env_and_pull_secrets() -> None:
    p = pod("p", "n1", serviceAccountName="sa", imagePullSecrets=[{"name": "pull"}],
            volumes=[{"name": "v1", "secret": {"secretName": "vol"}},
                     {"name": "v2", "configMap": {"name": "cm"}},
                     {"name": "v3", "projected": {"sources": [{"secret": {"name": "proj"}},
                                                             {"configMap": {"name": "pcm"}}]}},
                     {"name": "v4", "persistentVolumeClaim": {"claimName": "claim"}},
                     {"name": "v5", "ephemeral": {"volumeClaimTemplate": {}}},
                     {"name": "v6", "csi": {"driver": "d",
                                            "nodePublishSecretRef": {"name": "csi"}}}],
            initContainers=[{"name": "i", "envFrom": [{"secretRef": {"name": "from"}},
                                                     {"configMapRef": {"name": "fromcm"}}]}])
    p["spec"]["containers"][0]["env"] = [
        {"name": "A", "valueFrom": {"secretKeyRef": {"name": "key", "key": "k"}}},
        {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "keycm", "key": "k"}}},
        {"name": "C", "value": "plain"}]
    assert pod_references(p) == {Ref(t, "ns", n) for t, n in (
        (POD, "p"), (SERVICE_ACCOUNT, "sa"), (SECRET, "pull"), (SECRET, "vol"),
        (CONFIG_MAP, "cm"), (SECRET, "proj"), (CONFIG_MAP, "pcm"), (PVC, "claim"),
        (PVC, "p-v5"), (SECRET, "csi"), (SECRET, "from"), (CONFIG_MAP, "fromcm"),
        (SECRET, "key"), (CONFIG_MAP, "keycm"))}
    assert pod_references({"spec": {"volumes": "junk", "containers": [None]}}) == frozenset()


class Feed:
    """Puts and deletes objects in a real watch cache, as the store watch would."""

    def __init__(self) -> None:
        self.cache = WatchCache(store=None)  # type: ignore[arg-type]
        self.rv = 10

    def put(self, prefix: str, key: str, obj: dict[str, Any]) -> None:
        self.rv += 1
        kv = KeyValue(prefix + key, orjson.dumps(obj), self.rv, self.rv)
        self.cache.for_prefix(prefix).apply(Event("PUT", kv))

    def delete(self, prefix: str, key: str) -> None:
        self.rv += 1
        kv = KeyValue(prefix + key, b"{}", self.rv, self.rv)
        self.cache.for_prefix(prefix).apply(Event("DELETE", kv))


def test_graph_follows_binding_moves_and_deletes() -> None:
    feed = Feed()
    graph = NodeGraph(feed.cache)
    secret = Ref(SECRET, "ns", "s")
    feed.put(PODS, "ns/a", pod("a", volumes=[{"name": "v", "secret": {"secretName": "s"}}]))
    assert not graph.related("n1", secret)  # not bound yet
    feed.put(PODS, "ns/a", pod("a", "n1", volumes=[{"name": "v",
                                                     "secret": {"secretName": "s"}}]))
    feed.put(PODS, "ns/b", pod("b", "n1", volumes=[{"name": "v",
                                                     "secret": {"secretName": "s"}}]))
    assert graph.related("n1", secret) and not graph.related("n2", secret)
    feed.delete(PODS, "ns/a")
    assert graph.related("n1", secret)  # b still uses it
    feed.put(PODS, "ns/b", pod("b", "n2"))
    assert not graph.related("n1", secret) and not graph.related("n2", secret)
    assert graph.related("n2", Ref(POD, "ns", "b"))


def test_graph_rebuilds_when_the_cache_relisted() -> None:
    feed = Feed()
    graph = NodeGraph(feed.cache)
    feed.put(PODS, "ns/a", pod("a", "n1", serviceAccountName="sa"))
    assert graph.related("n1", Ref(SERVICE_ACCOUNT, "ns", "sa"))
    pods = feed.cache.for_prefix(PODS)
    pods.reset(100)  # a re-list: history gone, objects reloaded
    assert not graph.related("n1", Ref(SERVICE_ACCOUNT, "ns", "sa"))
    feed.rv = 100
    feed.put(PODS, "ns/a", pod("a", "n1", serviceAccountName="other"))
    assert graph.related("n1", Ref(SERVICE_ACCOUNT, "ns", "other"))


def test_graph_links_a_persistent_volume_through_its_claim() -> None:
    feed = Feed()
    graph = NodeGraph(feed.cache)
    feed.put(PODS, "ns/a", pod("a", "n1", volumes=[
        {"name": "v", "persistentVolumeClaim": {"claimName": "c"}}]))
    feed.put(PERSISTENT_VOLUMES, "pv1", {"metadata": {"name": "pv1"}, "spec": {
        "claimRef": {"namespace": "ns", "name": "c"}}})
    assert graph.related("n1", Ref(PV, "", "pv1"))
    assert not graph.related("n1", Ref(PV, "", "pv2"))


class Related:
    def __init__(self, *refs: tuple[str, Ref]) -> None:
        self.refs = set(refs)

    def related(self, node: str, ref: Ref) -> bool:
        return (node, ref) in self.refs


def authorizer(*refs: tuple[str, Ref]) -> NodeAuthorizer:
    return NodeAuthorizer(Related(*refs), node_role_rules(bootstrap_policy.cluster_roles()))


def ask(method: str, path: str, user: User = N1, /, **query: str) -> tuple[bool, str]:
    decision = authorizer(("n1", Ref(SECRET, "ns", "s")), ("n1", Ref(POD, "ns", "p")),
                          ("n1", Ref(SERVICE_ACCOUNT, "ns", "sa")),
                          ).authorize(request_attributes(user, method, path, query))
    return decision.allowed, decision.reason


NO_RELATION = "no relationship found between node 'n1' and this object"


@pytest.mark.parametrize(("method", "path", "query", "allowed", "reason"), [
    ("GET", "/api/v1/namespaces/ns/secrets/s", {}, True, ""),
    ("GET", "/api/v1/namespaces/ns/secrets/other", {}, False, NO_RELATION),
    ("GET", "/api/v1/namespaces/ns/secrets", {"fieldSelector": "metadata.name=s"}, True, ""),
    ("GET", "/api/v1/namespaces/ns/secrets", {}, False, "No Object name found"),
    ("PUT", "/api/v1/namespaces/ns/secrets/s", {}, False,
     "can only read resources of this type"),
    ("GET", "/api/v1/namespaces/ns/configmaps/s", {}, False, NO_RELATION),
    ("GET", "/api/v1/nodes/n1", {}, True, ""),
    ("GET", "/api/v1/nodes/n2", {}, False,
     "node 'n1' cannot read 'n2', only its own Node object"),
    ("GET", "/api/v1/nodes", {}, False,
     "node 'n1' cannot read all nodes, only its own Node object"),
    ("PATCH", "/api/v1/nodes/n2/status", {}, True, ""),  # NodeRestriction refuses it
    ("DELETE", "/api/v1/nodes/n1", {}, False, ""),
    ("GET", "/api/v1/pods", {"fieldSelector": "spec.nodeName=n1"}, True, ""),
    ("GET", "/api/v1/pods", {"fieldSelector": "spec.nodeName=n2"}, False,
     "can only list/watch pods with spec.nodeName field selector"),
    ("GET", "/api/v1/namespaces/ns/pods/p", {}, True, ""),
    ("GET", "/api/v1/namespaces/ns/pods/q", {}, False, NO_RELATION),
    ("PUT", "/api/v1/namespaces/ns/pods/p", {}, False, ""),
    ("POST", "/api/v1/namespaces/ns/serviceaccounts/sa/token", {}, True, ""),
    ("POST", "/api/v1/namespaces/ns/serviceaccounts/other/token", {}, False, NO_RELATION),
    ("GET", "/api/v1/namespaces/ns/serviceaccounts/sa", {}, False,
     "can only create tokens for individual service accounts"),
    ("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1", {}, True, ""),
    ("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n2", {}, False,
     "can only access node lease with the same name as the requesting node"),
    ("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/n1", {}, False,
     'can only access leases in the "kube-node-lease" system namespace'),
    ("GET", "/api/v1/services", {}, True, ""),  # the system:node role's static rules
    ("POST", "/api/v1/namespaces/ns/events", {}, True, ""),
    ("POST", "/api/v1/namespaces", {}, False, ""),
])
def test_node_decisions(method: str, path: str, query: dict[str, str], allowed: bool,
                        reason: str) -> None:
    assert ask(method, path, **query) == (allowed, reason)


def test_only_nodes_are_judged() -> None:
    for user in (User("system:node:n1", "", ("system:authenticated",)),
                 User("alice", "", ("system:nodes",))):
        assert ask("GET", "/api/v1/namespaces/ns/secrets/s", user) == (False, "")
    nameless = User("system:node:", "", ("system:nodes",))
    assert ask("GET", "/api/v1/nodes/n1", nameless) == (
        False, 'unknown node for user "system:node:"')
    attrs = Attributes(N1, "get", False, path="/healthz")
    assert not authorizer().authorize(attrs).allowed


# -- NodeRestriction -----------------------------------------------------------------


def admission(operation: str, resource: str, name: str, obj: Any = None, old: Any = None,
              subresource: str = "", namespace: str = "ns",
              group: str = "") -> AdmissionAttributes:
    return AdmissionAttributes(operation=operation, group=group, version="v1",
                               resource=resource, kind="X",
                               user=UserInfo(N1.name, "", N1.groups), subresource=subresource,
                               namespace=namespace, name=name, object=obj, old_object=old)


def node(name: str, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "uid": f"uid-{name}", "labels": labels or {}},
            "spec": spec}


STORE: dict[tuple[str, str | None, str], dict[str, Any]] = {
    ("pods", "ns", "mine"): pod("mine", "n1"), ("pods", "ns", "theirs"): pod("theirs", "n2"),
    ("nodes", None, "n1"): node("n1")}


async def refused(attrs: AdmissionAttributes) -> str:
    plugin = NodeRestriction(lambda res, ns, name: STORE.get((res.plural, ns, name)))
    try:
        await plugin.validate(attrs)
    except Forbidden as e:
        return str(e)
    return ""


async def test_restriction_keeps_a_node_to_its_own_node_object() -> None:
    assert await refused(admission(UPDATE, "nodes", "n2", node("n2"), node("n2"),
                                   subresource="status", namespace="")) == \
        'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"'
    assert await refused(admission(UPDATE, "nodes", "n1", node("n1"), node("n1"))) == ""
    labelled = node("n1", {"node-restriction.kubernetes.io/x": "y", "kubernetes.io/os": "l",
                           "node.kubernetes.io/ok": "1", "example.com/free": "1"})
    assert await refused(admission(UPDATE, "nodes", "n1", labelled, node("n1"))) == \
        'nodes "n1" is forbidden: is not allowed to modify labels: ' \
        'node-restriction.kubernetes.io/x'
    assert await refused(admission(CREATE, "nodes", "n1", node(
        "n1", {"foo.k8s.io/x": "1", "a.node-restriction.kubernetes.io/z": "2"}))) == \
        'nodes "n1" is forbidden: node "n1" is not allowed to set the following labels: ' \
        'a.node-restriction.kubernetes.io/z, foo.k8s.io/x'
    tainted = node("n1", taints=[{"key": "k", "effect": "NoSchedule"}])
    assert await refused(admission(UPDATE, "nodes", "n1", node("n1"), tainted)) == \
        'nodes "n1" is forbidden: node "n1" is not allowed to modify taints'


async def test_restriction_keeps_a_node_to_its_own_pods() -> None:
    mine, theirs = STORE[("pods", "ns", "mine")], STORE[("pods", "ns", "theirs")]
    assert await refused(admission(DELETE, "pods", "mine", old=mine)) == ""
    assert await refused(admission(DELETE, "pods", "theirs", old=theirs)) == \
        'pods "theirs" is forbidden: node "n1" can only delete pods with spec.nodeName set ' \
        'to itself'
    assert await refused(admission(UPDATE, "pods", "theirs", theirs, theirs,
                                   subresource="status")) == \
        'pods "theirs" is forbidden: node "n1" can only update pod status for pods with ' \
        'spec.nodeName set to itself'
    relabelled = {**mine, "metadata": {**mine["metadata"], "labels": {"a": "b"}}}
    assert "cannot update labels through pod status" in await refused(
        admission(UPDATE, "pods", "mine", relabelled, mine, subresource="status"))
    assert await refused(admission(CREATE, "pods", "mine", {}, subresource="eviction")) == ""
    assert await refused(admission(CREATE, "pods", "theirs", {}, subresource="eviction")) == \
        'pods "theirs" is forbidden: node n1 can only evict pods with spec.nodeName set to ' \
        'itself'
    assert await refused(admission(CREATE, "pods", "x", pod("x", "n1"))) == \
        'pods "x" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, ' \
        'node "n1" can only create mirror pods'
    mirror = pod("x", "n1")
    mirror["metadata"].update(annotations={"kubernetes.io/config.mirror": "h"},
                              ownerReferences=[{"apiVersion": "v1", "kind": "Node",
                                                "name": "n1", "uid": "uid-n1",
                                                "controller": True}])
    assert await refused(admission(CREATE, "pods", "x", mirror)) == ""
    mirror["spec"]["volumes"] = [{"name": "v", "secret": {"secretName": "s"}}]
    assert await refused(admission(CREATE, "pods", "x", mirror)) == \
        'pods "x" is forbidden: node "n1" can not create pods that reference secrets'


async def test_restriction_binds_tokens_to_pods_on_the_node() -> None:
    def request(name: str, uid: str) -> AdmissionAttributes:
        body = {"spec": {"boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                                            "name": name, "uid": uid}}}
        return admission(CREATE, "serviceaccounts", "sa", body, subresource="token")
    assert await refused(request("mine", "uid-mine")) == ""
    assert await refused(request("theirs", "uid-theirs")) == \
        'serviceaccounts "sa" is forbidden: node requested token bound to a pod scheduled ' \
        'on a different node'
    assert "does not match the UID in record" in await refused(request("mine", "stale"))
    assert "without a uid" in await refused(request("mine", ""))
    unbound = admission(CREATE, "serviceaccounts", "sa", {"spec": {}}, subresource="token")
    assert await refused(unbound) == \
        'serviceaccounts "sa" is forbidden: node requested token not bound to a pod'
    with pytest.raises(NotFound, match='pods "gone" not found'):
        await refused(request("gone", "u"))


async def test_restriction_keeps_a_node_to_its_own_lease() -> None:
    lease = {"metadata": {"name": "n2"}}
    assert await refused(admission(CREATE, "leases", "", lease, namespace="kube-node-lease",
                                   group="coordination.k8s.io")) == \
        'leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the ' \
        'same name as the requesting node'
    assert await refused(admission(UPDATE, "leases", "n1", {}, {}, namespace="kube-node-lease",
                                   group="coordination.k8s.io")) == ""
