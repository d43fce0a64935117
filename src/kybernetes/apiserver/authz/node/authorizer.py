"""The Node authorization mode (plugin/pkg/auth/authorizer/node), as Kubernetes runs
it today (with AuthorizeNodeWithSelectors).

For users who are nodes only (anyone else: no opinion). A node may read the
Secrets, ConfigMaps, PVCs and PVs of the pods bound to it, get those pods, and
create tokens for their ServiceAccounts; it may read its own Node, list pods
only with `spec.nodeName=<itself>`, and touch Leases in kube-node-lease named
after itself. Writes to Nodes, pods and Leases whose target the authorizer
cannot see (creates) are allowed here and narrowed by NodeRestriction
admission. Everything else is judged by the static rules of the `system:node`
ClusterRole. Refusals are "no opinion" with kube's reason, so a later mode may
still allow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from kybernetes.api.fields import field_terms
from kybernetes.apiserver.authz.attributes import Attributes
from kybernetes.apiserver.authz.authorizer import ALLOW, NO_OPINION, Decision, Verdict
from kybernetes.apiserver.authz.node.identity import node_identity
from kybernetes.apiserver.authz.node.references import (
    CONFIG_MAP,
    POD,
    PV,
    PVC,
    SECRET,
    SERVICE_ACCOUNT,
    Ref,
)
from kybernetes.apiserver.authz.rbac.rules import Rule

log = logging.getLogger("kybernetes.apiserver.authz.node")

LEASE_NAMESPACE = "kube-node-lease"
NODE_ROLE = "system:node"
_LEASE_VERBS = ("get", "create", "update", "patch", "delete")

Handler = Callable[[str, Attributes], Decision]


class Relations(Protocol):
    """What the authorizer asks of the graph."""

    def related(self, node: str, ref: Ref) -> bool: ...


def _no(reason: str = "") -> Decision:
    return Decision(Verdict.NO_OPINION, reason)


def node_role_rules(cluster_roles: Iterable[dict[str, object]]) -> list[Rule]:
    """The rules of the `system:node` ClusterRole among the bootstrap policy's roles."""
    for role in cluster_roles:
        meta = role.get("metadata")
        if isinstance(meta, dict) and meta.get("name") == NODE_ROLE:
            rules = role.get("rules")
            return [Rule.of(r) for r in rules] if isinstance(rules, list) else []
    raise LookupError(f"the bootstrap policy has no ClusterRole {NODE_ROLE}")


def _selects(selector: str, field: str, value: str) -> bool:
    """Does the field selector require `field` to equal `value`?"""
    try:
        return any(f == field and equal and v == value
                   for f, equal, v in field_terms(selector))
    except ValueError:
        return False


class NodeAuthorizer:
    def __init__(self, graph: Relations, rules: Sequence[Rule]) -> None:
        self.graph = graph
        self.rules = tuple(rules)
        self._handlers: dict[tuple[str, str], Handler] = {
            ("", "secrets"): lambda n, a: self._read_namespaced(n, SECRET, a),
            ("", "configmaps"): lambda n, a: self._read_namespaced(n, CONFIG_MAP, a),
            ("", "persistentvolumeclaims"): self._pvc,
            ("", "persistentvolumes"): lambda n, a: self._get(n, PV, a),
            ("", "serviceaccounts"): self._create_token,
            ("coordination.k8s.io", "leases"): self._lease,
            ("", "nodes"): self._node,
            ("", "pods"): self._pod,
        }

    def authorize(self, attributes: Attributes) -> Decision:
        user = attributes.user
        node = node_identity(user.name, user.groups)
        if node is None:
            return NO_OPINION
        if not node:
            return _no(f'unknown node for user "{user.name}"')
        if attributes.resource_request:
            handler = self._handlers.get((attributes.api_group, attributes.resource))
            if handler is not None:
                decision = handler(node, attributes)
                if not decision.allowed:
                    log.debug("node deny", extra={"node": node, "verb": attributes.verb,
                                                  "path": attributes.path,
                                                  "reason": decision.reason})
                return decision
        return ALLOW if any(r.allows(attributes) for r in self.rules) else NO_OPINION

    def _related(self, node: str, ref: Ref) -> Decision:
        if not ref.name:
            return _no("No Object name found")
        if self.graph.related(node, ref):
            return ALLOW
        return _no(f"no relationship found between node '{node}' and this object")

    def _read_namespaced(self, node: str, kind: str, a: Attributes) -> Decision:
        if a.verb not in ("get", "list", "watch"):
            return _no("can only read resources of this type")
        if a.subresource:
            return _no("cannot read subresource")
        if not a.namespace:
            return _no("can only read namespaced object of this type")
        return self._related(node, Ref(kind, a.namespace, a.name))

    def _get(self, node: str, kind: str, a: Attributes) -> Decision:
        if a.verb != "get":
            return _no("can only get individual resources of this type")
        if a.subresource:
            return _no("cannot get subresource")
        return self._related(node, Ref(kind, a.namespace, a.name))

    def _pvc(self, node: str, a: Attributes) -> Decision:
        if a.subresource != "status":
            return self._get(node, PVC, a)
        if a.verb not in ("update", "patch"):
            return _no("can only get/update/patch this type")
        return self._related(node, Ref(PVC, a.namespace, a.name))

    def _create_token(self, node: str, a: Attributes) -> Decision:
        if a.verb != "create" or not a.name:
            return _no("can only create tokens for individual service accounts")
        if a.subresource != "token":
            return _no("can only create token subresource of serviceaccount")
        return self._related(node, Ref(SERVICE_ACCOUNT, a.namespace, a.name))

    def _lease(self, node: str, a: Attributes) -> Decision:
        if a.verb not in _LEASE_VERBS:
            return _no("can only get, create, update, patch, or delete a node lease")
        if a.namespace != LEASE_NAMESPACE:
            return _no(f'can only access leases in the "{LEASE_NAMESPACE}" system namespace')
        # a create names no lease here; NodeRestriction checks the name in the body
        if a.verb != "create" and a.name != node:
            return _no("can only access node lease with the same name as the requesting "
                       "node")
        return ALLOW

    def _node(self, node: str, a: Attributes) -> Decision:
        if not a.subresource:
            if a.verb in ("create", "update", "patch"):
                return ALLOW  # NodeRestriction keeps a node to its own Node
            if a.verb in ("get", "list", "watch"):
                if a.name == node:
                    return ALLOW
                if not a.name:
                    return _no(f"node '{node}' cannot read all nodes, only its own Node "
                               f"object")
                return _no(f"node '{node}' cannot read '{a.name}', only its own Node object")
        elif a.subresource == "status" and a.verb in ("update", "patch"):
            return ALLOW
        return NO_OPINION

    def _pod(self, node: str, a: Attributes) -> Decision:
        if not a.subresource:
            if a.verb == "get":
                return self._get(node, POD, a)
            if a.verb in ("list", "watch"):
                if _selects(a.field_selector, "spec.nodeName", node):
                    return ALLOW
                if a.name:
                    return self._related(node, Ref(POD, a.namespace, a.name))
                return _no("can only list/watch pods with spec.nodeName field selector")
            if a.verb in ("create", "delete"):
                return ALLOW  # mirror pods; NodeRestriction keeps them to this node
        elif a.subresource == "status" and a.verb in ("update", "patch"):
            return ALLOW
        elif a.subresource == "eviction" and a.verb == "create":
            return ALLOW
        return NO_OPINION
