"""Validation of the served kinds, with Kubernetes' field paths and messages.

`validate(resource, obj, old=None)` returns a list of causes `(field, reason,
message)`; the API server turns a non-empty list into a 422 Invalid Status
through `errors.invalid`. Messages are worded as apimachinery's field.Error
body (`Required value`, `Invalid value: "Foo": <why>`, `Unsupported value:
"Sometimes": supported values: "Always", "OnFailure", "Never"`, …) because
kubectl prints them verbatim, and the rules are those of
pkg/apis/core/validation and pkg/apis/apps/validation for what we serve.
Defaults are applied before validation, as in Kubernetes.

An `_Errs` collector carries the path; one small function per object part.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from collections.abc import Callable, Iterable
from typing import Any

from kybernetes.api import meta as names
from kybernetes.api.errors import BadRequest
from kybernetes.api.labels import from_label_selector, selector_from_map
from kybernetes.api.quantity import parse_quantity
from kybernetes.api.resources import Resource

Cause = tuple[str, str, str]
Obj = dict[str, Any]

REQUIRED, INVALID = "FieldValueRequired", "FieldValueInvalid"
NOT_SUPPORTED, DUPLICATE = "FieldValueNotSupported", "FieldValueDuplicate"
FORBIDDEN, TOO_LONG, NOT_FOUND = "FieldValueForbidden", "FieldValueTooLong", "FieldValueNotFound"

_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_PROTOCOLS = ("SCTP", "TCP", "UDP")
_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_STANDARD_FINALIZERS = ("kubernetes", "orphan", "foregroundDeletion")
_UPDATABLE_POD_FIELDS = (
    "`spec.containers[*].image`", "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`", "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")
_MAX_ANNOTATIONS_BYTES = 256 * 1024
_MAX_CONFIG_BYTES = 1024 * 1024


def format_value(value: Any) -> str:
    """A bad value as Go's field.Error prints it (%q for strings, %#v for maps)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        body = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(value.items()))
        return "map[string]string{" + body + "}"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[]string{" + ", ".join(json.dumps(v) for v in value) + "}"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class _Errs:
    """Collects causes; methods mirror apimachinery's field.Required/Invalid/…"""

    def __init__(self) -> None:
        self.causes: list[Cause] = []

    def required(self, path: str, detail: str = "") -> None:
        self.causes.append((path, REQUIRED, "Required value" + (f": {detail}" if detail else "")))

    def invalid(self, path: str, value: Any, detail: str) -> None:
        self.causes.append((path, INVALID, f"Invalid value: {format_value(value)}: {detail}"))

    def not_supported(self, path: str, value: Any, supported: Iterable[str]) -> None:
        allowed = ", ".join(json.dumps(s) for s in supported)
        self.causes.append((path, NOT_SUPPORTED,
                            f"Unsupported value: {format_value(value)}: supported values: "
                            f"{allowed}"))

    def duplicate(self, path: str, value: Any) -> None:
        self.causes.append((path, DUPLICATE, f"Duplicate value: {format_value(value)}"))

    def forbidden(self, path: str, detail: str) -> None:
        self.causes.append((path, FORBIDDEN, f"Forbidden: {detail}"))

    def too_long(self, path: str, limit: int) -> None:
        self.causes.append((path, TOO_LONG, f"Too long: may not be more than {limit} bytes"))

    def not_found(self, path: str, value: Any) -> None:
        self.causes.append((path, NOT_FOUND, f"Not found: {format_value(value)}"))

    def each(self, path: str, value: Any, messages: list[str]) -> None:
        for message in messages:
            self.invalid(path, value, message)

    def one_of(self, path: str, value: Any, supported: tuple[str, ...]) -> None:
        if value in (None, ""):
            self.required(path)
        elif value not in supported:
            self.not_supported(path, value, supported)

    def non_negative(self, path: str, value: Any) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            self.invalid(path, value, "must be greater than or equal to 0")

    def immutable(self, path: str, new: Any, old: Any) -> None:
        if new != old:
            self.invalid(path, new, "field is immutable")


def _d(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# --- metadata ----------------------------------------------------------------------------

NameCheck = Callable[[str], list[str]]


def _mask_trailing_dash(name: str) -> str:
    return name[:-1] + "a" if len(name) > 1 and name.endswith("-") else name


def validate_labels(errs: _Errs, labels: Any, path: str) -> None:
    for key, value in _d(labels).items():
        errs.each(path, key, names.is_qualified_name(key))
        if not isinstance(value, str):
            errs.invalid(path, value, "label values must be strings")
        else:
            errs.each(path, value, names.is_valid_label_value(value))


def _validate_annotations(errs: _Errs, annotations: Any, path: str) -> None:
    total = 0
    for key, value in _d(annotations).items():
        errs.each(path, key, names.is_qualified_name(key.lower()))
        total += len(key) + len(str(value))
    if total > _MAX_ANNOTATIONS_BYTES:
        errs.too_long(path, _MAX_ANNOTATIONS_BYTES)


def _validate_owner_references(errs: _Errs, refs: Any, path: str) -> None:
    controllers = 0
    for ref in _l(refs):
        ref = _d(ref)
        for key, why in (("apiVersion", "version must not be empty"),
                         ("kind", "kind must not be empty"), ("name", "name must not be empty"),
                         ("uid", "uid must not be empty")):
            if not ref.get(key):
                errs.invalid(f"{path}.{key}", ref.get(key, ""), why)
        controllers += bool(ref.get("controller"))
    if controllers > 1:
        errs.invalid(path, refs, "Only one reference can have Controller set to true.")


def _validate_finalizers(errs: _Errs, finalizers: Any, path: str) -> None:
    seen: set[str] = set()
    for finalizer in _l(finalizers):
        text = str(finalizer)
        errs.each(path, text, names.is_qualified_name(text))
        if "/" not in text and text not in _STANDARD_FINALIZERS:
            errs.invalid(path, text, "name is neither a standard finalizer name nor is it "
                                     "fully qualified")
        if text in seen:
            errs.duplicate(path, text)
        seen.add(text)


def validate_object_meta(errs: _Errs, metadata: Any, *, namespaced: bool,
                         name_check: NameCheck, path: str = "metadata") -> None:
    """ValidateObjectMeta: name/generateName, namespace, labels, annotations, owners."""
    metadata = _d(metadata)
    name, generate = metadata.get("name") or "", metadata.get("generateName") or ""
    if generate:
        errs.each(f"{path}.generateName", generate, name_check(_mask_trailing_dash(generate)))
    if not name:
        if not generate:
            errs.required(f"{path}.name", "name or generateName is required")
    else:
        errs.each(f"{path}.name", name, name_check(name))
    namespace = metadata.get("namespace")
    if namespaced:
        if not namespace:
            errs.required(f"{path}.namespace")
        else:
            errs.each(f"{path}.namespace", namespace, names.is_dns1123_label(namespace))
    elif namespace:
        errs.forbidden(f"{path}.namespace", "not allowed on this type")
    validate_labels(errs, metadata.get("labels"), f"{path}.labels")
    _validate_annotations(errs, metadata.get("annotations"), f"{path}.annotations")
    _validate_owner_references(errs, metadata.get("ownerReferences"), f"{path}.ownerReferences")
    _validate_finalizers(errs, metadata.get("finalizers"), f"{path}.finalizers")


def _validate_meta_update(errs: _Errs, new: Any, old: Any) -> None:
    new, old = _d(new), _d(old)
    for key in ("name", "namespace", "uid", "creationTimestamp"):
        if old.get(key) and new.get(key) != old.get(key):
            errs.invalid(f"metadata.{key}", new.get(key, ""), "field is immutable")


# --- pods --------------------------------------------------------------------------------

def _validate_ports(errs: _Errs, ports: Any, path: str, *, host_network: bool) -> None:
    seen_names: set[str] = set()
    for i, port in enumerate(_l(ports)):
        port, p = _d(port), f"{path}[{i}]"
        name = port.get("name")
        if name:
            errs.each(f"{p}.name", name, names.is_valid_port_name(name))
            if name in seen_names:
                errs.duplicate(f"{p}.name", name)
            seen_names.add(name)
        container_port = port.get("containerPort")
        if not container_port:
            errs.required(f"{p}.containerPort")
        else:
            errs.each(f"{p}.containerPort", container_port, names.is_valid_port_num(container_port))
        host_port = port.get("hostPort")
        if host_port:
            errs.each(f"{p}.hostPort", host_port, names.is_valid_port_num(host_port))
            if host_network and host_port != container_port:
                errs.invalid(f"{p}.hostPort", host_port,
                             "must match `containerPort` when `hostNetwork` is true")
        errs.one_of(f"{p}.protocol", port.get("protocol"), _PROTOCOLS)


def _validate_resources(errs: _Errs, resources: Any, path: str) -> None:
    resources = _d(resources)
    parsed: dict[str, dict[str, Any]] = {}
    for kind in ("limits", "requests"):
        parsed[kind] = {}
        for name, value in _d(resources.get(kind)).items():
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


def _validate_probe(errs: _Errs, probe: Any, path: str) -> None:
    if probe is None:
        return
    probe = _d(probe)
    handlers = [k for k in ("exec", "httpGet", "tcpSocket", "grpc") if probe.get(k) is not None]
    if not handlers:
        errs.required(path, "must specify a handler type")
    elif len(handlers) > 1:
        errs.forbidden(f"{path}.{handlers[1]}", "may not specify more than 1 handler type")
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
                "failureThreshold"):
        errs.non_negative(f"{path}.{key}", probe.get(key))


def _validate_container(errs: _Errs, c: Obj, path: str, *, volumes: set[str],
                        host_network: bool) -> None:
    image = c.get("image")
    if not image:
        errs.required(f"{path}.image")
    elif image != image.strip():
        errs.invalid(f"{path}.image", image, "must not have leading or trailing whitespace")
    errs.one_of(f"{path}.imagePullPolicy", c.get("imagePullPolicy"), _PULL_POLICIES)
    errs.one_of(f"{path}.terminationMessagePolicy", c.get("terminationMessagePolicy"),
                ("File", "FallbackToLogsOnError"))
    _validate_ports(errs, c.get("ports"), f"{path}.ports", host_network=host_network)
    for i, env in enumerate(_l(c.get("env"))):
        env_name = _d(env).get("name")
        if not env_name:
            errs.required(f"{path}.env[{i}].name")
        else:
            errs.each(f"{path}.env[{i}].name", env_name, names.is_env_var_name(env_name))
    for i, mount in enumerate(_l(c.get("volumeMounts"))):
        mount, p = _d(mount), f"{path}.volumeMounts[{i}]"
        if not mount.get("name"):
            errs.required(f"{p}.name")
        elif mount["name"] not in volumes:
            errs.not_found(f"{p}.name", mount["name"])
        if not mount.get("mountPath"):
            errs.required(f"{p}.mountPath")
    _validate_resources(errs, c.get("resources"), f"{path}.resources")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _validate_probe(errs, c.get(probe), f"{path}.{probe}")


def _validate_volumes(errs: _Errs, volumes: Any, path: str) -> set[str]:
    seen: set[str] = set()
    for i, volume in enumerate(_l(volumes)):
        name = _d(volume).get("name")
        if not name:
            errs.required(f"{path}[{i}].name")
            continue
        errs.each(f"{path}[{i}].name", name, names.is_dns1123_label(name))
        if name in seen:
            errs.duplicate(f"{path}[{i}].name", name)
        seen.add(name)
    return seen


def validate_pod_spec(errs: _Errs, spec: Any, path: str) -> None:
    """ValidatePodSpec for the fields kybernetes runs."""
    spec = _d(spec)
    volumes = _validate_volumes(errs, spec.get("volumes"), f"{path}.volumes")
    host_network = bool(spec.get("hostNetwork"))
    seen: set[str] = set()
    if not _l(spec.get("containers")):
        errs.required(f"{path}.containers")
    for field in ("initContainers", "containers"):
        for i, container in enumerate(_l(spec.get(field))):
            container, p = _d(container), f"{path}.{field}[{i}]"
            name = container.get("name")
            if not name:
                errs.required(f"{p}.name")
            else:
                errs.each(f"{p}.name", name, names.is_dns1123_label(name))
                if name in seen:
                    errs.duplicate(f"{p}.name", name)
                seen.add(name)
            _validate_container(errs, container, p, volumes=volumes, host_network=host_network)
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


def _munged_pod_spec(new: Obj, old: Obj) -> Obj:
    """`new` with the fields a pod update may change copied from `old`."""
    munged = json.loads(json.dumps(new))
    for field in ("containers", "initContainers"):
        old_list, new_list = _l(old.get(field)), _l(munged.get(field))
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


def _validate_pod_update(errs: _Errs, new: Obj, old: Obj) -> None:
    spec, old_spec = _d(new.get("spec")), _d(old.get("spec"))
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
    old_tolerations = _l(old_spec.get("tolerations"))
    if any(t not in _l(spec.get("tolerations")) for t in old_tolerations):
        errs.forbidden("spec.tolerations", "existing toleration can not be modified except "
                                           "its tolerationSeconds")


def _validate_pod(errs: _Errs, pod: Obj, old: Obj | None) -> None:
    validate_pod_spec(errs, pod.get("spec"), "spec")
    if old is not None:
        _validate_pod_update(errs, pod, old)


# --- workloads ---------------------------------------------------------------------------

def _validate_template(errs: _Errs, template: Any, path: str, selector_matches: Callable[
        [dict[str, str]], bool] | None) -> None:
    if not isinstance(template, dict):
        errs.required(path)
        return
    labels = _d(_d(template.get("metadata")).get("labels"))
    if selector_matches is not None and not selector_matches(labels):
        errs.invalid(f"{path}.metadata.labels", labels,
                     "`selector` does not match template `labels`")
    validate_labels(errs, labels, f"{path}.metadata.labels")
    validate_pod_spec(errs, template.get("spec"), f"{path}.spec")
    policy = _d(template.get("spec")).get("restartPolicy")
    if policy and policy != "Always":
        errs.not_supported(f"{path}.spec.restartPolicy", policy, ("Always",))


def _validate_rc(errs: _Errs, rc: Obj, old: Obj | None) -> None:
    spec = _d(rc.get("spec"))
    selector = spec.get("selector")
    if not selector:
        errs.required("spec.selector")
    else:
        validate_labels(errs, selector, "spec.selector")
    errs.non_negative("spec.replicas", spec.get("replicas"))
    errs.non_negative("spec.minReadySeconds", spec.get("minReadySeconds"))
    matcher = selector_from_map(selector).matches if selector else None
    _validate_template(errs, spec.get("template"), "spec.template", matcher)


def _validate_label_selector(errs: _Errs, selector: Any, path: str, kind: str) -> bool:
    if not isinstance(selector, dict):
        errs.required(path)
        return False
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        errs.invalid(path, selector, f"empty selector is invalid for {kind}")
        return False
    validate_labels(errs, selector.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(_l(selector.get("matchExpressions"))):
        expr, p = _d(expr), f"{path}.matchExpressions[{i}]"
        op, values = expr.get("operator"), _l(expr.get("values"))
        if op in ("In", "NotIn") and not values:
            errs.required(f"{p}.values", "must be specified when `operator` is 'In' or 'NotIn'")
        elif op in ("Exists", "DoesNotExist") and values:
            errs.forbidden(f"{p}.values", "may not be specified when `operator` is 'Exists' or "
                                          "'DoesNotExist'")
        elif op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            errs.invalid(f"{p}.operator", op, "not a valid selector operator")
        errs.each(f"{p}.key", expr.get("key", ""), names.is_qualified_name(expr.get("key", "")))
    return True


def _validate_apps(errs: _Errs, obj: Obj, old: Obj | None, kind: str) -> None:
    spec = _d(obj.get("spec"))
    selector = spec.get("selector")
    matcher = None
    if _validate_label_selector(errs, selector, "spec.selector", kind):
        try:
            matcher = from_label_selector(selector).matches
        except BadRequest:  # reported by the checks above
            matcher = None
    for key in ("replicas", "minReadySeconds", "revisionHistoryLimit"):
        errs.non_negative(f"spec.{key}", spec.get(key))
    _validate_template(errs, spec.get("template"), "spec.template", matcher)
    if kind == "deployment":
        _validate_strategy(errs, _d(spec.get("strategy")))
        deadline, min_ready = spec.get("progressDeadlineSeconds"), spec.get("minReadySeconds", 0)
        if isinstance(deadline, int) and isinstance(min_ready, int) and deadline <= min_ready:
            errs.invalid("spec.progressDeadlineSeconds", deadline,
                         "must be greater than minReadySeconds")
    if old is not None and _d(old.get("spec")).get("selector") != selector:
        errs.invalid("spec.selector", selector, "field is immutable")


def _int_or_percent(errs: _Errs, value: Any, path: str) -> int | None:
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


def _validate_strategy(errs: _Errs, strategy: Obj) -> None:
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


# --- services and endpoints --------------------------------------------------------------

def _validate_service_ports(errs: _Errs, spec: Obj) -> None:
    ports, kind = _l(spec.get("ports")), spec.get("type")
    seen_names: set[str] = set()
    seen_ports: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        port, p = _d(port), f"spec.ports[{i}]"
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            errs.required(f"{p}.name")
        elif name:
            errs.each(f"{p}.name", name, names.is_dns1123_label(name))
            if name in seen_names:
                errs.duplicate(f"{p}.name", name)
            seen_names.add(name)
        errs.each(f"{p}.port", port.get("port", 0), names.is_valid_port_num(port.get("port")))
        errs.one_of(f"{p}.protocol", port.get("protocol"), _PROTOCOLS)
        key = (port.get("port"), port.get("protocol"))
        if key in seen_ports:
            errs.duplicate(p, {"port": key[0], "protocol": key[1]})
        seen_ports.add(key)
        target = port.get("targetPort")
        if isinstance(target, str):
            errs.each(f"{p}.targetPort", target, names.is_valid_port_name(target))
        elif target is not None:
            errs.each(f"{p}.targetPort", target, names.is_valid_port_num(target))
        node_port = port.get("nodePort")
        if node_port:
            if kind not in ("NodePort", "LoadBalancer"):
                errs.forbidden(f"{p}.nodePort", f"may not be used when `type` is '{kind}'")
            else:
                errs.each(f"{p}.nodePort", node_port, names.is_valid_port_num(node_port))


def _validate_service(errs: _Errs, svc: Obj, old: Obj | None) -> None:
    spec = _d(svc.get("spec"))
    kind = spec.get("type")
    errs.one_of("spec.type", kind, _SERVICE_TYPES)
    cluster_ip = spec.get("clusterIP")
    if kind == "ExternalName":
        external = spec.get("externalName")
        if not external:
            errs.required("spec.externalName")
        else:
            errs.each("spec.externalName", external, names.is_dns1123_subdomain(external))
    elif not _l(spec.get("ports")) and cluster_ip != "None":
        errs.required("spec.ports")
    _validate_service_ports(errs, spec)
    errs.one_of("spec.sessionAffinity", spec.get("sessionAffinity"), ("ClientIP", "None"))
    timeout = _d(_d(spec.get("sessionAffinityConfig")).get("clientIP")).get("timeoutSeconds")
    if timeout is not None and not (isinstance(timeout, int) and 0 < timeout <= 86400):
        errs.invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", timeout,
                     "must be greater than 0 and less than 86400")
    if cluster_ip and cluster_ip != "None" and not _is_ip(cluster_ip):
        errs.invalid("spec.clusterIP", cluster_ip, "must be empty, 'None', or a valid IP "
                                                   "address")
    if kind == "ClusterIP" and cluster_ip == "None":
        for i, port in enumerate(_l(spec.get("ports"))):
            if _d(port).get("nodePort"):
                errs.forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is "
                                                            "'ClusterIP'")
    validate_labels(errs, spec.get("selector"), "spec.selector")
    old_ip = _d((old or {}).get("spec")).get("clusterIP")
    if old is not None and old_ip and kind != "ExternalName" and cluster_ip != old_ip:
        errs.invalid("spec.clusterIP", cluster_ip, "field is immutable")


def _is_ip(text: Any) -> bool:
    try:
        ipaddress.ip_address(str(text))
    except ValueError:
        return False
    return True


def _validate_endpoints(errs: _Errs, ep: Obj, old: Obj | None) -> None:
    for i, subset in enumerate(_l(ep.get("subsets"))):
        subset = _d(subset)
        for field in ("addresses", "notReadyAddresses"):
            for j, address in enumerate(_l(subset.get(field))):
                ip = _d(address).get("ip")
                if not _is_ip(ip):
                    errs.invalid(f"subsets[{i}].{field}[{j}].ip", ip or "",
                                 "must be a valid IP address")
        ports = _l(subset.get("ports"))
        for j, port in enumerate(ports):
            port, p = _d(port), f"subsets[{i}].ports[{j}]"
            if len(ports) > 1 and not port.get("name"):
                errs.required(f"{p}.name")
            errs.each(f"{p}.port", port.get("port", 0), names.is_valid_port_num(port.get("port")))
            errs.one_of(f"{p}.protocol", port.get("protocol"), _PROTOCOLS)


# --- small kinds -------------------------------------------------------------------------

def _validate_data_keys(errs: _Errs, obj: Obj, *, base64_values: bool) -> None:
    data, binary = _d(obj.get("data")), _d(obj.get("binaryData"))
    size = 0
    for field, values in (("data", data), ("binaryData", binary)):
        for key, value in values.items():
            errs.each(f"{field}[{key}]", key, names.is_config_map_key(key))
            if field == "binaryData" and key in data:
                errs.invalid(f"{field}[{key}]", key, "duplicate of key present in data")
            size += len(str(value))
            if (base64_values or field == "binaryData") and isinstance(value, str):
                try:
                    base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    errs.invalid(f"{field}[{key}]", "<secret contents redacted>"
                                 if base64_values else value, "illegal base64 data")
    if size > _MAX_CONFIG_BYTES:
        errs.too_long("data", _MAX_CONFIG_BYTES)


def _validate_secret(errs: _Errs, secret: Obj, old: Obj | None) -> None:
    _validate_data_keys(errs, secret, base64_values=True)
    kind, data = secret.get("type"), _d(secret.get("data"))
    required = {"kubernetes.io/tls": ("tls.crt", "tls.key"),
                "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
                "kubernetes.io/dockercfg": (".dockercfg",)}.get(str(kind), ())
    for key in required:
        if key not in data:
            errs.required(f"data[{key}]")
    if old is not None:
        errs.immutable("type", kind, old.get("type"))
        if old.get("immutable") and (data != _d(old.get("data"))):
            errs.forbidden("data", "field is immutable when `immutable` is set")


def _validate_configmap(errs: _Errs, cm: Obj, old: Obj | None) -> None:
    _validate_data_keys(errs, cm, base64_values=False)
    if old is not None and old.get("immutable") and (
            cm.get("data") != old.get("data") or cm.get("binaryData") != old.get("binaryData")):
        errs.forbidden("data", "field is immutable when `immutable` is set")


def _validate_lease(errs: _Errs, lease: Obj, old: Obj | None) -> None:
    spec = _d(lease.get("spec"))
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and (not isinstance(duration, int) or duration <= 0):
        errs.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0")
    errs.non_negative("spec.leaseTransitions", spec.get("leaseTransitions"))


def _validate_event(errs: _Errs, event: Obj, old: Obj | None) -> None:
    involved = _d(event.get("involvedObject"))
    namespace = _d(event.get("metadata")).get("namespace")
    if involved.get("namespace") and namespace and involved["namespace"] != namespace:
        errs.invalid("involvedObject.namespace", involved["namespace"],
                     "does not match event.namespace")
    if event.get("type") and event["type"] not in ("Normal", "Warning"):
        errs.not_supported("type", event["type"], ("Normal", "Warning"))


def _validate_node(errs: _Errs, node: Obj, old: Obj | None) -> None:
    spec = _d(node.get("spec"))
    cidr = spec.get("podCIDR")
    if cidr:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            errs.invalid("spec.podCIDR", cidr, "must be a valid CIDR")
    for i, taint in enumerate(_l(spec.get("taints"))):
        taint = _d(taint)
        errs.each(f"spec.taints[{i}].key", taint.get("key", ""),
                  names.is_qualified_name(taint.get("key", "")))
        errs.one_of(f"spec.taints[{i}].effect", taint.get("effect"),
                    ("NoSchedule", "PreferNoSchedule", "NoExecute"))
    old_cidr = _d((old or {}).get("spec")).get("podCIDR")
    if old_cidr and cidr != old_cidr:
        errs.forbidden("spec.podCIDRs", "node updates may not change podCIDR except from "
                                        "\"\" to valid")


def validate_binding(binding: Obj) -> list[Cause]:
    """ValidatePodBinding: target.kind Node (or empty) and a target.name."""
    errs = _Errs()
    target = _d(binding.get("target"))
    if target.get("kind") and target["kind"] != "Node":
        errs.not_supported("target.kind", target["kind"], ("Node", "<empty>"))
    if not target.get("name"):
        errs.required("target.name")
    return errs.causes


def validate_scale(scale: Obj) -> list[Cause]:
    """ValidateScale: a name and non-negative replicas."""
    errs = _Errs()
    if not _d(scale.get("metadata")).get("name"):
        errs.required("metadata.name", "name or generateName is required")
    errs.non_negative("spec.replicas", _d(scale.get("spec")).get("replicas"))
    return errs.causes


Validator = Callable[[_Errs, Obj, Obj | None], None]

_BY_RESOURCE: dict[tuple[str, str], tuple[NameCheck, Validator | None]] = {
    ("", "pods"): (names.is_dns1123_subdomain, _validate_pod),
    ("", "replicationcontrollers"): (names.is_dns1123_subdomain, _validate_rc),
    ("apps", "replicasets"): (names.is_dns1123_subdomain,
                              lambda e, o, old: _validate_apps(e, o, old, "replicaset")),
    ("apps", "deployments"): (names.is_dns1123_subdomain,
                              lambda e, o, old: _validate_apps(e, o, old, "deployment")),
    ("", "services"): (names.is_dns1035_label, _validate_service),
    ("", "endpoints"): (names.is_dns1123_subdomain, _validate_endpoints),
    ("", "namespaces"): (names.is_dns1123_label, None),
    ("", "nodes"): (names.is_dns1123_subdomain, _validate_node),
    ("", "configmaps"): (names.is_dns1123_subdomain, _validate_configmap),
    ("", "secrets"): (names.is_dns1123_subdomain, _validate_secret),
    ("", "serviceaccounts"): (names.is_dns1123_subdomain, None),
    ("", "events"): (names.is_dns1123_subdomain, _validate_event),
    ("coordination.k8s.io", "leases"): (names.is_dns1123_subdomain, _validate_lease),
}


def validate(resource: Resource, obj: Obj, old: Obj | None = None) -> list[Cause]:
    """Every problem with `obj` (and with the change from `old`), as (field, reason, message)."""
    if resource.plural == "bindings" and not resource.group:
        return validate_binding(obj)
    name_check, check = _BY_RESOURCE.get((resource.group, resource.plural),
                                         (names.is_dns1123_subdomain, None))
    errs = _Errs()
    validate_object_meta(errs, obj.get("metadata"), namespaced=resource.namespaced,
                         name_check=name_check)
    if old is not None:
        _validate_meta_update(errs, obj.get("metadata"), old.get("metadata"))
    if check is not None:
        check(errs, obj, old)
    return errs.causes
