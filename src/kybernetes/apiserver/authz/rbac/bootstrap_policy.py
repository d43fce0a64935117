"""The default RBAC policy every cluster starts with, as Kubernetes' bootstrappolicy.

The same roles and bindings, with the same names, rules and subjects, as
kube-apiserver's plugin/pkg/auth/authorizer/rbac/bootstrappolicy (policy.go,
controller_policy.go, namespace_policy.go), for the resources Kubernetes lists
even where kybernetes does not serve them yet (a role granting `statefulsets`
must already be right the day statefulsets arrive). Every object carries the
label `kubernetes.io/bootstrapping: rbac-defaults` and the annotation
`rbac.authorization.kubernetes.io/autoupdate: "true"`, so the reconcile on start
(bootstrap.py) keeps it up to date until someone sets the annotation to "false".

One difference, on purpose: kybernetes' controller manager runs every controller
under ONE identity, the user `system:kube-controller-manager`, not one service
account per controller. So each `system:controller:<name>` ClusterRoleBinding
names that user beside the controller's kube-system service account: the
controller manager holds exactly the union of the controller roles, no more.

One addition, as kubeadm makes it at `kubeadm init`: the ClusterRoleBinding
`kubeadm:node-autoapprove-certificate-rotation` grants the group `system:nodes`
`certificatesigningrequests/selfnodeclient`, so the csrapproving controller
approves a kubelet's request to renew its own client certificate (kubelet
certificate rotation). Kubernetes' own bootstrap policy leaves that to the installer;
every kybernetes cluster is installed the one way, so it is here.

Rules are built as Kubernetes' PolicyRuleBuilder builds them (each list sorted).
Functions return fresh objects on every call: callers may change them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kybernetes.api.rbac_aggregation import aggregated_rules, selectors

Obj = dict[str, Any]

GROUP = "rbac.authorization.k8s.io"
DEFAULT_NODE_TOKEN_GROUP = "system:bootstrappers:kubeadm:default-node-token"
NODE_PROXIER = "kyb:node-proxier"  # ours: a joined node's proxy (see kyb join)
API_VERSION = f"{GROUP}/v1"
BOOTSTRAP_LABEL = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
CONTROLLER_PREFIX = "system:controller:"
CONTROLLER_MANAGER_USER = "system:kube-controller-manager"
SCHEDULER_USER = "system:kube-scheduler"
AGGREGATE_TO = {k: f"{GROUP}/aggregate-to-{k}" for k in ("admin", "edit", "view")}

READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete", "deletecollection")
READ_WRITE = READ + WRITE

CORE, APPS, AUTHN, AUTHZ = "", "apps", "authentication.k8s.io", "authorization.k8s.io"
AUTOSCALING, BATCH, CERTIFICATES = "autoscaling", "batch", "certificates.k8s.io"
COORDINATION, DISCOVERY, EVENTS = "coordination.k8s.io", "discovery.k8s.io", "events.k8s.io"
EXTENSIONS, NETWORKING, POLICY = "extensions", "networking.k8s.io", "policy"
STORAGE, NODE, ADMISSION = "storage.k8s.io", "node.k8s.io", "admissionregistration.k8s.io"


# --- builders ----------------------------------------------------------------------------

def rule(verbs: Iterable[str], groups: Iterable[str], resources: Iterable[str],
         names: Iterable[str] = ()) -> Obj:
    """A resource rule (NewRule(verbs).Groups(...).Resources(...).Names(...))."""
    out: Obj = {"verbs": sorted(verbs), "apiGroups": sorted(groups),
                "resources": sorted(resources)}
    if names:
        out["resourceNames"] = sorted(names)
    return out


def url_rule(verbs: Iterable[str], urls: Iterable[str]) -> Obj:
    """A non-resource URL rule (NewRule(verbs).URLs(...))."""
    return {"verbs": sorted(verbs), "nonResourceURLs": sorted(urls)}


def events_rule() -> Obj:
    return rule(("create", "update", "patch"), (CORE, EVENTS), ("events",))


def _meta(name: str, namespace: str | None = None, labels: Obj | None = None) -> Obj:
    meta: Obj = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = {**(labels or {}), **BOOTSTRAP_LABEL}
    meta["annotations"] = {AUTOUPDATE: "true"}
    return meta


def cluster_role(name: str, *rules: Obj, labels: Obj | None = None,
                 aggregate: str | None = None) -> Obj:
    role: Obj = {"apiVersion": API_VERSION, "kind": "ClusterRole",
                 "metadata": _meta(name, labels=labels), "rules": list(rules)}
    if aggregate:
        role["aggregationRule"] = {"clusterRoleSelectors": [
            {"matchLabels": {AGGREGATE_TO[aggregate]: "true"}}]}
    return role


def role(namespace: str, name: str, *rules: Obj) -> Obj:
    return {"apiVersion": API_VERSION, "kind": "Role", "metadata": _meta(name, namespace),
            "rules": list(rules)}


def user(name: str) -> Obj:
    return {"kind": "User", "apiGroup": GROUP, "name": name}


def group(name: str) -> Obj:
    return {"kind": "Group", "apiGroup": GROUP, "name": name}


def service_account(namespace: str, name: str) -> Obj:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def cluster_binding(role_name: str, *subjects: Obj, name: str | None = None) -> Obj:
    binding: Obj = {"apiVersion": API_VERSION, "kind": "ClusterRoleBinding",
                    "metadata": _meta(name or role_name),
                    "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role_name}}
    if subjects:
        binding["subjects"] = list(subjects)
    return binding


def role_binding(namespace: str, role_name: str, *subjects: Obj,
                 name: str | None = None) -> Obj:
    return {"apiVersion": API_VERSION, "kind": "RoleBinding",
            "metadata": _meta(name or role_name, namespace),
            "roleRef": {"apiGroup": GROUP, "kind": "Role", "name": role_name},
            "subjects": list(subjects)}


# --- cluster roles -----------------------------------------------------------------------

def _aggregate_to_edit_rules() -> list[Obj]:
    return [
        rule(READ, [CORE], ["pods/attach", "pods/proxy", "pods/exec", "pods/portforward",
                            "secrets", "services/proxy"]),
        rule(["impersonate"], [CORE], ["serviceaccounts"]),
        rule(WRITE, [CORE], ["pods", "pods/attach", "pods/proxy", "pods/exec",
                             "pods/portforward"]),
        rule(["create"], [CORE], ["pods/eviction"]),
        rule(WRITE, [CORE], ["replicationcontrollers", "replicationcontrollers/scale",
                             "serviceaccounts", "services", "services/proxy",
                             "persistentvolumeclaims", "configmaps", "secrets", "events"]),
        rule(["create"], [CORE], ["serviceaccounts/token"]),
        rule(WRITE, [APPS], ["statefulsets", "statefulsets/scale", "daemonsets", "deployments",
                             "deployments/scale", "deployments/rollback", "replicasets",
                             "replicasets/scale"]),
        rule(WRITE, [AUTOSCALING], ["horizontalpodautoscalers"]),
        rule(WRITE, [BATCH], ["jobs", "cronjobs"]),
        rule(WRITE, [EXTENSIONS], ["daemonsets", "deployments", "deployments/scale",
                                   "deployments/rollback", "ingresses", "replicasets",
                                   "replicasets/scale", "replicationcontrollers/scale",
                                   "networkpolicies"]),
        rule(WRITE, [POLICY], ["poddisruptionbudgets"]),
        rule(WRITE, [NETWORKING], ["networkpolicies", "ingresses"]),
        rule(READ_WRITE, [COORDINATION], ["leases"]),
    ]


def _aggregate_to_view_rules() -> list[Obj]:
    return [
        rule(READ, [CORE], ["pods", "replicationcontrollers", "replicationcontrollers/scale",
                            "serviceaccounts", "services", "services/status", "endpoints",
                            "persistentvolumeclaims", "persistentvolumeclaims/status",
                            "configmaps"]),
        rule(READ, [CORE], ["limitranges", "resourcequotas", "bindings", "events",
                            "pods/status", "resourcequotas/status", "namespaces/status",
                            "replicationcontrollers/status", "pods/log"]),
        # reading namespaces at namespace scope means reading *this* namespace
        rule(READ, [CORE], ["namespaces"]),
        rule(READ, [DISCOVERY], ["endpointslices"]),
        rule(READ, [APPS], ["controllerrevisions", "statefulsets", "statefulsets/status",
                            "statefulsets/scale", "daemonsets", "daemonsets/status",
                            "deployments", "deployments/status", "deployments/scale",
                            "replicasets", "replicasets/status", "replicasets/scale"]),
        rule(READ, [AUTOSCALING], ["horizontalpodautoscalers",
                                   "horizontalpodautoscalers/status"]),
        rule(READ, [BATCH], ["jobs", "cronjobs", "cronjobs/status", "jobs/status"]),
        rule(READ, [EXTENSIONS], ["daemonsets", "daemonsets/status", "deployments",
                                  "deployments/scale", "deployments/status", "ingresses",
                                  "ingresses/status", "replicasets", "replicasets/scale",
                                  "replicasets/status", "replicationcontrollers/scale",
                                  "networkpolicies"]),
        rule(READ, [POLICY], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
        rule(READ, [NETWORKING], ["ingresses", "ingresses/status", "networkpolicies"]),
    ]


def _node_rules() -> list[Obj]:
    """system:node (kept for compatibility: the Node authorizer grants nodes their access)."""
    return [
        rule(["create"], [AUTHN], ["tokenreviews"]),
        rule(["create"], [AUTHZ], ["subjectaccessreviews", "localsubjectaccessreviews"]),
        rule(READ, [CORE], ["services"]),
        rule(["create", "get", "list", "watch"], [CORE], ["nodes"]),
        rule(["update", "patch"], [CORE], ["nodes/status"]),
        rule(["update", "patch"], [CORE], ["nodes"]),
        rule(["create", "update", "patch"], [CORE], ["events"]),
        rule(READ, [CORE], ["pods"]),
        rule(["create", "delete"], [CORE], ["pods"]),
        rule(["update", "patch"], [CORE], ["pods/status"]),
        rule(["create"], [CORE], ["pods/eviction"]),
        rule(READ, [CORE], ["secrets", "configmaps"]),
        rule(["get"], [CORE], ["persistentvolumeclaims", "persistentvolumes"]),
        rule(["get"], [CORE], ["endpoints"]),
        rule(["create", "get", "list", "watch"], [CERTIFICATES], ["certificatesigningrequests"]),
        rule(["get", "create", "update", "patch", "delete"], [COORDINATION], ["leases"]),
        rule(["get"], [STORAGE], ["volumeattachments"]),
        rule(["create"], [CORE], ["serviceaccounts/token"]),
        rule(["get", "update", "patch"], [CORE], ["persistentvolumeclaims/status"]),
        rule(READ, [STORAGE], ["csidrivers"]),
        rule(["get", "create", "update", "patch", "delete"], [STORAGE], ["csinodes"]),
        rule(READ, [NODE], ["runtimeclasses"]),
    ]


def _leader_lease(name: str) -> list[Obj]:
    """Leader election on a Lease named `name`: create any, read and renew that one."""
    return [rule(["create"], [COORDINATION], ["leases"]),
            rule(["get", "update"], [COORDINATION], ["leases"], names=[name])]


def _signer_approver(name: str, signer: str) -> Obj:
    return cluster_role(f"system:certificates.k8s.io:{name}",
                        rule(["approve"], [CERTIFICATES], ["signers"], names=[signer]))


def _system_cluster_roles() -> list[Obj]:
    urls_ready = ["/livez", "/readyz", "/healthz", "/version", "/version/"]
    return [
        cluster_role("cluster-admin", rule(["*"], ["*"], ["*"]), url_rule(["*"], ["*"])),
        cluster_role("system:discovery", url_rule(["get"], [
            *urls_ready, "/openapi", "/openapi/*", "/api", "/api/*", "/apis", "/apis/*"])),
        cluster_role("system:monitoring", url_rule(["get"], [
            "/metrics", "/metrics/slis", "/livez", "/readyz", "/healthz", "/livez/*",
            "/readyz/*", "/healthz/*"])),
        cluster_role("system:basic-user",
                     rule(["create"], [AUTHZ], ["selfsubjectaccessreviews",
                                                "selfsubjectrulesreviews"]),
                     rule(["create"], [AUTHN], ["selfsubjectreviews"])),
        cluster_role("system:public-info-viewer", url_rule(["get"], urls_ready)),
        cluster_role("admin", aggregate="admin"),
        cluster_role("edit", labels={AGGREGATE_TO["admin"]: "true"}, aggregate="edit"),
        cluster_role("view", labels={AGGREGATE_TO["edit"]: "true"}, aggregate="view"),
        cluster_role("system:aggregate-to-admin",
                     rule(["create"], [AUTHZ], ["localsubjectaccessreviews"]),
                     rule(READ_WRITE, [GROUP], ["roles", "rolebindings"]),
                     labels={AGGREGATE_TO["admin"]: "true"}),
        cluster_role("system:aggregate-to-edit", *_aggregate_to_edit_rules(),
                     labels={AGGREGATE_TO["edit"]: "true"}),
        cluster_role("system:aggregate-to-view", *_aggregate_to_view_rules(),
                     labels={AGGREGATE_TO["view"]: "true"}),
        # metrics-server's own manifest adds this role; metrics.k8s.io is built in here
        cluster_role("system:aggregated-metrics-reader",
                     rule(READ, ["metrics.k8s.io"], ["pods", "nodes"]),
                     labels={AGGREGATE_TO[k]: "true" for k in ("view", "edit", "admin")}),
        cluster_role("system:heapster",
                     rule(READ, [CORE], ["events", "pods", "nodes", "namespaces"]),
                     rule(READ, [EXTENSIONS], ["deployments"])),
        cluster_role("system:node", *_node_rules()),
        cluster_role("system:node-problem-detector",
                     rule(["get"], [CORE], ["nodes"]),
                     rule(["patch"], [CORE], ["nodes/status"]),
                     events_rule()),
        cluster_role("system:kubelet-api-admin",
                     rule(READ, [CORE], ["nodes"]),
                     rule(["proxy"], [CORE], ["nodes"]),
                     rule(["*"], [CORE], ["nodes/proxy", "nodes/metrics", "nodes/stats",
                                          "nodes/log"])),
        cluster_role("system:node-bootstrapper",
                     rule(["create", "get", "list", "watch"], [CERTIFICATES],
                          ["certificatesigningrequests"])),
        cluster_role("system:auth-delegator",
                     rule(["create"], [AUTHN], ["tokenreviews"]),
                     rule(["create"], [AUTHZ], ["subjectaccessreviews"])),
        cluster_role("system:kube-aggregator", rule(READ, [CORE], ["services", "endpoints"])),
        cluster_role("system:kube-controller-manager",
                     events_rule(),
                     *_leader_lease("kube-controller-manager"),
                     rule(["create"], [CORE], ["secrets", "serviceaccounts"]),
                     rule(["delete"], [CORE], ["secrets"]),
                     rule(["get"], [CORE], ["namespaces", "secrets", "serviceaccounts",
                                            "configmaps"]),
                     rule(["update"], [CORE], ["secrets", "serviceaccounts"]),
                     rule(["create"], [AUTHN], ["tokenreviews"]),
                     rule(["create"], [AUTHZ], ["subjectaccessreviews"]),
                     rule(["list", "watch"], ["*"], ["*"]),
                     rule(["create"], [CORE], ["serviceaccounts/token"])),
        cluster_role("system:kube-dns", rule(["list", "watch"], [CORE],
                                             ["endpoints", "services"])),
        cluster_role("system:persistent-volume-provisioner",
                     rule(["get", "list", "watch", "create", "delete"], [CORE],
                          ["persistentvolumes"]),
                     rule(["get", "list", "watch", "update"], [CORE],
                          ["persistentvolumeclaims"]),
                     rule(READ, [STORAGE], ["storageclasses"]),
                     rule(["watch"], [CORE], ["events"]),
                     events_rule()),
        *(cluster_role(f"system:certificates.k8s.io:certificatesigningrequests:{sub}",
                       rule(["create"], [CERTIFICATES], [f"certificatesigningrequests/{sub}"]))
          for sub in ("nodeclient", "selfnodeclient")),
        _signer_approver("kube-apiserver-client-approver",
                         "kubernetes.io/kube-apiserver-client"),
        _signer_approver("kube-apiserver-client-kubelet-approver",
                         "kubernetes.io/kube-apiserver-client-kubelet"),
        _signer_approver("kubelet-serving-approver", "kubernetes.io/kubelet-serving"),
        _signer_approver("legacy-unknown-approver", "kubernetes.io/legacy-unknown"),
        cluster_role("system:kube-scheduler",
                     events_rule(),
                     *_leader_lease("kube-scheduler"),
                     rule(READ, [CORE], ["nodes"]),
                     rule(["get", "list", "watch", "delete"], [CORE], ["pods"]),
                     rule(["create"], [CORE], ["pods/binding", "bindings"]),
                     rule(["patch", "update"], [CORE], ["pods/status"]),
                     rule(READ, [CORE], ["replicationcontrollers", "services"]),
                     rule(READ, [APPS, EXTENSIONS], ["replicasets"]),
                     rule(READ, [APPS], ["statefulsets"]),
                     rule(READ, [POLICY], ["poddisruptionbudgets"]),
                     rule(READ, [CORE], ["persistentvolumeclaims", "persistentvolumes"]),
                     rule(["create"], [AUTHN], ["tokenreviews"]),
                     rule(["create"], [AUTHZ], ["subjectaccessreviews"]),
                     rule(READ, [STORAGE], ["csinodes"]),
                     rule(READ, [CORE], ["namespaces"]),
                     rule(READ, [STORAGE], ["csidrivers"]),
                     rule(READ, [STORAGE], ["csistoragecapacities"])),
        cluster_role("system:volume-scheduler",
                     rule(["get", "list", "watch", "update", "patch"], [CORE],
                          ["persistentvolumes"]),
                     rule(READ, [STORAGE], ["storageclasses"]),
                     rule(["get", "list", "watch", "update", "patch"], [CORE],
                          ["persistentvolumeclaims"])),
        cluster_role("system:node-proxier",
                     rule(["list", "watch"], [CORE], ["services", "endpoints"]),
                     rule(READ, [CORE], ["nodes"]),
                     events_rule(),
                     rule(["list", "watch"], [DISCOVERY], ["endpointslices"])),
        cluster_role(NODE_PROXIER,
                     rule(["list", "watch"], [CORE], ["services", "endpoints"]),
                     rule(["list", "watch"], [DISCOVERY], ["endpointslices"])),
        cluster_role("system:service-account-issuer-discovery", url_rule(
            ["get"], ["/.well-known/openid-configuration", "/openid/v1/jwks"])),
    ]


# --- controller roles (controller_policy.go) ---------------------------------------------

def _controller_rules() -> dict[str, list[Obj]]:
    """The rules of each system:controller:<name> ClusterRole, by controller name."""
    signers = ["kubernetes.io/legacy-unknown", "kubernetes.io/kube-apiserver-client",
               "kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/kubelet-serving"]
    return {
        "attachdetach-controller": [
            rule(["list", "watch"], [CORE], ["persistentvolumes", "persistentvolumeclaims"]),
            rule(READ, [CORE], ["nodes"]),
            rule(["patch", "update"], [CORE], ["nodes/status"]),
            rule(["list", "watch"], [CORE], ["pods"]),
            events_rule(),
            rule(["get", "create", "delete", "list", "watch"], [STORAGE], ["volumeattachments"]),
            rule(READ, [STORAGE], ["csidrivers"]),
            rule(READ, [STORAGE], ["csinodes"])],
        "clusterrole-aggregation-controller": [
            # full power over clusterroles, to write any aggregated rule
            rule(["escalate", "get", "list", "watch", "update", "patch"], [GROUP],
                 ["clusterroles"])],
        "cronjob-controller": [
            rule(["get", "list", "watch", "update"], [BATCH], ["cronjobs"]),
            rule(["get", "list", "watch", "create", "update", "delete", "patch"], [BATCH],
                 ["jobs"]),
            rule(["update"], [BATCH], ["cronjobs/status"]),
            rule(["update"], [BATCH], ["cronjobs/finalizers"]),
            rule(["list", "delete"], [CORE], ["pods"]),
            events_rule()],
        "daemon-set-controller": [
            rule(READ, [EXTENSIONS, APPS], ["daemonsets"]),
            rule(["update"], [EXTENSIONS, APPS], ["daemonsets/status"]),
            rule(["update"], [EXTENSIONS, APPS], ["daemonsets/finalizers"]),
            rule(["list", "watch"], [CORE], ["nodes"]),
            rule(["list", "watch", "create", "delete", "patch"], [CORE], ["pods"]),
            rule(["create"], [CORE], ["pods/binding"]),
            rule(["get", "list", "watch", "create", "delete", "update", "patch"], [APPS],
                 ["controllerrevisions"]),
            events_rule()],
        "deployment-controller": [
            rule(["get", "list", "watch", "update"], [EXTENSIONS, APPS], ["deployments"]),
            rule(["update"], [EXTENSIONS, APPS], ["deployments/status"]),
            rule(["update"], [EXTENSIONS, APPS], ["deployments/finalizers"]),
            rule(["get", "list", "watch", "create", "update", "patch", "delete"],
                 [APPS, EXTENSIONS], ["replicasets"]),
            rule(["get", "list", "watch", "update"], [CORE], ["pods"]),
            events_rule()],
        "disruption-controller": [
            rule(READ, [EXTENSIONS, APPS], ["deployments"]),
            rule(READ, [APPS, EXTENSIONS], ["replicasets"]),
            rule(READ, [CORE], ["replicationcontrollers"]),
            rule(READ, [POLICY], ["poddisruptionbudgets"]),
            rule(READ, [APPS], ["statefulsets"]),
            rule(["update"], [POLICY], ["poddisruptionbudgets/status"]),
            rule(["patch", "update"], [CORE], ["pods/status"]),
            rule(["get"], ["*"], ["*/scale"]),
            events_rule()],
        "endpoint-controller": [
            rule(READ, [CORE], ["services", "pods"]),
            rule(["get", "list", "create", "update", "delete"], [CORE], ["endpoints"]),
            rule(["create"], [CORE], ["endpoints/restricted"]),
            events_rule()],
        "endpointslice-controller": [
            rule(READ, [CORE], ["services", "pods", "nodes"]),
            rule(["update"], [CORE], ["services/finalizers"]),
            rule(["get", "list", "create", "update", "delete"], [DISCOVERY], ["endpointslices"]),
            events_rule()],
        "endpointslicemirroring-controller": [
            rule(READ, [CORE], ["services", "endpoints"]),
            rule(["update"], [CORE], ["services/finalizers"]),
            rule(["update"], [CORE], ["endpoints/finalizers"]),
            rule(["get", "list", "create", "update", "delete"], [DISCOVERY], ["endpointslices"]),
            events_rule()],
        "expand-controller": [
            rule(["get", "list", "watch", "update", "patch"], [CORE], ["persistentvolumes"]),
            rule(["update", "patch"], [CORE], ["persistentvolumeclaims/status"]),
            rule(READ, [CORE], ["persistentvolumeclaims"]),
            rule(READ, [STORAGE], ["storageclasses"]),
            rule(["get"], [CORE], ["services", "endpoints"]),
            rule(["get"], [CORE], ["secrets"]),
            events_rule()],
        "ephemeral-volume-controller": [
            rule(READ, [CORE], ["pods"]),
            rule(["update"], [CORE], ["pods/finalizers"]),
            rule(["get", "list", "watch", "create"], [CORE], ["persistentvolumeclaims"]),
            events_rule()],
        "generic-garbage-collector": [
            rule(["get", "list", "watch", "patch", "update", "delete"], ["*"], ["*"]),
            events_rule()],
        "horizontal-pod-autoscaler": [
            rule(READ, [AUTOSCALING], ["horizontalpodautoscalers"]),
            rule(["update"], [AUTOSCALING], ["horizontalpodautoscalers/status"]),
            rule(["get", "update"], ["*"], ["*/scale"]),
            rule(["list"], [CORE], ["pods"]),
            rule(["list"], ["metrics.k8s.io"], ["pods"]),
            rule(["get", "list"], ["custom.metrics.k8s.io"], ["*"]),
            rule(["get", "list"], ["external.metrics.k8s.io"], ["*"]),
            events_rule()],
        "job-controller": [
            rule(["get", "list", "watch", "update", "patch"], [BATCH], ["jobs"]),
            rule(["update"], [BATCH], ["jobs/status"]),
            rule(["update"], [BATCH], ["jobs/finalizers"]),
            rule(["list", "watch", "create", "delete", "patch"], [CORE], ["pods"]),
            events_rule()],
        "namespace-controller": [
            rule(["get", "list", "watch", "delete"], [CORE], ["namespaces"]),
            rule(["update"], [CORE], ["namespaces/finalize", "namespaces/status"]),
            rule(["get", "list", "delete", "deletecollection"], ["*"], ["*"])],
        "node-controller": [
            rule(["get", "list", "update", "delete", "patch"], [CORE], ["nodes"]),
            rule(["patch", "update"], [CORE], ["nodes/status"]),
            rule(["patch", "update"], [CORE], ["pods/status"]),
            rule(["list", "get", "delete"], [CORE], ["pods"]),
            events_rule()],
        "persistent-volume-binder": [
            rule(["get", "list", "watch", "update", "create", "delete"], [CORE],
                 ["persistentvolumes"]),
            rule(["update"], [CORE], ["persistentvolumes/status"]),
            rule(["get", "list", "watch", "update"], [CORE], ["persistentvolumeclaims"]),
            rule(["update"], [CORE], ["persistentvolumeclaims/status"]),
            rule(["list", "watch", "get", "create", "delete"], [CORE], ["pods"]),
            rule(READ, [STORAGE], ["storageclasses"]),
            rule(["get", "create", "update", "delete"], [CORE], ["endpoints"]),
            rule(["get", "create", "delete"], [CORE], ["services"]),
            rule(["get"], [CORE], ["secrets"]),
            rule(["get", "list"], [CORE], ["nodes"]),
            rule(["watch"], [CORE], ["events"]),
            events_rule()],
        "pod-garbage-collector": [
            rule(["list", "watch", "delete"], [CORE], ["pods"]),
            rule(["get", "list"], [CORE], ["nodes"]),
            rule(["patch"], [CORE], ["pods/status"])],
        "replicaset-controller": [
            rule(["get", "list", "watch", "update"], [APPS, EXTENSIONS], ["replicasets"]),
            rule(["update"], [APPS, EXTENSIONS], ["replicasets/status"]),
            rule(["update"], [APPS, EXTENSIONS], ["replicasets/finalizers"]),
            rule(["list", "watch", "patch", "create", "delete"], [CORE], ["pods"]),
            events_rule()],
        "replication-controller": [
            rule(["get", "list", "watch", "update"], [CORE], ["replicationcontrollers"]),
            rule(["update"], [CORE], ["replicationcontrollers/status"]),
            rule(["update"], [CORE], ["replicationcontrollers/finalizers"]),
            rule(["list", "watch", "patch", "create", "delete"], [CORE], ["pods"]),
            events_rule()],
        "resourcequota-controller": [
            rule(["list", "watch"], ["*"], ["*"]),
            rule(["update"], [CORE], ["resourcequotas/status"]),
            events_rule()],
        "route-controller": [
            rule(["list", "watch"], [CORE], ["nodes"]),
            rule(["patch"], [CORE], ["nodes/status"]),
            events_rule()],
        "service-account-controller": [
            rule(["create"], [CORE], ["serviceaccounts"]),
            events_rule()],
        "service-controller": [
            rule(READ, [CORE], ["services"]),
            rule(["patch", "update"], [CORE], ["services/status"]),
            rule(["list", "watch"], [CORE], ["nodes"]),
            events_rule()],
        "statefulset-controller": [
            rule(["list", "watch"], [CORE], ["pods"]),
            rule(READ, [APPS], ["statefulsets"]),
            rule(["update"], [APPS], ["statefulsets/status"]),
            rule(["update"], [APPS], ["statefulsets/finalizers"]),
            rule(["get", "create", "delete", "update", "patch"], [CORE], ["pods"]),
            rule(["get", "create", "delete", "update", "patch", "list", "watch"], [APPS],
                 ["controllerrevisions"]),
            rule(["get", "create"], [CORE], ["persistentvolumeclaims"]),
            events_rule(),
            rule(["update", "delete"], [CORE], ["persistentvolumeclaims"])],
        "ttl-controller": [
            rule(["update", "patch", "list", "watch"], [CORE], ["nodes"]),
            events_rule()],
        "certificate-controller": [
            rule(["get", "list", "watch", "delete"], [CERTIFICATES],
                 ["certificatesigningrequests"]),
            rule(["update"], [CERTIFICATES], ["certificatesigningrequests/status",
                                              "certificatesigningrequests/approval"]),
            rule(["approve"], [CERTIFICATES], ["signers"],
                 names=["kubernetes.io/kube-apiserver-client-kubelet"]),
            rule(["sign"], [CERTIFICATES], ["signers"], names=signers),
            rule(["create"], [AUTHZ], ["subjectaccessreviews"]),
            events_rule()],
        "pvc-protection-controller": [
            rule(["get", "list", "watch", "update"], [CORE], ["persistentvolumeclaims"]),
            rule(["list", "watch", "get"], [CORE], ["pods"]),
            events_rule()],
        "pv-protection-controller": [
            rule(["get", "list", "watch", "update"], [CORE], ["persistentvolumes"]),
            events_rule()],
        "ttl-after-finished-controller": [
            rule(["get", "list", "watch", "delete"], [BATCH], ["jobs"]),
            events_rule()],
        "root-ca-cert-publisher": [
            rule(["create", "update"], [CORE], ["configmaps"]),
            events_rule()],
        "validatingadmissionpolicy-status-controller": [
            rule(READ, [ADMISSION], ["validatingadmissionpolicies"]),
            rule(["get", "patch", "update"], [ADMISSION],
                 ["validatingadmissionpolicies/status"]),
            events_rule()],
        "legacy-service-account-token-cleaner": [
            rule(["get"], [CORE], ["configmaps"], names=["kube-apiserver-legacy-service-"
                                                         "account-token-tracking"]),
            rule(["patch", "delete"], [CORE], ["secrets"])],
    }


def controller_roles() -> list[Obj]:
    return [cluster_role(CONTROLLER_PREFIX + name, *rules)
            for name, rules in _controller_rules().items()]


def controller_role_bindings() -> list[Obj]:
    """Each controller's role bound to its kube-system service account, as Kubernetes, and
    to the one user kybernetes' controller manager runs as."""
    return [cluster_binding(CONTROLLER_PREFIX + name, service_account("kube-system", name),
                            user(CONTROLLER_MANAGER_USER))
            for name in _controller_rules()]


# --- the whole policy --------------------------------------------------------------------

def with_aggregated_rules(roles: list[Obj]) -> list[Obj]:
    """`roles` with every aggregated role's rules filled in from the others, repeated until
    nothing changes (admin aggregates edit, which aggregates view)."""
    for _ in range(len(roles)):
        changed = False
        for r in roles:
            if selectors(r) is not None:
                rules = aggregated_rules(r, roles)
                if rules != r["rules"]:
                    r["rules"], changed = rules, True
        if not changed:
            break
    return roles


def cluster_roles() -> list[Obj]:
    """Every bootstrap ClusterRole, admin/edit/view already aggregated."""
    return with_aggregated_rules(_system_cluster_roles() + controller_roles())


def cluster_role_bindings() -> list[Obj]:
    authenticated, unauthenticated = group("system:authenticated"), \
        group("system:unauthenticated")
    return [
        cluster_binding("cluster-admin", group("system:masters")),
        cluster_binding("system:monitoring", group("system:monitoring")),
        cluster_binding("system:discovery", authenticated),
        cluster_binding("system:basic-user", authenticated),
        cluster_binding("system:public-info-viewer", authenticated, unauthenticated),
        cluster_binding("system:node-proxier", user("system:kube-proxy")),
        cluster_binding("system:kube-controller-manager", user(CONTROLLER_MANAGER_USER)),
        cluster_binding("system:kube-dns", service_account("kube-system", "kube-dns")),
        cluster_binding("system:kube-scheduler", user(SCHEDULER_USER)),
        cluster_binding("system:volume-scheduler", user(SCHEDULER_USER)),
        # no subjects: the Node authorizer grants nodes what they need
        cluster_binding("system:node"),
        cluster_binding("system:service-account-issuer-discovery",
                        group("system:serviceaccounts")),
        cluster_binding("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
                        group("system:nodes"),
                        name="kubeadm:node-autoapprove-certificate-rotation"),
        # kubeadm's bindings for machines joining with a bootstrap token
        cluster_binding("system:node-bootstrapper", group(DEFAULT_NODE_TOKEN_GROUP),
                        name="kubeadm:kubelet-bootstrap"),
        cluster_binding("system:certificates.k8s.io:certificatesigningrequests:nodeclient",
                        group(DEFAULT_NODE_TOKEN_GROUP),
                        name="kubeadm:node-autoapprove-bootstrap"),
        # a joined machine's proxy runs as its node (kubeadm's runs as the kube-proxy
        # service account of a DaemonSet on every node): what it watches, no more
        # (not all Nodes: a node reads only its own)
        cluster_binding(NODE_PROXIER, group("system:nodes")),
        *controller_role_bindings(),
    ]


def namespace_roles() -> list[Obj]:
    return [
        role("kube-system", "extension-apiserver-authentication-reader",
             rule(READ, [CORE], ["configmaps"], names=["extension-apiserver-authentication"])),
        role("kube-system", CONTROLLER_PREFIX + "bootstrap-signer",
             rule(READ, [CORE], ["secrets"])),
        role("kube-system", CONTROLLER_PREFIX + "cloud-provider",
             rule(["create", "get", "list", "watch"], [CORE], ["configmaps"])),
        role("kube-system", CONTROLLER_PREFIX + "token-cleaner",
             rule(["get", "list", "watch", "delete"], [CORE], ["secrets"]), events_rule()),
        role("kube-system", "system::leader-locking-kube-controller-manager",
             rule(["watch"], [CORE], ["configmaps"]),
             rule(["get", "update"], [CORE], ["configmaps"], names=["kube-controller-manager"]),
             rule(["get", "watch", "list", "create", "update"], [COORDINATION], ["leases"])),
        role("kube-system", "system::leader-locking-kube-scheduler",
             rule(["watch"], [CORE], ["configmaps"]),
             rule(["get", "update"], [CORE], ["configmaps"], names=["kube-scheduler"])),
        role("kube-public", "kubeadm:bootstrap-signer-clusterinfo",
             rule(["get"], [CORE], ["configmaps"], names=["cluster-info"])),
        role("kube-public", CONTROLLER_PREFIX + "bootstrap-signer",
             rule(READ, [CORE], ["configmaps"]),
             rule(["update"], [CORE], ["configmaps"], names=["cluster-info"]),
             events_rule()),
    ]


def namespace_role_bindings() -> list[Obj]:
    signer = service_account("kube-system", "bootstrap-signer")
    manager = user(CONTROLLER_MANAGER_USER)
    return [
        role_binding("kube-system", "extension-apiserver-authentication-reader",
                     user(CONTROLLER_MANAGER_USER), user(SCHEDULER_USER),
                     name="system::extension-apiserver-authentication-reader"),
        role_binding("kube-system", "system::leader-locking-kube-controller-manager",
                     user(CONTROLLER_MANAGER_USER),
                     service_account("kube-system", "kube-controller-manager")),
        role_binding("kube-system", "system::leader-locking-kube-scheduler",
                     user(SCHEDULER_USER), service_account("kube-system", "kube-scheduler")),
        # kube binds the controllers' service accounts; ours run as the one manager user
        role_binding("kube-system", CONTROLLER_PREFIX + "bootstrap-signer", signer, manager),
        role_binding("kube-system", CONTROLLER_PREFIX + "cloud-provider",
                     service_account("kube-system", "cloud-provider")),
        role_binding("kube-system", CONTROLLER_PREFIX + "token-cleaner",
                     service_account("kube-system", "token-cleaner"), manager),
        role_binding("kube-public", CONTROLLER_PREFIX + "bootstrap-signer", signer, manager),
        role_binding("kube-public", "kubeadm:bootstrap-signer-clusterinfo",
                     user("system:anonymous")),
    ]
