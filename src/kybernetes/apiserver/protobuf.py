"""Request bodies in Kubernetes' protobuf encoding, decoded to the JSON-shaped dict.

kubectl ≥ 1.32 sends ``application/vnd.kubernetes.protobuf`` bodies for the
objects its typed clients build (``kubectl create namespace|configmap|secret|
deployment|service|serviceaccount|role|clusterrole|rolebinding|clusterrolebinding|
ingress``,
``kubectl run``, ``kubectl certificate approve|deny``, ``kubectl auth can-i``), and
offers JSON for replies; so the API server must read protobuf, never write it.

The encoding: the magic ``k8s\\x00``, then a ``runtime.Unknown`` (typeMeta=1
{apiVersion=1, kind=2}, raw=2, contentEncoding=3, contentType=4) whose ``raw``
is the object's message. Messages are proto2 as Kubernetes' go-to-protobuf makes
them: maps are repeated {key=1, value=2} entries, Time is {seconds, nanos},
IntOrString is {type, intVal, strVal}, Quantity is {string}.

Go's protobuf code writes every non-pointer field, even when it is empty, where
JSON would omit it; so empty strings, zeros and false are dropped here, except
for the pointer fields in :data:`KEEP_ZERO` (``replicas: 0`` is meant). Status
messages are ignored: a create resets status anyway.

Only the messages below are known (the fields those kubectl commands fill, and
the common ones around them). A non-empty field this table does not know is
refused with 415 rather than silently dropped, so a client can resend as JSON.
"""

from __future__ import annotations

import base64
import datetime as _dt
from typing import Any

from kybernetes.api.errors import BadRequest, UnsupportedMediaType

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
_GO_ZERO_TIME = -62135596800  # time.Time{} in Unix seconds
MAGIC = b"k8s\x00"

# message → {field number: (json name, type)}; a type is "string", "int", "bool",
# "bytes", a message name, or "map:<value type>"; a leading "*" marks repeated.
M = "ObjectMeta"
INLINE = ""  # a field name for an embedded message whose fields JSON holds in the parent
SCHEMA: dict[str, dict[int, tuple[str, str]]] = {
    "Unknown": {1: ("typeMeta", "TypeMeta"), 2: ("raw", "bytes"),
                3: ("contentEncoding", "string"), 4: ("contentType", "string")},
    "TypeMeta": {1: ("apiVersion", "string"), 2: ("kind", "string")},
    "ObjectMeta": {1: ("name", "string"), 2: ("generateName", "string"),
                   3: ("namespace", "string"), 4: ("selfLink", "string"), 5: ("uid", "string"),
                   6: ("resourceVersion", "string"), 7: ("generation", "int"),
                   8: ("creationTimestamp", "Time"), 9: ("deletionTimestamp", "Time"),
                   10: ("deletionGracePeriodSeconds", "int"), 11: ("labels", "map:string"),
                   12: ("annotations", "map:string"),
                   13: ("ownerReferences", "*OwnerReference"), 14: ("finalizers", "*string"),
                   # managedFields: a read-modify-write (certificate approve) echoes them;
                   # left out, the write path keeps the stored ones.
                   17: ("managedFields", "-")},
    "OwnerReference": {1: ("kind", "string"), 3: ("name", "string"), 4: ("uid", "string"),
                       5: ("apiVersion", "string"), 6: ("controller", "bool"),
                       7: ("blockOwnerDeletion", "bool")},
    "LabelSelector": {1: ("matchLabels", "map:string"),
                      2: ("matchExpressions", "*LabelSelectorRequirement")},
    "LabelSelectorRequirement": {1: ("key", "string"), 2: ("operator", "string"),
                                 3: ("values", "*string")},
    # rbac.authorization.k8s.io/v1 (kubectl create role|clusterrole|rolebinding|...)
    "Role": {1: ("metadata", M), 2: ("rules", "*PolicyRule")},
    "ClusterRole": {1: ("metadata", M), 2: ("rules", "*PolicyRule"),
                    3: ("aggregationRule", "AggregationRule")},
    "RoleBinding": {1: ("metadata", M), 2: ("subjects", "*Subject"), 3: ("roleRef", "RoleRef")},
    "ClusterRoleBinding": {1: ("metadata", M), 2: ("subjects", "*Subject"),
                           3: ("roleRef", "RoleRef")},
    "PolicyRule": {1: ("verbs", "*string"), 2: ("apiGroups", "*string"),
                   3: ("resources", "*string"), 4: ("resourceNames", "*string"),
                   5: ("nonResourceURLs", "*string")},
    "AggregationRule": {1: ("clusterRoleSelectors", "*LabelSelector")},
    "RoleRef": {1: ("apiGroup", "string"), 2: ("kind", "string"), 3: ("name", "string")},
    "Subject": {1: ("kind", "string"), 2: ("apiGroup", "string"), 3: ("name", "string"),
                4: ("namespace", "string")},
    "LocalObjectReference": {1: ("name", "string")},
    "Namespace": {1: ("metadata", M), 2: ("spec", "NamespaceSpec"),
                  3: ("status", "-")},
    "NamespaceSpec": {1: ("finalizers", "*string")},

    "ConfigMap": {1: ("metadata", M), 2: ("data", "map:string"), 3: ("binaryData", "map:bytes"),
                  4: ("immutable", "bool")},
    "Secret": {1: ("metadata", M), 2: ("data", "map:bytes"), 3: ("type", "string"),
               4: ("stringData", "map:string"), 5: ("immutable", "bool")},
    "ServiceAccount": {1: ("metadata", M), 2: ("secrets", "*ObjectReference"),
                       3: ("imagePullSecrets", "*LocalObjectReference"),
                       4: ("automountServiceAccountToken", "bool")},
    "TokenRequest": {1: ("metadata", M), 2: ("spec", "TokenRequestSpec"), 3: ("status", "-")},
    "TokenRequestSpec": {1: ("audiences", "*string"), 3: ("boundObjectRef", "BoundObjectReference"),
                         4: ("expirationSeconds", "int")},
    "BoundObjectReference": {1: ("kind", "string"), 2: ("apiVersion", "string"),
                             3: ("name", "string"), 4: ("uid", "string")},
    "SelfSubjectReview": {1: ("metadata", M), 2: ("status", "-")},
    "ObjectReference": {1: ("kind", "string"), 2: ("namespace", "string"), 3: ("name", "string"),
                        4: ("uid", "string"), 5: ("apiVersion", "string"),
                        6: ("resourceVersion", "string"), 7: ("fieldPath", "string")},
    "Pod": {1: ("metadata", M), 2: ("spec", "PodSpec"), 3: ("status", "-")},

    "PodTemplateSpec": {1: ("metadata", M), 2: ("spec", "PodSpec")},
    "PodSpec": {2: ("containers", "*Container"), 3: ("restartPolicy", "string"),
                4: ("terminationGracePeriodSeconds", "int"),
                5: ("activeDeadlineSeconds", "int"), 6: ("dnsPolicy", "string"),
                7: ("nodeSelector", "map:string"), 8: ("serviceAccountName", "string"),
                9: ("serviceAccount", "string"), 10: ("nodeName", "string"),
                11: ("hostNetwork", "bool"), 12: ("hostPID", "bool"), 13: ("hostIPC", "bool"),
                15: ("imagePullSecrets", "*LocalObjectReference"), 16: ("hostname", "string"),
                17: ("subdomain", "string"), 19: ("schedulerName", "string"),
                20: ("initContainers", "*Container"),
                21: ("automountServiceAccountToken", "bool"),
                24: ("priorityClassName", "string"), 25: ("priority", "int"),
                30: ("enableServiceLinks", "bool")},
    "Container": {1: ("name", "string"), 2: ("image", "string"), 3: ("command", "*string"),
                  4: ("args", "*string"), 5: ("workingDir", "string"),
                  6: ("ports", "*ContainerPort"), 7: ("env", "*EnvVar"),
                  8: ("resources", "ResourceRequirements"),
                  13: ("terminationMessagePath", "string"), 14: ("imagePullPolicy", "string"),
                  16: ("stdin", "bool"), 17: ("stdinOnce", "bool"), 18: ("tty", "bool"),
                  20: ("terminationMessagePolicy", "string")},
    "ContainerPort": {1: ("name", "string"), 2: ("hostPort", "int"),
                      3: ("containerPort", "int"), 4: ("protocol", "string"),
                      5: ("hostIP", "string")},
    "EnvVar": {1: ("name", "string"), 2: ("value", "string")},
    "ResourceRequirements": {1: ("limits", "map:Quantity"), 2: ("requests", "map:Quantity")},
    "Service": {1: ("metadata", M), 2: ("spec", "ServiceSpec"), 3: ("status", "-")},

    "ServiceSpec": {1: ("ports", "*ServicePort"), 2: ("selector", "map:string"),
                    3: ("clusterIP", "string"), 4: ("type", "string"),
                    5: ("externalIPs", "*string"), 7: ("sessionAffinity", "string"),
                    8: ("loadBalancerIP", "string"), 9: ("loadBalancerSourceRanges", "*string"),
                    10: ("externalName", "string"), 11: ("externalTrafficPolicy", "string"),
                    12: ("healthCheckNodePort", "int"), 13: ("publishNotReadyAddresses", "bool"),
                    20: ("allocateLoadBalancerNodePorts", "bool"),
                    21: ("loadBalancerClass", "string"), 22: ("internalTrafficPolicy", "string"),
                    17: ("ipFamilyPolicy", "string"), 18: ("clusterIPs", "*string"),
                    19: ("ipFamilies", "*string")},
    "ServicePort": {1: ("name", "string"), 2: ("protocol", "string"), 3: ("port", "int"),
                    4: ("targetPort", "IntOrString"), 5: ("nodePort", "int"),
                    6: ("appProtocol", "string")},
    "Deployment": {1: ("metadata", M), 2: ("spec", "DeploymentSpec"),
                   3: ("status", "-")},

    "DeploymentSpec": {1: ("replicas", "int"), 2: ("selector", "LabelSelector"),
                       3: ("template", "PodTemplateSpec"), 4: ("strategy", "DeploymentStrategy"),
                       5: ("minReadySeconds", "int"), 6: ("revisionHistoryLimit", "int"),
                       7: ("paused", "bool"), 9: ("progressDeadlineSeconds", "int")},
    "DeploymentStrategy": {1: ("type", "string"), 2: ("rollingUpdate", "RollingUpdateDeployment")},
    "RollingUpdateDeployment": {1: ("maxUnavailable", "IntOrString"),
                                2: ("maxSurge", "IntOrString")},
    "ReplicaSet": {1: ("metadata", M), 2: ("spec", "ReplicaSetSpec"), 3: ("status", "-")},
    "ReplicaSetSpec": {1: ("replicas", "int"), 2: ("selector", "LabelSelector"),
                       3: ("template", "PodTemplateSpec"), 4: ("minReadySeconds", "int")},
    # batch/v1 (kubectl create job); podFailurePolicy and successPolicy are not sent by it.
    "Job": {1: ("metadata", M), 2: ("spec", "JobSpec"), 3: ("status", "-")},
    "JobSpec": {1: ("parallelism", "int"), 2: ("completions", "int"),
                3: ("activeDeadlineSeconds", "int"), 4: ("selector", "LabelSelector"),
                5: ("manualSelector", "bool"), 6: ("template", "PodTemplateSpec"),
                7: ("backoffLimit", "int"), 8: ("ttlSecondsAfterFinished", "int"),
                9: ("completionMode", "string"), 10: ("suspend", "bool"),
                11: ("podFailurePolicy", "-"), 12: ("backoffLimitPerIndex", "int"),
                13: ("maxFailedIndexes", "int"), 14: ("podReplacementPolicy", "string"),
                15: ("managedBy", "string"), 16: ("successPolicy", "-")},
    # batch/v1 (kubectl create cronjob)
    "CronJob": {1: ("metadata", M), 2: ("spec", "CronJobSpec"), 3: ("status", "-")},
    "CronJobSpec": {1: ("schedule", "string"), 8: ("timeZone", "string"),
                    2: ("startingDeadlineSeconds", "int"), 3: ("concurrencyPolicy", "string"),
                    4: ("suspend", "bool"), 5: ("jobTemplate", "JobTemplateSpec"),
                    6: ("successfulJobsHistoryLimit", "int"),
                    7: ("failedJobsHistoryLimit", "int")},
    "JobTemplateSpec": {1: ("metadata", M), 2: ("spec", "JobSpec")},
    "ReplicationController": {1: ("metadata", M), 2: ("spec", "RCSpec"), 3: ("status", "-")},
    "RCSpec": {1: ("replicas", "int"), 2: ("selector", "map:string"),
               3: ("template", "PodTemplateSpec"), 4: ("minReadySeconds", "int")},

    "CertificateSigningRequest": {1: ("metadata", M),
                                  2: ("spec", "CertificateSigningRequestSpec"),
                                  3: ("status", "CertificateSigningRequestStatus")},
    "CertificateSigningRequestSpec": {1: ("request", "bytes"), 2: ("username", "string"),
                                      3: ("uid", "string"), 4: ("groups", "*string"),
                                      5: ("usages", "*string"), 6: ("extra", "-"),
                                      7: ("signerName", "string"),
                                      8: ("expirationSeconds", "int")},
    # kubectl certificate approve|deny PUTs the whole object to /approval: status counts.
    "CertificateSigningRequestStatus": {
        1: ("conditions", "*CertificateSigningRequestCondition"), 2: ("certificate", "bytes")},
    "CertificateSigningRequestCondition": {1: ("type", "string"), 2: ("reason", "string"),
                                           3: ("message", "string"),
                                           4: ("lastUpdateTime", "Time"),
                                           5: ("lastTransitionTime", "Time"),
                                           6: ("status", "string")},
    # kubectl auth can-i [--list] (authorization.k8s.io/v1).
    "SelfSubjectAccessReview": {1: ("metadata", M), 2: ("spec", "SelfSubjectAccessReviewSpec"),
                                3: ("status", "-")},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes"),
                                    2: ("nonResourceAttributes", "NonResourceAttributes")},
    "SubjectAccessReview": {1: ("metadata", M), 2: ("spec", "SubjectAccessReviewSpec"),
                            3: ("status", "-")},
    "LocalSubjectAccessReview": {1: ("metadata", M), 2: ("spec", "SubjectAccessReviewSpec"),
                                 3: ("status", "-")},
    "SubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes"),
                                2: ("nonResourceAttributes", "NonResourceAttributes"),
                                3: ("user", "string"), 4: ("groups", "*string"),
                                6: ("uid", "string")},
    "ResourceAttributes": {1: ("namespace", "string"), 2: ("verb", "string"),
                           3: ("group", "string"), 4: ("version", "string"),
                           5: ("resource", "string"), 6: ("subresource", "string"),
                           7: ("name", "string")},
    "NonResourceAttributes": {1: ("path", "string"), 2: ("verb", "string")},
    "SelfSubjectRulesReview": {1: ("metadata", M), 2: ("spec", "SelfSubjectRulesReviewSpec"),
                               3: ("status", "-")},
    "SelfSubjectRulesReviewSpec": {1: ("namespace", "string")},
    "DeleteOptions": {1: ("gracePeriodSeconds", "int"), 2: ("preconditions", "Preconditions"),
                      3: ("orphanDependents", "bool"), 4: ("propagationPolicy", "string"),
                      5: ("dryRun", "*string")},
    "Preconditions": {1: ("uid", "string"), 2: ("resourceVersion", "string")},
    "Eviction": {1: ("metadata", M), 2: ("deleteOptions", "DeleteOptions")},
    # policy/v1 (kubectl create poddisruptionbudget)
    "PodDisruptionBudget": {1: ("metadata", M), 2: ("spec", "PodDisruptionBudgetSpec"),
                            3: ("status", "-")},
    "PodDisruptionBudgetSpec": {1: ("minAvailable", "IntOrString"),
                                2: ("selector", "LabelSelector"),
                                3: ("maxUnavailable", "IntOrString"),
                                4: ("unhealthyPodEvictionPolicy", "string")},
    # autoscaling/v1 (kubectl autoscale)
    "HorizontalPodAutoscaler": {1: ("metadata", M), 2: ("spec", "HorizontalPodAutoscalerSpec"),
                                3: ("status", "-")},
    "HorizontalPodAutoscalerSpec": {1: ("scaleTargetRef", "CrossVersionObjectReference"),
                                    2: ("minReplicas", "int"), 3: ("maxReplicas", "int"),
                                    4: ("targetCPUUtilizationPercentage", "int")},
    "CrossVersionObjectReference": {1: ("kind", "string"), 2: ("name", "string"),
                                    3: ("apiVersion", "string")},
    # core/v1 (kubectl create quota)
    "ResourceQuota": {1: ("metadata", M), 2: ("spec", "ResourceQuotaSpec"), 3: ("status", "-")},
    "ResourceQuotaSpec": {1: ("hard", "map:Quantity"), 2: ("scopes", "*string"),
                          3: ("scopeSelector", "ScopeSelector")},
    "ScopeSelector": {1: ("matchExpressions", "*ScopedResourceSelectorRequirement")},
    "ScopedResourceSelectorRequirement": {1: ("scopeName", "string"), 2: ("operator", "string"),
                                          3: ("values", "*string")},
    # scheduling/v1 (kubectl create priorityclass)
    "PriorityClass": {1: ("metadata", M), 2: ("value", "int"), 3: ("globalDefault", "bool"),
                      4: ("description", "string"), 5: ("preemptionPolicy", "string")},
    "Binding": {1: ("metadata", M), 2: ("target", "ObjectReference")},
    "Scale": {1: ("metadata", M), 2: ("spec", "ScaleSpec"), 3: ("status", "-")},
    "ScaleSpec": {1: ("replicas", "int")},
    "Ingress": {1: ("metadata", M), 2: ("spec", "IngressSpec"), 3: ("status", "-")},
    "IngressSpec": {1: ("defaultBackend", "IngressBackend"), 2: ("tls", "*IngressTLS"),
                    3: ("rules", "*IngressRule"), 4: ("ingressClassName", "string")},
    "IngressBackend": {3: ("resource", "TypedLocalObjectReference"),
                       4: ("service", "IngressServiceBackend")},
    "IngressServiceBackend": {1: ("name", "string"), 2: ("port", "ServiceBackendPort")},
    "ServiceBackendPort": {1: ("name", "string"), 2: ("number", "int")},
    "TypedLocalObjectReference": {1: ("apiGroup", "string"), 2: ("kind", "string"),
                                  3: ("name", "string")},
    "IngressTLS": {1: ("hosts", "*string"), 2: ("secretName", "string")},
    # ingressRuleValue is inlined in JSON: its `http` sits in the rule itself
    "IngressRule": {1: ("host", "string"), 2: (INLINE, "IngressRuleValue")},
    "IngressRuleValue": {1: ("http", "HTTPIngressRuleValue")},
    "HTTPIngressRuleValue": {1: ("paths", "*HTTPIngressPath")},
    "HTTPIngressPath": {1: ("path", "string"), 2: ("backend", "IngressBackend"),
                        3: ("pathType", "string")},
}
# Pointer fields: an explicit zero or false is meant and kept.
KEEP_ZERO = {"replicas", "terminationGracePeriodSeconds", "activeDeadlineSeconds", "priority",
             "revisionHistoryLimit", "progressDeadlineSeconds", "gracePeriodSeconds",
             "deletionGracePeriodSeconds", "enableServiceLinks", "automountServiceAccountToken",
             "immutable", "allocateLoadBalancerNodePorts", "controller", "blockOwnerDeletion",
             "orphanDependents", "expirationSeconds", "parallelism", "completions",
             "backoffLimit", "ttlSecondsAfterFinished", "suspend", "manualSelector",
             "backoffLimitPerIndex", "maxFailedIndexes", "startingDeadlineSeconds",
             "successfulJobsHistoryLimit", "failedJobsHistoryLimit", "minReplicas",
             "targetCPUUtilizationPercentage",
             # Message.field: a zero that is meant only in that message
             "PriorityClass.value"}
# Top-level messages a client may send: the kinds above with an object's metadata, and
# the request bodies of subresources and deletes.
_REQUEST_BODIES = {"DeleteOptions", "Eviction", "Binding", "Scale"}
# Kinds whose messages above are one version's (v2 HorizontalPodAutoscalers number
# their spec's fields otherwise).
_ONLY_IN = {"HorizontalPodAutoscaler": "autoscaling/v1"}


def _is_top_level(kind: str) -> bool:
    return kind in _REQUEST_BODIES or SCHEMA.get(kind, {}).get(1) == ("metadata", M)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise BadRequest("the protobuf body is truncated")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise BadRequest("the protobuf body has a malformed varint")


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, raw value) of each field in a message."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    value: Any
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
            if pos > len(data):
                raise BadRequest("the protobuf body is truncated")
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise BadRequest(f"the protobuf body has an unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(kind: str, wire: int, value: Any) -> Any:
    if kind in ("int", "bool"):
        if wire != 0:
            raise BadRequest(f"the protobuf body has a {kind} with wire type {wire}")
        return bool(value) if kind == "bool" else _signed(value)
    if wire != 2:  # strings, bytes and messages are length-delimited (a varint here
        # would have been taken for a length to allocate)
        raise BadRequest(f"the protobuf body has a {kind} with wire type {wire}")
    if kind == "string":
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("the protobuf body has a string that is not UTF-8") from None
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode()
    return _special(kind, bytes(value))


# the wire types of the small messages JSON shows as one value
_VALUE_FIELDS = {"Time": {1: "int", 2: "int"}, "Quantity": {1: "string"},
                 "IntOrString": {1: "int", 2: "int", 3: "string"}}


def _special(kind: str, data: bytes) -> Any:
    types = _VALUE_FIELDS.get(kind)
    if types is None:
        return decode_message(kind, data)
    fields = {n: _scalar(types[n], wire, v) for n, wire, v in _fields(data) if n in types}
    if kind == "Time":
        seconds = fields.get(1, 0)
        if seconds in (0, _GO_ZERO_TIME):
            return None
        try:
            when = _dt.datetime.fromtimestamp(seconds, _dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise BadRequest("the protobuf body has a time out of range") from None
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "Quantity":
        return fields.get(1, "")
    return fields.get(2, 0) if fields.get(1, 0) == 0 else fields.get(3, "")


def _map_entry(value_kind: str, data: bytes) -> tuple[str, Any]:
    key, value = "", _empty(value_kind)
    for number, wire, raw in _fields(data):
        if number == 1:
            key = _scalar("string", wire, raw)
        elif number == 2:
            value = _scalar(value_kind, wire, raw)
    return key, value


def _empty(kind: str) -> Any:
    return {"string": "", "bytes": "", "int": 0, "bool": False}.get(kind, {})


def decode_message(name: str, data: bytes) -> dict[str, Any]:
    """One message as its JSON-shaped dict; 415 for a field we do not know."""
    schema = SCHEMA.get(name)
    if schema is None:
        raise UnsupportedMediaType(f"protobuf message {name} is not supported; send JSON")
    out: dict[str, Any] = {}
    for number, wire, raw in _fields(data):
        spec = schema.get(number)
        if spec is None:
            if not raw:  # an empty field Go wrote anyway
                continue
            raise UnsupportedMediaType(f"protobuf field {number} of {name} is not supported; "
                                       "send JSON")
        field, kind = spec
        if kind == "-":
            continue
        if kind.startswith("map:"):
            key, value = _map_entry(kind[4:], raw)
            out.setdefault(field, {})[key] = value
        elif kind.startswith("*"):
            item_kind = kind[1:]
            items = out.setdefault(field, [])
            if item_kind == "int" and wire == 2:  # packed
                pos = 0
                while pos < len(raw):
                    value, pos = _varint(raw, pos)
                    items.append(_signed(value))
            else:
                items.append(_scalar(item_kind, wire, raw))
        else:
            value = _scalar(kind, wire, raw)
            if field == INLINE and isinstance(value, dict):
                out.update(value)
                continue
            if value is None or (value in ("", 0, False) and field not in KEEP_ZERO
                                 and f"{name}.{field}" not in KEEP_ZERO
                                 and not isinstance(value, dict)):
                continue
            out[field] = value
    return out


def decode(body: bytes) -> dict[str, Any]:
    """A protobuf request body as the object it carries (kind and apiVersion set)."""
    if not body.startswith(MAGIC):
        raise BadRequest("the protobuf body does not start with the Kubernetes magic number")
    envelope = decode_message("Unknown", body[len(MAGIC):])
    type_meta = envelope.get("typeMeta") or {}
    kind, api_version = type_meta.get("kind", ""), type_meta.get("apiVersion", "")
    if not _is_top_level(kind) or _ONLY_IN.get(kind, api_version) != api_version:
        raise UnsupportedMediaType(f"protobuf bodies of kind {kind or '(none)'} are not "
                                   "supported; send JSON")
    raw = base64.b64decode(envelope.get("raw", ""))
    obj = decode_message(kind, raw)
    obj["kind"], obj["apiVersion"] = kind, api_version
    return obj
