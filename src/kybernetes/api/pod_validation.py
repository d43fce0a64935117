"""Validation of pods and of the pod templates in ReplicationControllers,
ReplicaSets and Deployments (pkg/apis/core/validation ValidatePodSpec and
ValidatePodUpdate, pkg/apis/apps/validation), with Kubernetes' paths and wording.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kybernetes.api import meta as names
from kybernetes.api.errors import BadRequest
from kybernetes.api.field_errors import (
    PROTOCOLS,
    ErrorList,
    Obj,
    as_dict,
    as_list,
    label_selector_errors,
    validate_labels,
)
from kybernetes.api.labels import from_label_selector, selector_from_map
from kybernetes.api.pod_placement_validation import validate_pod_placement
from kybernetes.api.quantity import parse_quantity

_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_UPDATABLE_POD_FIELDS = (
    "`spec.containers[*].image`", "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`", "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")


# --- pods --------------------------------------------------------------------------------

def _validate_ports(errs: ErrorList, ports: Any, path: str, *, host_network: bool) -> None:
    seen_names: set[str] = set()
    for i, port in enumerate(as_list(ports)):
        port, p = as_dict(port), f"{path}[{i}]"
        name = port.get("name")
        if name:
            errs.each(f"{p}.name", name, names.is_valid_port_name(name))
            if name in seen_names:
                errs.duplicate(f"{p}.name", name)
            seen_names.add(name)
        container_port = port.get("containerPort")
        errs.required_valid(f"{p}.containerPort", container_port, names.is_valid_port_num)
        host_port = port.get("hostPort")
        if host_port:
            errs.each(f"{p}.hostPort", host_port, names.is_valid_port_num(host_port))
            if host_network and host_port != container_port:
                errs.invalid(f"{p}.hostPort", host_port,
                             "must match `containerPort` when `hostNetwork` is true")
        errs.one_of(f"{p}.protocol", port.get("protocol"), PROTOCOLS)


def _validate_resources(errs: ErrorList, resources: Any, path: str) -> None:
    resources = as_dict(resources)
    parsed: dict[str, dict[str, Any]] = {}
    for kind in ("limits", "requests"):
        parsed[kind] = {}
        for name, value in as_dict(resources.get(kind)).items():
            try:
                parsed[kind][name] = parse_quantity(value)
            except (ValueError, TypeError) as e:
                errs.invalid(f"{path}.{kind}[{name}]", value, str(e))
                continue
            if parsed[kind][name] < 0:
                errs.invalid(f"{path}.{kind}[{name}]", value,
                             "must be greater than or equal to 0")
    for name, request in parsed["requests"].items():
        limit = parsed["limits"].get(name)
        if limit is not None and request > limit:
            errs.invalid(f"{path}.requests", resources["requests"][name],
                         f"must be less than or equal to {name} limit of "
                         f"{resources['limits'][name]}")


def _validate_probe(errs: ErrorList, probe: Any, path: str) -> None:
    if probe is None:
        return
    probe = as_dict(probe)
    handlers = [k for k in ("exec", "httpGet", "tcpSocket", "grpc") if probe.get(k) is not None]
    if not handlers:
        errs.required(path, "must specify a handler type")
    elif len(handlers) > 1:
        errs.forbidden(f"{path}.{handlers[1]}", "may not specify more than 1 handler type")
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
                "failureThreshold"):
        errs.non_negative(f"{path}.{key}", probe.get(key))


def _validate_container(errs: ErrorList, c: Obj, path: str, *, volumes: set[str],
                        host_network: bool, init: bool) -> None:
    image = c.get("image")
    if not image:
        errs.required(f"{path}.image")
    elif image != image.strip():
        errs.invalid(f"{path}.image", image, "must not have leading or trailing whitespace")
    errs.one_of(f"{path}.imagePullPolicy", c.get("imagePullPolicy"), _PULL_POLICIES)
    errs.one_of(f"{path}.terminationMessagePolicy", c.get("terminationMessagePolicy"),
                ("File", "FallbackToLogsOnError"))
    _validate_ports(errs, c.get("ports"), f"{path}.ports", host_network=host_network)
    _validate_env(errs, c.get("env"), f"{path}.env")
    for i, mount in enumerate(as_list(c.get("volumeMounts"))):
        mount, p = as_dict(mount), f"{path}.volumeMounts[{i}]"
        if not mount.get("name"):
            errs.required(f"{p}.name")
        elif mount["name"] not in volumes:
            errs.not_found(f"{p}.name", mount["name"])
        if not mount.get("mountPath"):
            errs.required(f"{p}.mountPath")
    _validate_resources(errs, c.get("resources"), f"{path}.resources")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _validate_probe(errs, c.get(probe), f"{path}.{probe}")
        threshold = as_dict(c.get(probe)).get("successThreshold")
        if probe != "readinessProbe" and threshold not in (None, 1):
            errs.invalid(f"{path}.{probe}.successThreshold", threshold, "must be 1")
    policy = c.get("restartPolicy")
    if policy is not None:
        if not init:
            errs.forbidden(f"{path}.restartPolicy", "may not be set for non-init containers")
        elif policy != "Always":
            errs.not_supported(f"{path}.restartPolicy", policy, ("Always",))


def _validate_env(errs: ErrorList, env: Any, path: str) -> None:
    for i, var in enumerate(as_list(env)):
        var, p = as_dict(var), f"{path}[{i}]"
        errs.required_valid(f"{p}.name", var.get("name"), names.is_env_var_name)
        value_from = var.get("valueFrom")
        if value_from is None:
            continue
        if var.get("value"):
            errs.invalid(f"{p}.valueFrom", "", "may not be specified when `value` is not empty")
        sources = [k for k, v in as_dict(value_from).items() if v is not None]
        if not sources:
            errs.invalid(f"{p}.valueFrom", "", "must specify one of: `fieldRef`, "
                         "`resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`")
        elif len(sources) > 1:
            errs.invalid(f"{p}.valueFrom", "", "may not have more than one field specified at "
                                               "a time")


_HOST_PATH_TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket",
                    "CharDevice", "BlockDevice")
_REQUIRED_SOURCE_FIELDS = {"hostPath": "path", "configMap": "name", "secret": "secretName",
                           "persistentVolumeClaim": "claimName", "nfs": "server"}


def _validate_volume_source(errs: ErrorList, volume: Obj, path: str) -> None:
    """Exactly one source, and the fields each common source needs."""
    sources = [k for k, v in volume.items() if k != "name" and v is not None]
    if not sources:
        errs.required(path, "must specify a volume type")
        return
    if len(sources) > 1:
        errs.forbidden(f"{path}.{sources[1]}", "may not specify more than 1 volume type")
    for source in sources:
        field = _REQUIRED_SOURCE_FIELDS.get(source)
        if field and not as_dict(volume[source]).get(field):
            errs.required(f"{path}.{source}.{field}")
    host_path = as_dict(volume.get("hostPath"))
    if host_path.get("type") not in (None, *_HOST_PATH_TYPES):
        errs.not_supported(f"{path}.hostPath.type", host_path["type"], _HOST_PATH_TYPES[1:])


def _validate_volumes(errs: ErrorList, volumes: Any, path: str) -> set[str]:
    seen: set[str] = set()
    for i, volume in enumerate(as_list(volumes)):
        volume = as_dict(volume)
        name = volume.get("name")
        if not name:
            errs.required(f"{path}[{i}].name")
            continue
        errs.each(f"{path}[{i}].name", name, names.is_dns1123_label(name))
        if name in seen:
            errs.duplicate(f"{path}[{i}].name", name)
        seen.add(name)
        _validate_volume_source(errs, volume, f"{path}[{i}]")
    return seen


# What an ephemeral container (kubectl debug) may not have: nothing the pod relies on.
_NOT_EPHEMERAL = ("ports", "resources", "livenessProbe", "readinessProbe", "startupProbe",
                  "lifecycle", "resizePolicy", "restartPolicy")


def _validate_ephemeral(errs: ErrorList, c: Obj, path: str, *, targets: set[Any]) -> None:
    """validateEphemeralContainers: kube's allow-list of fields, no subPath mounts, and
    a target that is one of the pod's other containers."""
    for field in _NOT_EPHEMERAL:
        value = c.get(field)
        if value and not (field == "resources" and not any(as_dict(value).values())):
            errs.forbidden(f"{path}.{field}", "cannot be set for an Ephemeral Container")
    for i, mount in enumerate(as_list(c.get("volumeMounts"))):
        for field in ("subPath", "subPathExpr"):
            if as_dict(mount).get(field):
                errs.forbidden(f"{path}.volumeMounts[{i}].{field}",
                               "cannot be set for an Ephemeral Container")
    target = c.get("targetContainerName")
    if target and target not in targets:
        errs.not_found(f"{path}.targetContainerName", target)


def validate_pod_spec(errs: ErrorList, spec: Any, path: str) -> None:
    """ValidatePodSpec for the fields kybernetes runs."""
    spec = as_dict(spec)
    volumes = _validate_volumes(errs, spec.get("volumes"), f"{path}.volumes")
    host_network = bool(spec.get("hostNetwork"))
    seen: set[str] = set()
    if not as_list(spec.get("containers")):
        errs.required(f"{path}.containers")
    pod_containers = {as_dict(c).get("name") for field in ("initContainers", "containers")
                      for c in as_list(spec.get(field))}
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for i, container in enumerate(as_list(spec.get(field))):
            container, p = as_dict(container), f"{path}.{field}[{i}]"
            name = container.get("name")
            if not name:
                errs.required(f"{p}.name")
            else:
                errs.each(f"{p}.name", name, names.is_dns1123_label(name))
                if name in seen:
                    errs.duplicate(f"{p}.name", name)
                seen.add(name)
            if field == "ephemeralContainers":  # it may target only a pod's own container
                _validate_ephemeral(errs, container, p, targets=pod_containers)
            _validate_container(errs, container, p, volumes=volumes, host_network=host_network,
                                init=field == "initContainers")
    errs.one_of(f"{path}.restartPolicy", spec.get("restartPolicy"), _RESTART_POLICIES)
    errs.one_of(f"{path}.dnsPolicy", spec.get("dnsPolicy"), _DNS_POLICIES)
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not (isinstance(deadline, int) and 1 <= deadline <= 2**31 - 1):
        errs.invalid(f"{path}.activeDeadlineSeconds", deadline,
                     "must be between 1 and 2147483647, inclusive")
    for key in ("nodeName", "serviceAccountName"):
        if spec.get(key):
            errs.each(f"{path}.{key}", spec[key], names.is_dns1123_subdomain(spec[key]))
    validate_labels(errs, spec.get("nodeSelector"), f"{path}.nodeSelector")
    validate_pod_placement(errs, spec, path)


def _munged_pod_spec(new: Obj, old: Obj) -> Obj:
    """`new` with the fields a pod update may change copied from `old`."""
    munged = json.loads(json.dumps(new))
    for field in ("containers", "initContainers"):
        old_list, new_list = as_list(old.get(field)), as_list(munged.get(field))
        if len(old_list) == len(new_list):
            for old_c, new_c in zip(old_list, new_list, strict=True):
                if isinstance(new_c, dict) and isinstance(old_c, dict):
                    new_c["image"] = old_c.get("image")
    fields = ["activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"]
    if not old.get("nodeName"):
        # Binding sets nodeName once; the API server validates that write as an update.
        fields.append("nodeName")
    for field in fields:
        if field in old:
            munged[field] = old[field]
        else:
            munged.pop(field, None)
    return munged


def _validate_pod_update(errs: ErrorList, new: Obj, old: Obj) -> None:
    spec, old_spec = as_dict(new.get("spec")), as_dict(old.get("spec"))
    munged = _munged_pod_spec(spec, old_spec)
    if munged != old_spec:
        changed = sorted(k for k in set(munged) | set(old_spec) if munged.get(k) != old_spec.get(k))
        errs.forbidden("spec", "pod updates may not change fields other than "
                               + ",".join(_UPDATABLE_POD_FIELDS)
                               + "\n  changed: " + ", ".join(f"spec.{k}" for k in changed))
    old_deadline = old_spec.get("activeDeadlineSeconds")
    deadline = spec.get("activeDeadlineSeconds")
    if old_deadline is not None and (deadline is None or deadline > old_deadline):
        errs.invalid("spec.activeDeadlineSeconds", deadline,
                     "must be less than or equal to previous value")
    old_tolerations = as_list(old_spec.get("tolerations"))
    if any(t not in as_list(spec.get("tolerations")) for t in old_tolerations):
        errs.forbidden("spec.tolerations", "existing toleration can not be modified except "
                                           "its tolerationSeconds")


def validate_pod(errs: ErrorList, pod: Obj, old: Obj | None) -> None:
    validate_pod_spec(errs, pod.get("spec"), "spec")
    if old is not None:
        _validate_pod_update(errs, pod, old)


def validate_ephemeral_containers_update(errs: ErrorList, pod: Obj, old: Obj | None) -> None:
    """ValidatePodEphemeralContainersUpdate: the spec as a whole, then existing ephemeral
    containers neither removed nor changed (only new ones may be added)."""
    validate_pod_spec(errs, pod.get("spec"), "spec")
    old = old or {}
    if names.MIRROR_POD_ANNOTATION in as_dict(as_dict(old.get("metadata")).get("annotations")):
        errs.forbidden("", "static pods do not support ephemeral containers")
        return
    sent = {as_dict(c).get("name"): c
            for c in as_list(as_dict(pod.get("spec")).get("ephemeralContainers"))}
    for before in as_list(as_dict(old.get("spec")).get("ephemeralContainers")):
        name = as_dict(before).get("name")
        if name not in sent:
            errs.forbidden("spec.ephemeralContainers",
                           f'existing ephemeral containers "{name}" may not be removed\n')
        elif sent[name] != before:
            errs.forbidden("spec.ephemeralContainers",
                           f'existing ephemeral containers "{name}" may not be changed\n')


# --- workloads ---------------------------------------------------------------------------

def _validate_template(errs: ErrorList, template: Any, path: str, selector_matches: Callable[
        [dict[str, str]], bool] | None) -> None:
    if not isinstance(template, dict):
        errs.required(path)
        return
    labels = as_dict(as_dict(template.get("metadata")).get("labels"))
    if selector_matches is not None and not selector_matches(labels):
        errs.invalid(f"{path}.metadata.labels", labels,
                     "`selector` does not match template `labels`")
    validate_labels(errs, labels, f"{path}.metadata.labels")
    validate_pod_spec(errs, template.get("spec"), f"{path}.spec")
    policy = as_dict(template.get("spec")).get("restartPolicy")
    if policy and policy != "Always":
        errs.not_supported(f"{path}.spec.restartPolicy", policy, ("Always",))


def validate_rc(errs: ErrorList, rc: Obj, old: Obj | None) -> None:
    spec = as_dict(rc.get("spec"))
    selector = spec.get("selector")
    if not selector:
        errs.required("spec.selector")
    else:
        validate_labels(errs, selector, "spec.selector")
    errs.non_negative("spec.replicas", spec.get("replicas"))
    errs.non_negative("spec.minReadySeconds", spec.get("minReadySeconds"))
    matcher = selector_from_map(selector).matches if selector else None
    _validate_template(errs, spec.get("template"), "spec.template", matcher)


def validate_label_selector(errs: ErrorList, selector: Any, path: str, kind: str,
                            empty: str = "empty selector is invalid for {kind}") -> bool:
    """A workload's required, non-empty LabelSelector; False when it cannot be used."""
    if not isinstance(selector, dict):
        errs.required(path)
        return False
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        errs.invalid(path, selector, empty.format(kind=kind))
        return False
    errs.causes.extend(label_selector_errors(selector, path, check_values=False))
    return True


def validate_apps(errs: ErrorList, obj: Obj, old: Obj | None, kind: str) -> None:
    spec = as_dict(obj.get("spec"))
    selector = spec.get("selector")
    matcher = None
    if validate_label_selector(errs, selector, "spec.selector", kind):
        try:
            matcher = from_label_selector(selector).matches
        except BadRequest:  # reported by the checks above
            matcher = None
    for key in ("replicas", "minReadySeconds", "revisionHistoryLimit"):
        errs.non_negative(f"spec.{key}", spec.get(key))
    _validate_template(errs, spec.get("template"), "spec.template", matcher)
    if kind == "daemonset":
        _validate_daemon_set_spec(errs, spec)
    if kind == "deployment":
        _validate_strategy(errs, as_dict(spec.get("strategy")))
        deadline, min_ready = spec.get("progressDeadlineSeconds"), spec.get("minReadySeconds", 0)
        if isinstance(deadline, int) and isinstance(min_ready, int) and deadline <= min_ready:
            errs.invalid("spec.progressDeadlineSeconds", deadline,
                         "must be greater than minReadySeconds")
    if old is not None and as_dict(old.get("spec")).get("selector") != selector:
        errs.invalid("spec.selector", selector, "field is immutable")


def _int_or_percent(errs: ErrorList, value: Any, path: str) -> int | None:
    """Validate an int-or-percent; returns the value as a number for comparisons."""
    if isinstance(value, int) and not isinstance(value, bool):
        errs.non_negative(path, value)
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        if int(value[:-1]) > 100:
            errs.invalid(path, value, "must not be greater than 100%")
        return int(value[:-1])
    errs.invalid(path, value, "a valid percent string must be a numeric string followed by an "
                              "ending '%' (e.g. '1%',  or '93%', regex used for validation is "
                              "'[0-9]+%')")
    return None


def _validate_daemon_set_spec(errs: ErrorList, spec: Obj) -> None:
    """ValidateDaemonSetSpec beyond the shared workload checks."""
    deadline = as_dict(as_dict(spec.get("template")).get("spec")).get("activeDeadlineSeconds")
    if deadline is not None:
        errs.invalid("spec.template.spec.activeDeadlineSeconds", deadline,
                     "activeDeadlineSeconds in DaemonSet is not Supported")
    errs.non_negative("spec.templateGeneration", spec.get("templateGeneration"))
    strategy = as_dict(spec.get("updateStrategy"))
    kind = strategy.get("type")
    if kind == "OnDelete":
        return
    if kind != "RollingUpdate":
        errs.not_supported("spec.updateStrategy", strategy, ("RollingUpdate", "OnDelete"))
        return
    rolling = strategy.get("rollingUpdate")
    p = "spec.updateStrategy.rollingUpdate"
    if not isinstance(rolling, dict):
        errs.required(p)
        return
    unavailable = _int_or_percent(errs, rolling.get("maxUnavailable", 1), f"{p}.maxUnavailable")
    surge = _int_or_percent(errs, rolling.get("maxSurge", 0), f"{p}.maxSurge")
    if unavailable == 0 and surge == 0:
        errs.invalid(f"{p}.maxUnavailable", rolling.get("maxUnavailable"),
                     "may not be 0 when `maxSurge` is 0")


def _validate_strategy(errs: ErrorList, strategy: Obj) -> None:
    kind = strategy.get("type")
    errs.one_of("spec.strategy.type", kind, ("Recreate", "RollingUpdate"))
    rolling = strategy.get("rollingUpdate")
    if kind == "Recreate" and rolling is not None:
        errs.forbidden("spec.strategy.rollingUpdate",
                       "may not be specified when strategy `type` is 'Recreate'")
    if kind == "RollingUpdate" and isinstance(rolling, dict):
        p = "spec.strategy.rollingUpdate"
        unavailable = _int_or_percent(errs, rolling.get("maxUnavailable", "25%"),
                                      f"{p}.maxUnavailable")
        surge = _int_or_percent(errs, rolling.get("maxSurge", "25%"), f"{p}.maxSurge")
        if unavailable == 0 and surge == 0:
            errs.invalid(f"{p}.maxUnavailable", rolling.get("maxUnavailable"),
                         "may not be 0 when `maxSurge` is 0")
