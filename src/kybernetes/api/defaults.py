"""Defaulting, as Kubernetes applies it to the kinds we serve.

Follows pkg/apis/core/v1/defaults.go and pkg/apis/apps/v1/defaults.go, plus the
few fields that Kubernetes' default admission plugins fill on a Pod (priority,
service account, the not-ready/unreachable tolerations), because clients see
them on every pod. Defaults only fill what is missing, so applying them twice
gives the same object; every function mutates in place. Each kind's definition
(apiserver/kinds/) names the function that defaults its objects.

A pod template (RC, ReplicaSet, Deployment) gets the PodSpec and Container
defaults but not the pod-only ones, exactly as in Kubernetes
(`SetDefaults_Pod` vs `SetDefaults_PodSpec`).
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_TERMINATION_GRACE_PERIOD = 30
DEFAULT_CLIENT_IP_TIMEOUT = 10800
TOLERATION_SECONDS = 300
_NOT_READY_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def _dict(parent: Obj, key: str) -> Obj:
    """The dict at `key`, created when missing; a value of another type is left alone
    (validation reports it) and a detached dict is returned to fill instead."""
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    return value if isinstance(value, dict) else {}


def _list(parent: Obj, key: str) -> list[Any]:
    """The dict items of list `key` (anything of another type is validation's to report)."""
    value = parent.get(key) if isinstance(parent, dict) else None
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def image_pull_policy(image: str) -> str:
    """`Always` for `:latest` or an untagged image, else `IfNotPresent`."""
    if "@" in image:
        return "IfNotPresent"
    name = image.rsplit("/", 1)[-1]
    tag = name.split(":", 1)[1] if ":" in name else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                       ("failureThreshold", 3)):
        probe.setdefault(key, value)
    http = probe.get("httpGet")
    if isinstance(http, dict):
        http.setdefault("path", "/")
        http.setdefault("scheme", "HTTP")


def _container(container: Any) -> None:
    if not isinstance(container, dict):
        return
    if isinstance(container.get("image"), str) and not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = image_pull_policy(container["image"])
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in _list(container, "ports"):
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for env in _list(container, "env"):
        value_from = env.get("valueFrom")
        field_ref = value_from.get("fieldRef") if isinstance(value_from, dict) else None
        if isinstance(field_ref, dict):
            field_ref.setdefault("apiVersion", "v1")
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(container.get(key))


def _volume(volume: Any) -> None:
    if not isinstance(volume, dict):
        return
    for source in ("configMap", "secret", "projected", "downwardAPI"):
        if isinstance(volume.get(source), dict):
            volume[source].setdefault("defaultMode", 420)
    if isinstance(volume.get("hostPath"), dict):
        volume["hostPath"].setdefault("type", "")
    if not any(k != "name" for k in volume):
        volume["emptyDir"] = {}


def _host_network_ports(spec: Obj) -> None:
    for container in (*_list(spec, "initContainers"), *_list(spec, "containers")):
        for port in _list(container, "ports"):
            if isinstance(port, dict) and not port.get("hostPort") and "containerPort" in port:
                port["hostPort"] = port["containerPort"]


def pod_spec_defaults(spec: Obj) -> None:
    """SetDefaults_PodSpec and everything nested (containers, volumes, probes)."""
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", "Always")
    if not isinstance(spec.get("securityContext"), dict):
        spec["securityContext"] = {}
    spec.setdefault("terminationGracePeriodSeconds", DEFAULT_TERMINATION_GRACE_PERIOD)
    spec.setdefault("schedulerName", DEFAULT_SCHEDULER)
    if spec.get("hostNetwork"):
        _host_network_ports(spec)
    for container in (*_list(spec, "initContainers"), *_list(spec, "containers"),
                      *_list(spec, "ephemeralContainers")):
        _container(container)
    for volume in _list(spec, "volumes"):
        _volume(volume)


def _requests_from_limits(spec: Obj) -> None:
    for container in (*_list(spec, "initContainers"), *_list(spec, "containers")):
        resources = container.get("resources")
        if not isinstance(resources, dict) or not isinstance(resources.get("limits"), dict):
            continue
        requests = _dict(resources, "requests")
        for name, value in resources["limits"].items():
            requests.setdefault(name, value)


def qos_class(spec: Obj) -> str:
    """Guaranteed, Burstable or BestEffort, from the containers' requests and limits."""
    containers = [c for c in (*_list(spec, "initContainers"), *_list(spec, "containers"))
                  if isinstance(c, dict)]
    any_set, guaranteed = False, True
    for container in containers:
        resources = _dict(dict(container), "resources")
        requests, limits = _dict(dict(resources), "requests"), _dict(dict(resources), "limits")
        if requests or limits:
            any_set = True
        for name in ("cpu", "memory"):
            if name not in limits or str(requests.get(name, limits[name])) != str(limits[name]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _default_tolerations(spec: Obj) -> None:
    tolerations = spec.get("tolerations")
    if tolerations is None:
        tolerations = []
    if not isinstance(tolerations, list):
        return
    for key in _NOT_READY_TAINTS:
        if any(isinstance(t, dict) and t.get("key") == key and t.get("effect") in (None, "",
               "NoExecute") for t in tolerations):
            continue
        tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                            "tolerationSeconds": TOLERATION_SECONDS})
    spec["tolerations"] = tolerations


def pod_defaults(pod: Obj) -> None:
    """A Pod: PodSpec defaults, SetDefaults_Pod, and the DefaultTolerationSeconds
    plugin's tolerations (the Priority plugin sets the priority)."""
    spec = _dict(pod, "spec")
    _requests_from_limits(spec)
    pod_spec_defaults(spec)
    spec.setdefault("enableServiceLinks", True)
    if "serviceAccountName" not in spec and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    spec.setdefault("serviceAccountName", "default")
    spec["serviceAccount"] = spec["serviceAccountName"]
    _default_tolerations(spec)
    # The phase is the strategy's to set on create (Pending), never a default: a status
    # write without one must not turn a Failed pod back into a Pending one.
    status = _dict(pod, "status")
    status.setdefault("qosClass", qos_class(spec))
    # As the v1 conversion does: the plural field follows the singular one.
    if status.get("podIP") and not status.get("podIPs"):
        status["podIPs"] = [{"ip": status["podIP"]}]
    if status.get("hostIP") and not status.get("hostIPs"):
        status["hostIPs"] = [{"ip": status["hostIP"]}]


def template_defaults(spec: Obj) -> None:
    template = spec.get("template")
    if isinstance(template, dict):
        pod_spec_defaults(_dict(template, "spec"))
        _requests_from_limits(template["spec"])


def replication_controller_defaults(rc: Obj) -> None:
    spec = _dict(rc, "spec")
    template = spec.get("template")
    metadata = template.get("metadata") if isinstance(template, dict) else None
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    if isinstance(labels, dict) and labels:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        metadata = _dict(rc, "metadata")
        if not metadata.get("labels"):
            metadata["labels"] = dict(labels)
    spec.setdefault("replicas", 1)
    template_defaults(spec)


def replica_set_defaults(rs: Obj) -> None:
    spec = _dict(rs, "spec")
    spec.setdefault("replicas", 1)
    template_defaults(spec)


def deployment_defaults(deployment: Obj) -> None:
    spec = _dict(deployment, "spec")
    spec.setdefault("replicas", 1)
    strategy = _dict(spec, "strategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    template_defaults(spec)


def daemon_set_defaults(ds: Obj) -> None:
    """SetDefaults_DaemonSet: RollingUpdate 1 unavailable / 0 surge, 10 revisions kept."""
    spec = _dict(ds, "spec")
    strategy = _dict(spec, "updateStrategy")
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        rolling.setdefault("maxUnavailable", 1)
        rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    template_defaults(spec)


def service_defaults(service: Obj) -> None:
    spec = _dict(service, "spec")
    spec.setdefault("sessionAffinity", "None")
    spec.setdefault("type", "ClusterIP")
    kind = spec["type"]
    for port in _list(spec, "ports"):
        if not isinstance(port, dict):
            continue
        port.setdefault("protocol", "TCP")
        if port.get("targetPort") in (None, 0, "") and "port" in port:
            port["targetPort"] = port["port"]
    if spec["sessionAffinity"] == "ClientIP":
        client_ip = _dict(_dict(spec, "sessionAffinityConfig"), "clientIP")
        client_ip.setdefault("timeoutSeconds", DEFAULT_CLIENT_IP_TIMEOUT)
    if kind in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    if kind != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("ipFamilies", ["IPv4"])
    _dict(service, "status").setdefault("loadBalancer", {})


def namespace_defaults(namespace: Obj) -> None:
    metadata = _dict(namespace, "metadata")
    if metadata.get("name"):
        _dict(metadata, "labels").setdefault("kubernetes.io/metadata.name", metadata["name"])
    spec = _dict(namespace, "spec")
    spec.setdefault("finalizers", ["kubernetes"])
    _dict(namespace, "status").setdefault("phase", "Active")


def secret_defaults(secret: Obj) -> None:
    secret.setdefault("type", "Opaque")


def node_defaults(node: Obj) -> None:
    spec = _dict(node, "spec")
    if spec.get("podCIDR") and not spec.get("podCIDRs"):
        spec["podCIDRs"] = [spec["podCIDR"]]
    status = node.get("status")
    if isinstance(status, dict) and "allocatable" not in status and \
            isinstance(status.get("capacity"), dict):
        status["allocatable"] = dict(status["capacity"])


def endpoints_defaults(endpoints: Obj) -> None:
    for subset in _list(endpoints, "subsets"):
        for port in _list(subset, "ports"):
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
