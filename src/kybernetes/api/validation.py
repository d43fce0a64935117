"""Validation of the served kinds, with Kubernetes' field paths and messages.

`validate_object(obj, old, ...)` returns a list of causes `(field, reason,
message)` (each kind's definition in apiserver/kinds/ names its checks); the
API server turns a non-empty list into a 422 Invalid Status through
`errors.invalid`. Messages are worded as apimachinery's field.Error
body (`Required value`, `Invalid value: "Foo": <why>`, `Unsupported value:
"Sometimes": supported values: "Always", "OnFailure", "Never"`, …) because
kubectl prints them verbatim, and the rules are those of
pkg/apis/core/validation and pkg/apis/apps/validation for what we serve.
Defaults are applied before validation, as in Kubernetes.

Three modules: api/field_errors.py (the error list and its wording),
api/pod_validation.py (pods and the workloads that template them) and this one
(metadata, services and the smaller kinds). One
small function per object part, each adding causes to an `ErrorList`.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable
from typing import Any

from kybernetes.api import meta as names
from kybernetes.api import schema
from kybernetes.api.field_errors import (
    PROTOCOLS,
    TYPE_INVALID,
    Cause,
    ErrorList,
    Obj,
    as_dict,
    as_list,
    validate_labels,
)

_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_STANDARD_FINALIZERS = ("kubernetes", "orphan", "foregroundDeletion")
_MAX_ANNOTATIONS_BYTES = 256 * 1024
_MAX_CONFIG_BYTES = 1024 * 1024


# --- metadata ----------------------------------------------------------------------------

NameCheck = Callable[[str], list[str]]


def _mask_trailing_dash(name: str) -> str:
    return name[:-1] + "a" if len(name) > 1 and name.endswith("-") else name


def _validate_annotations(errs: ErrorList, annotations: Any, path: str) -> None:
    total = 0
    for key, value in as_dict(annotations).items():
        errs.each(path, key, names.is_qualified_name(key.lower()))
        total += len(key) + len(str(value))
    if total > _MAX_ANNOTATIONS_BYTES:
        errs.too_long(path, _MAX_ANNOTATIONS_BYTES)


def _validate_owner_references(errs: ErrorList, refs: Any, path: str) -> None:
    controllers = 0
    for ref in as_list(refs):
        ref = as_dict(ref)
        for key, why in (("apiVersion", "version must not be empty"),
                         ("kind", "kind must not be empty"), ("name", "name must not be empty"),
                         ("uid", "uid must not be empty")):
            if not ref.get(key):
                errs.invalid(f"{path}.{key}", ref.get(key, ""), why)
        controllers += bool(ref.get("controller"))
    if controllers > 1:
        errs.invalid(path, refs, "Only one reference can have Controller set to true.")


def _validate_finalizers(errs: ErrorList, finalizers: Any, path: str, *,
                         standard_only: bool) -> None:
    """Qualified names, no repeats; built-in kinds (pkg/apis/core/validation) also refuse
    an unqualified name that is not a standard finalizer (CRDs and custom resources,
    validated by apimachinery's generic checks, do not)."""
    seen: set[str] = set()
    for finalizer in as_list(finalizers):
        text = str(finalizer)
        errs.each(path, text, names.is_qualified_name(text))
        if standard_only and "/" not in text and text not in _STANDARD_FINALIZERS:
            errs.invalid(path, text, "name is neither a standard finalizer name nor is it "
                                     "fully qualified")
        if text in seen:
            errs.duplicate(path, text)
        seen.add(text)


def validate_object_meta(errs: ErrorList, metadata: Any, *, namespaced: bool,
                         name_check: NameCheck, path: str = "metadata",
                         builtin: bool = True) -> None:
    """ValidateObjectMeta: name/generateName, namespace, labels, annotations, owners."""
    metadata = as_dict(metadata)
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
        errs.required_valid(f"{path}.namespace", namespace, names.is_dns1123_label)
    elif namespace:
        errs.forbidden(f"{path}.namespace", "not allowed on this type")
    validate_labels(errs, metadata.get("labels"), f"{path}.labels")
    _validate_annotations(errs, metadata.get("annotations"), f"{path}.annotations")
    _validate_owner_references(errs, metadata.get("ownerReferences"), f"{path}.ownerReferences")
    _validate_finalizers(errs, metadata.get("finalizers"), f"{path}.finalizers",
                         standard_only=builtin)


def _validate_meta_update(errs: ErrorList, new: Any, old: Any) -> None:
    new, old = as_dict(new), as_dict(old)
    for key in ("name", "namespace", "uid", "creationTimestamp"):
        if old.get(key) and new.get(key) != old.get(key):
            errs.invalid(f"metadata.{key}", new.get(key, ""), "field is immutable")


# --- services and endpoints --------------------------------------------------------------

def _validate_service_ports(errs: ErrorList, spec: Obj) -> None:
    ports, kind = as_list(spec.get("ports")), spec.get("type")
    seen_names: set[str] = set()
    seen_ports: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        port, p = as_dict(port), f"spec.ports[{i}]"
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            errs.required(f"{p}.name")
        elif name:
            errs.each(f"{p}.name", name, names.is_dns1123_label(name))
            if name in seen_names:
                errs.duplicate(f"{p}.name", name)
            seen_names.add(name)
        errs.each(f"{p}.port", port.get("port", 0), names.is_valid_port_num(port.get("port")))
        errs.one_of(f"{p}.protocol", port.get("protocol"), PROTOCOLS)
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


def validate_service(errs: ErrorList, svc: Obj, old: Obj | None) -> None:
    spec = as_dict(svc.get("spec"))
    kind = spec.get("type")
    errs.one_of("spec.type", kind, _SERVICE_TYPES)
    cluster_ip = spec.get("clusterIP")
    if kind == "ExternalName":
        errs.required_valid("spec.externalName", spec.get("externalName"),
                            names.is_dns1123_subdomain)
    elif not as_list(spec.get("ports")) and cluster_ip != "None":
        errs.required("spec.ports")
    _validate_service_ports(errs, spec)
    errs.one_of("spec.sessionAffinity", spec.get("sessionAffinity"), ("ClientIP", "None"))
    client_ip = as_dict(as_dict(spec.get("sessionAffinityConfig")).get("clientIP"))
    timeout = client_ip.get("timeoutSeconds")
    if timeout is not None and not (isinstance(timeout, int) and 0 < timeout <= 86400):
        errs.invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", timeout,
                     "must be greater than 0 and less than 86400")
    if cluster_ip and cluster_ip != "None" and not names.is_ip(cluster_ip):
        errs.invalid("spec.clusterIP", cluster_ip, "must be empty, 'None', or a valid IP "
                                                   "address")
    validate_labels(errs, spec.get("selector"), "spec.selector")
    old_ip = as_dict((old or {}).get("spec")).get("clusterIP")
    if old is not None and old_ip and kind != "ExternalName" and cluster_ip != old_ip:
        errs.invalid("spec.clusterIP", cluster_ip, "field is immutable")


def validate_endpoints(errs: ErrorList, ep: Obj, old: Obj | None) -> None:
    for i, subset in enumerate(as_list(ep.get("subsets"))):
        subset = as_dict(subset)
        for field in ("addresses", "notReadyAddresses"):
            for j, address in enumerate(as_list(subset.get(field))):
                ip = as_dict(address).get("ip")
                if not names.is_ip(ip):
                    errs.invalid(f"subsets[{i}].{field}[{j}].ip", ip or "",
                                 "must be a valid IP address")
        ports = as_list(subset.get("ports"))
        for j, port in enumerate(ports):
            port, p = as_dict(port), f"subsets[{i}].ports[{j}]"
            if len(ports) > 1 and not port.get("name"):
                errs.required(f"{p}.name")
            errs.each(f"{p}.port", port.get("port", 0), names.is_valid_port_num(port.get("port")))
            errs.one_of(f"{p}.protocol", port.get("protocol"), PROTOCOLS)


# --- small kinds -------------------------------------------------------------------------

def _validate_data_keys(errs: ErrorList, obj: Obj, *, base64_values: bool) -> None:
    data, binary = as_dict(obj.get("data")), as_dict(obj.get("binaryData"))
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


def validate_secret(errs: ErrorList, secret: Obj, old: Obj | None) -> None:
    _validate_data_keys(errs, secret, base64_values=True)
    kind, data = secret.get("type"), as_dict(secret.get("data"))
    required = {"kubernetes.io/tls": ("tls.crt", "tls.key"),
                "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
                "kubernetes.io/dockercfg": (".dockercfg",)}.get(str(kind), ())
    for key in required:
        if key not in data:
            errs.required(f"data[{key}]")
    if old is not None:
        errs.immutable("type", kind, old.get("type"))
        if old.get("immutable") and (data != as_dict(old.get("data"))):
            errs.forbidden("data", "field is immutable when `immutable` is set")


def validate_configmap(errs: ErrorList, cm: Obj, old: Obj | None) -> None:
    _validate_data_keys(errs, cm, base64_values=False)
    if old is not None and old.get("immutable") and (
            cm.get("data") != old.get("data") or cm.get("binaryData") != old.get("binaryData")):
        errs.forbidden("data", "field is immutable when `immutable` is set")


def validate_lease(errs: ErrorList, lease: Obj, old: Obj | None) -> None:
    spec = as_dict(lease.get("spec"))
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and (not isinstance(duration, int) or duration <= 0):
        errs.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0")
    errs.non_negative("spec.leaseTransitions", spec.get("leaseTransitions"))


def validate_event(errs: ErrorList, event: Obj, old: Obj | None) -> None:
    involved = as_dict(event.get("involvedObject"))
    namespace = as_dict(event.get("metadata")).get("namespace")
    if involved.get("namespace") and namespace and involved["namespace"] != namespace:
        errs.invalid("involvedObject.namespace", involved["namespace"],
                     "does not match event.namespace")
    if event.get("type") and event["type"] not in ("Normal", "Warning"):
        errs.not_supported("type", event["type"], ("Normal", "Warning"))


_EVENT_LIMITS = (("reportingInstance", "reportingInstance", 128), ("action", "action", 128),
                 ("reason", "reason", 128), ("message", "note", 1024))


def validate_events_v1_event(errs: ErrorList, event: Obj, old: Obj | None) -> None:
    """ValidateEventCreate/Update for a request through events.k8s.io/v1, on the Event as
    core/v1 holds it (kube's paths: the internal names, `note` for the message)."""
    validate_event(errs, event, old)
    namespace = as_dict(event.get("metadata")).get("namespace")
    if event.get("eventTime"):
        if not as_dict(event.get("involvedObject")).get("namespace") and \
                namespace not in ("default", "kube-system"):
            errs.invalid("involvedObject.namespace", "", "does not match event.namespace")
        controller = str(event.get("reportingComponent") or "")
        if not controller:
            errs.required("reportingController")
        errs.each("reportingController", controller, names.is_qualified_name(controller))
        for field, path, limit in _EVENT_LIMITS:
            value = str(event.get(field) or "")
            if not value and field != "message":
                errs.required(path)
            if len(value) > limit:
                errs.invalid(path, "", f"can have at most {limit} characters")
    if old is not None:
        return
    series = event.get("series")
    if isinstance(series, dict):
        if int(series.get("count") or 0) < 2:
            errs.invalid("series.count", "", "should be at least 2")
        if not series.get("lastObservedTime"):
            errs.required("series.lastObservedTime")
    if not event.get("eventTime"):
        errs.required("eventTime")
    if event.get("type") not in ("Normal", "Warning"):
        errs.invalid("type", "", f"has invalid value: {event.get('type') or ''}")
    for field in ("firstTimestamp", "lastTimestamp", "count"):
        if event.get(field):
            errs.invalid(field, "", "needs to be unset")
    if any(as_dict(event.get("source")).values()):
        errs.invalid("source", "", "needs to be unset")


def validate_node(errs: ErrorList, node: Obj, old: Obj | None) -> None:
    spec = as_dict(node.get("spec"))
    cidr = spec.get("podCIDR")
    if cidr:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            errs.invalid("spec.podCIDR", cidr, "must be a valid CIDR")
    for i, taint in enumerate(as_list(spec.get("taints"))):
        taint = as_dict(taint)
        errs.each(f"spec.taints[{i}].key", taint.get("key", ""),
                  names.is_qualified_name(taint.get("key", "")))
        errs.one_of(f"spec.taints[{i}].effect", taint.get("effect"),
                    ("NoSchedule", "PreferNoSchedule", "NoExecute"))
    old_cidr = as_dict((old or {}).get("spec")).get("podCIDR")
    if old_cidr and cidr != old_cidr:
        errs.forbidden("spec.podCIDRs", "node updates may not change podCIDR except from "
                                        "\"\" to valid")


def validate_binding(binding: Obj) -> list[Cause]:
    """ValidatePodBinding: target.kind Node (or empty) and a target.name."""
    errs = ErrorList()
    target = as_dict(binding.get("target"))
    if target.get("kind") and target["kind"] != "Node":
        errs.not_supported("target.kind", target["kind"], ("Node", "<empty>"))
    if not target.get("name"):
        errs.required("target.name")
    return errs.causes


def validate_scale(scale: Obj) -> list[Cause]:
    """ValidateScale: a name and non-negative replicas."""
    errs = ErrorList()
    if not as_dict(scale.get("metadata")).get("name"):
        errs.required("metadata.name", "name or generateName is required")
    errs.non_negative("spec.replicas", as_dict(scale.get("spec")).get("replicas"))
    return errs.causes


Validator = Callable[[ErrorList, Obj, Obj | None], None]
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def type_causes(root: schema.Node | None, obj: Obj, prefix: str = "") -> list[Cause]:
    """One cause per field of the wrong JSON type or out of its int32/int64 range, worded
    as kube-openapi's type check."""
    causes: list[Cause] = []
    for path, expected, actual in schema.type_errors(root, obj):
        path = f"{prefix}.{path}" if prefix and path else prefix or path
        causes.append((path, TYPE_INVALID, f'Invalid value: "{actual}": {path or "body"} in '
                       f'body must be of type {expected}: "{actual}"'))
    return causes


def metadata_type_causes(obj: Obj) -> list[Cause]:
    """Type causes of `metadata` alone: checked as a body is decoded, before the write
    path overwrites server-set fields (resourceVersion, generation) it would hide."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return []
    return type_causes(schema.definition(OBJECT_META), meta, "metadata")


def validate_object(obj: Obj, old: Obj | None, *, schema_root: schema.Node | None,
                    namespaced: bool, name_check: NameCheck,
                    check: Validator | None, builtin: bool = True) -> list[Cause]:
    """Every problem with `obj` (and with the change from `old`), as (field, reason, message):
    JSON types against the schema first (nothing below may read a field of the wrong
    type), then metadata, then the kind's own `check`."""
    wrong_types = type_causes(schema_root, obj)
    if wrong_types:
        return wrong_types
    errs = ErrorList()
    validate_object_meta(errs, obj.get("metadata"), namespaced=namespaced, name_check=name_check,
                         builtin=builtin)
    if old is not None:
        _validate_meta_update(errs, obj.get("metadata"), old.get("metadata"))
    if check is not None:
        check(errs, obj, old)
    return errs.causes
