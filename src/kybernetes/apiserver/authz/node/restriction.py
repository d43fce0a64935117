"""NodeRestriction admission (plugin/pkg/admission/noderestriction): what the Node
authorizer allowed without seeing the object is narrowed here, where it is seen.

A node may create only mirror pods bound to itself that reference nothing else,
delete and update the status of only pods bound to itself, modify only its own
Node (not its taints, nor labels under node-restriction.kubernetes.io/ or
unknown kubernetes.io/k8s.io labels), only its own Lease, and request tokens
only bound to a pod that runs on it. Refusals are kube's 403s, word for word.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kybernetes.api import resources as r
from kybernetes.api.errors import NotFound
from kybernetes.api.meta import MIRROR_POD_ANNOTATION
from kybernetes.apiserver.authz.node.identity import node_identity
from kybernetes.apiserver.authz.node.references import (
    CONFIG_MAP,
    SECRET,
    pod_references,
)
from kybernetes.apiserver.webhooks.attributes import (
    CREATE,
    DELETE,
    UPDATE,
    AdmissionAttributes,
)

NAME = "NodeRestriction"
LEASE_NAMESPACE = "kube-node-lease"
RESTRICTED_LABEL_NAMESPACE = "node-restriction.kubernetes.io"
# k8s.io/kubelet/pkg/apis: the kubernetes.io labels a kubelet may set on its Node
KUBELET_LABELS = frozenset({
    "kubernetes.io/hostname", "topology.kubernetes.io/zone", "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type",
    "kubernetes.io/os", "kubernetes.io/arch", "beta.kubernetes.io/os",
    "beta.kubernetes.io/arch"})
KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")

Obj = dict[str, Any]
Lookup = Callable[[r.Resource, str | None, str], Obj | None]
"""The current object of a resource (namespace, name), e.g. from the watch cache."""


def _meta(obj: Obj | None) -> Obj:
    meta = (obj or {}).get("metadata")
    return meta if isinstance(meta, dict) else {}


def _spec(obj: Obj | None) -> Obj:
    spec = (obj or {}).get("spec")
    return spec if isinstance(spec, dict) else {}


def _label_namespace(key: str) -> str:
    prefix, sep, _ = key.partition("/")
    return prefix if sep else ""


def _in_namespace(namespace: str, suffix: str) -> bool:
    return namespace == suffix or namespace.endswith("." + suffix)


def _is_kubelet_label(key: str) -> bool:
    return key in KUBELET_LABELS or any(_in_namespace(_label_namespace(key), ns)
                                        for ns in KUBELET_LABEL_NAMESPACES)


def forbidden_labels(new: Obj, old: Obj) -> list[str]:
    """The labels added, removed or changed that a node may not touch, sorted."""
    modified = {k for k in {*new, *old} if new.get(k) != old.get(k) or (k in new) != (k in old)}
    out = set()
    for key in modified:
        namespace = _label_namespace(key)
        if _in_namespace(namespace, RESTRICTED_LABEL_NAMESPACE):
            out.add(key)
        kubernetes = _in_namespace(namespace, "kubernetes.io") or _in_namespace(namespace,
                                                                                 "k8s.io")
        if kubernetes and not _is_kubelet_label(key):
            out.add(key)
    return sorted(out)


def _q(value: str) -> str:
    """Go's %q for the plain names these messages quote."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class NodeRestriction:
    """A validating admission plugin; it sees the final object, as kube's (which runs
    in the mutating phase) sees the request's."""

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup

    async def validate(self, attrs: AdmissionAttributes) -> list[str]:
        node = node_identity(attrs.user.username, attrs.user.groups)
        if node is None or attrs.operation not in (CREATE, UPDATE, DELETE):
            return []
        if not node:
            raise attrs.forbidden(f"could not determine node from user "
                                    f"{_q(attrs.user.username)}")
        check = {("", "pods"): self._pod, ("", "nodes"): self._node,
                 ("", "persistentvolumeclaims"): self._pvc,
                 ("", "serviceaccounts"): self._service_account,
                 ("coordination.k8s.io", "leases"): self._lease,
                 }.get((attrs.group, attrs.resource))
        if check is not None:
            check(node, attrs)
        return []

    # -- pods ----------------------------------------------------------------------

    def _pod(self, node: str, attrs: AdmissionAttributes) -> None:
        if attrs.subresource == "status":
            self._pod_status(node, attrs)
        elif attrs.subresource == "eviction":
            self._eviction(node, attrs)
        elif attrs.subresource:
            raise attrs.forbidden(f"unexpected pod subresource {_q(attrs.subresource)}, "
                                    f"only 'status' and 'eviction' are allowed")
        elif attrs.operation == CREATE:
            self._mirror_pod(node, attrs)
        elif attrs.operation == DELETE:
            if _spec(attrs.old_object).get("nodeName") != node:
                raise attrs.forbidden(f"node {_q(node)} can only delete pods with "
                                        f"spec.nodeName set to itself")
        else:
            raise attrs.forbidden(f"unexpected operation {_q(attrs.operation)}, node "
                                    f"{_q(node)} can only create and delete mirror pods")

    def _pod_status(self, node: str, attrs: AdmissionAttributes) -> None:
        if attrs.operation != UPDATE:
            raise attrs.forbidden(f"unexpected operation {_q(attrs.operation)}")
        if _spec(attrs.old_object).get("nodeName") != node:
            raise attrs.forbidden(f"node {_q(node)} can only update pod status for pods "
                                    f"with spec.nodeName set to itself")
        if (_meta(attrs.object).get("labels") or {}) != (_meta(attrs.old_object).get("labels")
                                                        or {}):
            raise attrs.forbidden(f"node {_q(node)} cannot update labels through pod "
                                    f"status")

    def _eviction(self, node: str, attrs: AdmissionAttributes) -> None:
        if attrs.operation != CREATE:
            raise attrs.forbidden(f"unexpected operation {attrs.operation}")
        name = attrs.name or str(_meta(attrs.object).get("name") or "")
        if not name:
            raise attrs.forbidden("could not determine pod from request data")
        pod = self._existing(r.PODS, attrs.namespace, name)
        if _spec(pod).get("nodeName") != node:
            raise attrs.forbidden(f"node {node} can only evict pods with spec.nodeName set "
                                    f"to itself")

    def _mirror_pod(self, node: str, attrs: AdmissionAttributes) -> None:
        pod = attrs.object or {}
        meta, spec = _meta(pod), _spec(pod)
        if MIRROR_POD_ANNOTATION not in (meta.get("annotations") or {}):
            raise attrs.forbidden(f"pod does not have {_q(MIRROR_POD_ANNOTATION)} annotation, "
                                    f"node {_q(node)} can only create mirror pods")
        if spec.get("nodeName") != node:
            raise attrs.forbidden(f"node {_q(node)} can only create pods with "
                                    f"spec.nodeName set to itself")
        self._owned_by_node(node, attrs, meta.get("ownerReferences") or [])
        if spec.get("serviceAccountName"):
            raise attrs.forbidden(f"node {_q(node)} can not create pods that reference a "
                                    f"service account")
        kinds = {ref.type for ref in pod_references(pod)}
        for kind, words in ((SECRET, "secrets"), (CONFIG_MAP, "configmaps")):
            if kind in kinds:
                raise attrs.forbidden(f"node {_q(node)} can not create pods that reference "
                                        f"{words}")
        for volume in spec.get("volumes") or []:
            for source in ((volume.get("projected") or {}).get("sources") or []
                           if isinstance(volume, dict) else []):
                if isinstance(source, dict) and source.get("clusterTrustBundle"):
                    raise attrs.forbidden(f"node {_q(node)} can not create pods that "
                                            f"reference clustertrustbundles")
        if any(isinstance(v, dict) and v.get("persistentVolumeClaim")
               for v in spec.get("volumes") or []):
            raise attrs.forbidden(f"node {_q(node)} can not create pods that reference "
                                    f"persistentvolumeclaims")

    def _owned_by_node(self, node: str, attrs: AdmissionAttributes,
                       owners: list[Any]) -> None:
        if len(owners) > 1:
            raise attrs.forbidden(f"node {_q(node)} can only create pods with a single "
                                    f"owner reference set to itself")
        if not owners or not isinstance(owners[0], dict):
            raise attrs.forbidden(f"node {_q(node)} can only create pods with an owner "
                                    f"reference set to itself")
        owner = owners[0]
        if (owner.get("apiVersion"), owner.get("kind"), owner.get("name")) != \
                ("v1", "Node", node):
            raise attrs.forbidden(f"node {_q(node)} can only create pods with an owner "
                                    f"reference set to itself")
        if owner.get("controller") is not True:
            raise attrs.forbidden(f"node {_q(node)} can only create pods with a controller "
                                    f"owner reference set to itself")
        if owner.get("blockOwnerDeletion") is True:
            raise attrs.forbidden(f"node {_q(node)} must not set blockOwnerDeletion on an "
                                    f"owner reference")
        uid = _meta(self._existing(r.NODES, None, node)).get("uid", "")
        if owner.get("uid", "") != uid:
            raise attrs.forbidden(f"node {node} UID mismatch: expected "
                                    f"{owner.get('uid', '')} got {uid}")

    # -- nodes ---------------------------------------------------------------------

    def _node(self, node: str, attrs: AdmissionAttributes) -> None:
        name = attrs.name or str(_meta(attrs.object).get("name") or "")
        if name != node:
            raise attrs.forbidden(f"node {_q(node)} is not allowed to modify node "
                                    f"{_q(name)}")
        new, old = attrs.object or {}, attrs.old_object or {}
        labels, old_labels = _meta(new).get("labels") or {}, _meta(old).get("labels") or {}
        if attrs.operation == CREATE:
            if _spec(new).get("configSource") is not None:
                raise attrs.forbidden(f"node {_q(node)} is not allowed to create pods with "
                                        f"a non-nil configSource")
            bad = forbidden_labels(labels, {})
            if bad:
                raise attrs.forbidden(f"node {_q(node)} is not allowed to set the following "
                                        f"labels: {', '.join(bad)}")
        elif attrs.operation == UPDATE:
            source = _spec(new).get("configSource")
            if source is not None and source != _spec(old).get("configSource"):
                raise attrs.forbidden(f"node {_q(node)} is not allowed to update "
                                        f"configSource to a new non-nil configSource")
            if (_spec(new).get("taints") or []) != (_spec(old).get("taints") or []):
                raise attrs.forbidden(f"node {_q(node)} is not allowed to modify taints")
            bad = forbidden_labels(labels, old_labels)
            if bad:
                raise attrs.forbidden(f"is not allowed to modify labels: {', '.join(bad)}")

    # -- PVC status, tokens, leases ------------------------------------------------

    def _pvc(self, node: str, attrs: AdmissionAttributes) -> None:
        if attrs.subresource != "status":
            raise attrs.forbidden("may only update PVC status")
        if attrs.operation != UPDATE:
            raise attrs.forbidden(f"unexpected operation {_q(attrs.operation)}")
        if _without_pvc_status(attrs.object) != _without_pvc_status(attrs.old_object):
            raise attrs.forbidden(f"node {_q(node)} is not allowed to update fields other "
                                    f"than status.capacity and status.conditions")

    def _service_account(self, node: str, attrs: AdmissionAttributes) -> None:
        if attrs.operation != CREATE or attrs.subresource != "token":
            return
        ref = _spec(attrs.object).get("boundObjectRef")
        if not isinstance(ref, dict) or ref.get("apiVersion") != "v1" or \
                ref.get("kind") != "Pod" or not ref.get("name"):
            raise attrs.forbidden("node requested token not bound to a pod")
        if not ref.get("uid"):
            raise attrs.forbidden("node requested token with a pod binding without a uid")
        pod = self._existing(r.PODS, attrs.namespace, str(ref["name"]))
        if ref["uid"] != _meta(pod).get("uid"):
            raise attrs.forbidden(f"the UID in the bound object reference ({ref['uid']}) "
                                    f"does not match the UID in record. The object might "
                                    f"have been deleted and then recreated")
        if _spec(pod).get("nodeName") != node:
            raise attrs.forbidden("node requested token bound to a pod scheduled on a "
                                    "different node")

    def _lease(self, node: str, attrs: AdmissionAttributes) -> None:
        if attrs.namespace != LEASE_NAMESPACE:
            raise attrs.forbidden(f"can only access leases in the {_q(LEASE_NAMESPACE)} "
                                    f"system namespace")
        name = str(_meta(attrs.object).get("name") or "") if attrs.operation == CREATE \
            else attrs.name
        if name != node:
            raise attrs.forbidden("can only access node lease with the same name as the "
                                    "requesting node")

    def _existing(self, resource: r.Resource, namespace: str | None, name: str) -> Obj:
        found = self.lookup(resource, namespace, name)
        if found is None:
            qualified = resource.plural
            raise NotFound(f'{qualified} "{name}" not found',
                           details={"name": name, "kind": resource.plural})
        return found


def _without_pvc_status(obj: Obj | None) -> Obj:
    """A PVC without what a node may change in its status (and what every write moves)."""
    obj = dict(obj or {})
    meta = {k: v for k, v in _meta(obj).items() if k not in ("resourceVersion",
                                                              "managedFields")}
    status = {k: v for k, v in (obj.get("status") or {}).items()
              if k not in ("capacity", "conditions", "allocatedResources",
                           "allocatedResourceStatuses")}
    return {**obj, "metadata": meta, "status": status}
