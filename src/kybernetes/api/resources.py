"""The registry of resources kybernetes serves.

One table, shared by the API server (routes, discovery, storage keys) and the client
(request paths), so the two can never disagree on a plural, a kind or a scope.
"""

from __future__ import annotations

from dataclasses import dataclass, field

READ_VERBS = ("get", "list", "watch")
ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Resource:
    """A REST resource: where it lives and what it is called."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    singular: str = field(default="")
    categories: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version_prefix(self) -> str:
        """`/api/v1` or `/apis/apps/v1`."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    @property
    def qualified(self) -> str:
        """`pods` or `deployments.apps`, as Kubernetes names it in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None, name: str | None = None,
             subresource: str | None = None) -> str:
        """The request path for a collection, an object or a subresource."""
        parts = [self.group_version_prefix]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name:
            parts.append(name)
            if subresource:
                parts.append(subresource)
        return "/".join(parts)


NAMESPACES = Resource("", "v1", "namespaces", "Namespace", False, ("ns",), ("status", "finalize"))
PODS = Resource("", "v1", "pods", "Pod", True, ("po",),
                ("status", "binding", "log", "exec", "portforward", "eviction", "attach",
                 "ephemeralcontainers"),
                categories=("all",))
REPLICATION_CONTROLLERS = Resource("", "v1", "replicationcontrollers", "ReplicationController",
                                   True, ("rc",), ("status", "scale"), categories=("all",))
SERVICES = Resource("", "v1", "services", "Service", True, ("svc",), ("status", "proxy"),
                    categories=("all",))
ENDPOINTS = Resource("", "v1", "endpoints", "Endpoints", True, ("ep",), singular="endpoints")
NODES = Resource("", "v1", "nodes", "Node", False, ("no",), ("status", "proxy"))
EVENTS = Resource("", "v1", "events", "Event", True, ("ev",))
# events.k8s.io/v1: the same Events under kube's newer field names
EVENTS_V1 = Resource("events.k8s.io", "v1", "events", "Event", True, ("ev",))
CONFIGMAPS = Resource("", "v1", "configmaps", "ConfigMap", True, ("cm",))
SECRETS = Resource("", "v1", "secrets", "Secret", True)
SERVICE_ACCOUNTS = Resource("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",),
                            ("token",))
BINDINGS = Resource("", "v1", "bindings", "Binding", True, verbs=("create",))
RESOURCE_QUOTAS = Resource("", "v1", "resourcequotas", "ResourceQuota", True, ("quota",),
                           ("status",))
LIMIT_RANGES = Resource("", "v1", "limitranges", "LimitRange", True, ("limits",))
PERSISTENT_VOLUMES = Resource("", "v1", "persistentvolumes", "PersistentVolume", False,
                              ("pv",), ("status",))
PERSISTENT_VOLUME_CLAIMS = Resource("", "v1", "persistentvolumeclaims",
                                    "PersistentVolumeClaim", True, ("pvc",), ("status",))
STORAGE_CLASSES = Resource("storage.k8s.io", "v1", "storageclasses", "StorageClass", False,
                           ("sc",))
ENDPOINT_SLICES = Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True)
NETWORK_POLICIES = Resource("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True,
                            ("netpol",))
INGRESSES = Resource("networking.k8s.io", "v1", "ingresses", "Ingress", True, ("ing",),
                     ("status",))
INGRESS_CLASSES = Resource("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False)
PRIORITY_CLASSES = Resource("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False,
                            ("pc",))
LEASES = Resource("coordination.k8s.io", "v1", "leases", "Lease", True)
POD_DISRUPTION_BUDGETS = Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget",
                                  True, ("pdb",), ("status",))
JOBS = Resource("batch", "v1", "jobs", "Job", True, (), ("status",), categories=("all",))
CRONJOBS = Resource("batch", "v1", "cronjobs", "CronJob", True, ("cj",), ("status",),
                    categories=("all",))
CUSTOM_RESOURCE_DEFINITIONS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions",
                                       "CustomResourceDefinition", False, ("crd", "crds"),
                                       ("status",), categories=("api-extensions",))
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment", True, ("deploy",),
                       ("status", "scale"), categories=("all",))
REPLICA_SETS = Resource("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",),
                        ("status", "scale"), categories=("all",))
DAEMON_SETS = Resource("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), ("status",),
                       categories=("all",))
STATEFUL_SETS = Resource("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",),
                         ("status", "scale"), categories=("all",))
CONTROLLER_REVISIONS = Resource("apps", "v1", "controllerrevisions", "ControllerRevision", True)
MUTATING_WEBHOOK_CONFIGURATIONS = Resource(
    "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
    "MutatingWebhookConfiguration", False, categories=("api-extensions",))
VALIDATING_WEBHOOK_CONFIGURATIONS = Resource(
    "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
    "ValidatingWebhookConfiguration", False, categories=("api-extensions",))
VALIDATING_ADMISSION_POLICIES = Resource(
    "admissionregistration.k8s.io", "v1", "validatingadmissionpolicies",
    "ValidatingAdmissionPolicy", False, subresources=("status",), categories=("api-extensions",))
VALIDATING_ADMISSION_POLICY_BINDINGS = Resource(
    "admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings",
    "ValidatingAdmissionPolicyBinding", False, categories=("api-extensions",))
SELF_SUBJECT_REVIEWS = Resource("authentication.k8s.io", "v1", "selfsubjectreviews",
                                "SelfSubjectReview", False, verbs=("create",))
TOKEN_REVIEWS = Resource("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False,
                         verbs=("create",))
CERTIFICATE_SIGNING_REQUESTS = Resource("certificates.k8s.io", "v1",
                                        "certificatesigningrequests",
                                        "CertificateSigningRequest", False, ("csr",),
                                        ("status", "approval"))
SUBJECT_ACCESS_REVIEWS = Resource("authorization.k8s.io", "v1", "subjectaccessreviews",
                                  "SubjectAccessReview", False, verbs=("create",))
SELF_SUBJECT_ACCESS_REVIEWS = Resource("authorization.k8s.io", "v1",
                                       "selfsubjectaccessreviews", "SelfSubjectAccessReview",
                                       False, verbs=("create",))
LOCAL_SUBJECT_ACCESS_REVIEWS = Resource("authorization.k8s.io", "v1",
                                        "localsubjectaccessreviews",
                                        "LocalSubjectAccessReview", True, verbs=("create",))
SELF_SUBJECT_RULES_REVIEWS = Resource("authorization.k8s.io", "v1", "selfsubjectrulesreviews",
                                      "SelfSubjectRulesReview", False, verbs=("create",))
ROLES = Resource("rbac.authorization.k8s.io", "v1", "roles", "Role", True)
ROLE_BINDINGS = Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True)
CLUSTER_ROLES = Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False)
CLUSTER_ROLE_BINDINGS = Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings",
                                 "ClusterRoleBinding", False)
# autoscaling/v1: kube's view of the v2 objects (kubectl autoscale sends it)
HORIZONTAL_POD_AUTOSCALERS_V1 = Resource("autoscaling", "v1", "horizontalpodautoscalers",
                                         "HorizontalPodAutoscaler", True, ("hpa",), ("status",),
                                         categories=("all",))
HORIZONTAL_POD_AUTOSCALERS = Resource("autoscaling", "v2", "horizontalpodautoscalers",
                                      "HorizontalPodAutoscaler", True, ("hpa",), ("status",),
                                      categories=("all",))
NODE_METRICS = Resource("metrics.k8s.io", "v1beta1", "nodes", "NodeMetrics", False,
                        verbs=("get", "list"))
POD_METRICS = Resource("metrics.k8s.io", "v1beta1", "pods", "PodMetrics", True,
                       verbs=("get", "list"))

ALL: tuple[Resource, ...] = (
    NAMESPACES, PODS, REPLICATION_CONTROLLERS, SERVICES, ENDPOINTS, NODES, EVENTS,
    CONFIGMAPS, SECRETS, SERVICE_ACCOUNTS, BINDINGS, LEASES, DEPLOYMENTS, REPLICA_SETS,
    DAEMON_SETS, STATEFUL_SETS, CONTROLLER_REVISIONS,
    MUTATING_WEBHOOK_CONFIGURATIONS, VALIDATING_WEBHOOK_CONFIGURATIONS,
    VALIDATING_ADMISSION_POLICIES, VALIDATING_ADMISSION_POLICY_BINDINGS, SELF_SUBJECT_REVIEWS,
    TOKEN_REVIEWS,
    CERTIFICATE_SIGNING_REQUESTS,
    SELF_SUBJECT_ACCESS_REVIEWS, SELF_SUBJECT_RULES_REVIEWS, SUBJECT_ACCESS_REVIEWS,
    LOCAL_SUBJECT_ACCESS_REVIEWS,
    ROLES, ROLE_BINDINGS, CLUSTER_ROLES, CLUSTER_ROLE_BINDINGS,
    POD_DISRUPTION_BUDGETS,
    JOBS, CRONJOBS,
    RESOURCE_QUOTAS, LIMIT_RANGES, ENDPOINT_SLICES,
    PERSISTENT_VOLUMES, PERSISTENT_VOLUME_CLAIMS, STORAGE_CLASSES, PRIORITY_CLASSES,
    NETWORK_POLICIES, INGRESSES, INGRESS_CLASSES, EVENTS_V1,
    NODE_METRICS, POD_METRICS,
    # v1 before v2: by_plural gives the preferred (later) version
    HORIZONTAL_POD_AUTOSCALERS_V1, HORIZONTAL_POD_AUTOSCALERS,
)

# Group versions in the order discovery lists them.
GROUP_VERSIONS: tuple[tuple[str, str], ...] = (("", "v1"), ("apps", "v1"),
                                               ("authentication.k8s.io", "v1"),
                                               ("authorization.k8s.io", "v1"),
                                               ("autoscaling", "v2"),
                                               ("autoscaling", "v1"),
                                               ("batch", "v1"),
                                               ("certificates.k8s.io", "v1"),
                                               ("networking.k8s.io", "v1"),
                                               ("policy", "v1"),
                                               ("rbac.authorization.k8s.io", "v1"),
                                               ("storage.k8s.io", "v1"),
                                               ("coordination.k8s.io", "v1"),
                                               ("admissionregistration.k8s.io", "v1"),
                                               ("scheduling.k8s.io", "v1"),
                                               ("discovery.k8s.io", "v1"),
                                               ("events.k8s.io", "v1"),
                                               # aggregated in kube (metrics-server's
                                               # APIService), so listed last
                                               ("metrics.k8s.io", "v1beta1"))

_BY_PLURAL: dict[tuple[str, str], Resource] = {(r.group, r.plural): r for r in ALL}
_BY_KIND: dict[tuple[str, str], Resource] = {(r.api_version, r.kind): r for r in ALL}


def by_plural(group: str, plural: str) -> Resource | None:
    return _BY_PLURAL.get((group, plural))


def by_kind(api_version: str, kind: str) -> Resource | None:
    return _BY_KIND.get((api_version, kind))


def in_group_version(group: str, version: str) -> list[Resource]:
    return [r for r in ALL if r.group == group and r.version == version]
