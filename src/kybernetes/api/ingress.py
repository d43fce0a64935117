"""networking.k8s.io/v1 Ingresses and IngressClasses: kube's defaults and validation
(pkg/apis/networking/validation), pure functions for the API server and admission.

An Ingress only describes HTTP routing; an ingress controller (none ships with
kybernetes) reads it. Serving the kind lets charts and manifests that carry one apply."""

from __future__ import annotations

import re
from typing import Any

from kybernetes.api import meta as names
from kybernetes.api.field_errors import ErrorList, GoSyntax, as_dict, as_list

Obj = dict[str, Any]

CLASS_ANNOTATION = "kubernetes.io/ingress.class"  # the class before spec.ingressClassName
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
_INVALID_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_SUFFIXES = ("/..", "/.")
_CONTROLLER_MAX = 250
_PARAMETER_SCOPES = ("Cluster", "Namespace")
_HTTP_PATH_FMT = r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+"
_HTTP_PATH = re.compile(f"^{_HTTP_PATH_FMT}$")
_WILDCARD_FMT = r"\*\." + names.DNS1123_SUBDOMAIN_FMT
_WILDCARD = re.compile(f"^{_WILDCARD_FMT}$")


def is_default_class(ingress_class: Obj) -> bool:
    annotations = as_dict(as_dict(ingress_class.get("metadata")).get("annotations"))
    return str(annotations.get(DEFAULT_CLASS_ANNOTATION, "")) == "true"


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    """validation.IsWildcardDNS1123Subdomain: `*.` and then a DNS subdomain."""
    errs = []
    if len(value) > names.DNS1123_SUBDOMAIN_MAX:
        errs.append(names.max_len_error(names.DNS1123_SUBDOMAIN_MAX))
    if not _WILDCARD.match(value):
        errs.append(names.regex_error(
            "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS "
            "subdomain, which must consist of lower case alphanumeric characters, '-' or '.' "
            "and end with an alphanumeric character", _WILDCARD_FMT, "*.example.com"))
    return errs


def _host_errors(host: str) -> list[str]:
    return is_wildcard_dns1123_subdomain(host) if "*" in host else \
        names.is_dns1123_subdomain(host)


# --- Ingress -------------------------------------------------------------------------------


def _typed_reference(errs: ErrorList, ref: Obj, path: str) -> None:
    """validateIngressTypedLocalObjectReference."""
    group = ref.get("apiGroup")
    if group is not None:
        errs.each(f"{path}.apiGroup", group, names.is_dns1123_subdomain(str(group)))
    for field, what in (("kind", "kind"), ("name", "name")):
        value = ref.get(field)
        if not value:
            errs.required(f"{path}.{field}", f"{what} is required")
        else:
            errs.each(f"{path}.{field}", value, names.is_path_segment_name(str(value)))


def _backend(errs: ErrorList, backend: Obj, path: str) -> None:
    """validateIngressBackend: a Service (by name, and port by name or number) or a
    resource, never both."""
    resource, service = backend.get("resource"), backend.get("service")
    if resource is not None and service is not None:
        errs.invalid(path, "", "cannot set both resource and service backends")
        return
    if resource is not None:
        _typed_reference(errs, as_dict(resource), f"{path}.resource")
        return
    if service is None:
        errs.invalid(path, "", "resource or service backend is required")
        return
    service = as_dict(service)
    errs.required_valid(f"{path}.service.name", service.get("name"),
                        lambda n: names.is_dns1035_label(str(n)))
    port = as_dict(service.get("port"))
    port_name, port_number = port.get("name") or "", port.get("number") or 0
    if port_name and port_number:
        errs.invalid(path, "", "cannot set both port name & port number")
    elif port_name:
        errs.each(f"{path}.service.port.name", port_name, names.is_valid_port_name(port_name))
    elif port_number:
        errs.each(f"{path}.service.port.number", port_number,
                  names.is_valid_port_num(port_number))
    else:
        errs.required(path, "port name or number is required")


def _http_path(errs: ErrorList, rule_path: Obj, path: str) -> None:
    kind = rule_path.get("pathType")
    if kind is None:
        errs.required(f"{path}.pathType", "pathType must be specified")
        return
    value = str(rule_path.get("path") or "")
    if kind in ("Exact", "Prefix"):
        if not value.startswith("/"):
            errs.invalid(f"{path}.path", value, "must be an absolute path")
        for sequence in _INVALID_SEQUENCES if value else ():
            if sequence in value:
                errs.invalid(f"{path}.path", value, f"must not contain '{sequence}'")
        for suffix in _INVALID_SUFFIXES if value else ():
            if value.endswith(suffix):
                errs.invalid(f"{path}.path", value, f"cannot end with '{suffix}'")
    elif kind == "ImplementationSpecific":
        if value and not value.startswith("/"):
            errs.invalid(f"{path}.path", value, "must be an absolute path")
    else:
        errs.not_supported(f"{path}.pathType", kind, PATH_TYPES)
    _backend(errs, as_dict(rule_path.get("backend")), f"{path}.backend")


def _rules(errs: ErrorList, rules: list[Any]) -> None:
    for i, rule in enumerate(rules):
        rule, path = as_dict(rule), f"spec.rules[{i}]"
        host = str(rule.get("host") or "")
        if host:
            if names.is_ip(host):
                errs.invalid(f"{path}.host", host, "must be a DNS name, not an IP address")
            errs.each(f"{path}.host", host, _host_errors(host))
        http = rule.get("http")
        if http is None:
            continue
        paths = as_list(as_dict(http).get("paths"))
        if not paths:
            errs.required(f"{path}.http.paths")
        for j, rule_path in enumerate(paths):
            _http_path(errs, as_dict(rule_path), f"{path}.http.paths[{j}]")


def _tls(errs: ErrorList, tls: list[Any]) -> None:
    for i, entry in enumerate(tls):
        entry = as_dict(entry)
        for j, host in enumerate(as_list(entry.get("hosts"))):
            errs.each(f"spec.tls[{i}].hosts[{j}]", host, _host_errors(str(host)))
        secret = entry.get("secretName")
        if secret:
            errs.each(f"spec.tls[{i}].secretName", secret,
                      names.is_dns1123_subdomain(str(secret)))


def validate_ingress(errs: ErrorList, ingress: Obj, old: Obj | None) -> None:
    """ValidateIngressCreate / ValidateIngressUpdate (the spec; metadata is checked for
    every kind)."""
    spec = as_dict(ingress.get("spec"))
    rules = as_list(spec.get("rules"))
    default = spec.get("defaultBackend")
    if not rules and default is None:
        shown = GoSyntax("[]networking.IngressRule{}" if isinstance(spec.get("rules"), list)
                         else "[]networking.IngressRule(nil)")  # Go prints the rules
        errs.invalid("spec", shown, "either `defaultBackend` or `rules` must be specified")
    if default is not None:
        _backend(errs, as_dict(default), "spec.defaultBackend")
    _rules(errs, rules)
    _tls(errs, as_list(spec.get("tls")))
    class_name = spec.get("ingressClassName")
    if class_name is not None:
        errs.each("spec.ingressClassName", class_name,
                  names.is_dns1123_subdomain(str(class_name)))
    annotations = as_dict(as_dict(ingress.get("metadata")).get("annotations"))
    if old is None and CLASS_ANNOTATION in annotations and class_name is not None:
        errs.invalid(f"annotations.{CLASS_ANNOTATION}", annotations[CLASS_ANNOTATION],
                     "can not be set when the class field is also set")


# --- IngressClass --------------------------------------------------------------------------


def ingress_class_defaults(ingress_class: Obj) -> None:
    """SetDefaults_IngressClass: parameters are cluster-scoped unless said otherwise."""
    parameters = as_dict(ingress_class.get("spec")).get("parameters")
    if isinstance(parameters, dict) and parameters.get("scope") is None:
        parameters["scope"] = "Cluster"


def _domain_prefixed_path(errs: ErrorList, path: str, value: str) -> None:
    """validation.IsDomainPrefixedPath (`example.com/controller`)."""
    if not value:
        errs.required(path)
        return
    host, slash, rest = value.partition("/")
    if not slash or not host or not rest:
        errs.invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')
        return
    errs.each(path, host, names.is_dns1123_subdomain(host))
    if not _HTTP_PATH.match(rest):
        errs.invalid(path, rest, names.regex_error("must be a valid path", _HTTP_PATH_FMT))


def _parameters(errs: ErrorList, parameters: Obj) -> None:
    path = "spec.parameters"
    _typed_reference(errs, parameters, path)
    scope, namespace = parameters.get("scope"), parameters.get("namespace")
    if scope is None and namespace is None:
        return
    if scope not in _PARAMETER_SCOPES:
        errs.not_supported(f"{path}.scope", scope or "", _PARAMETER_SCOPES)
    elif scope == "Namespace" and namespace is None:
        errs.required(f"{path}.namespace", "`parameters.scope` is set to 'Namespace'")
    elif scope == "Namespace":
        errs.each(f"{path}.namespace", namespace, names.is_dns1123_label(str(namespace)))
    elif namespace is not None:
        errs.forbidden(f"{path}.namespace", "`parameters.scope` is set to 'Cluster'")


def validate_ingress_class(errs: ErrorList, ingress_class: Obj, old: Obj | None) -> None:
    spec = as_dict(ingress_class.get("spec"))
    controller = str(spec.get("controller") or "")
    if old is not None:
        errs.immutable("spec.controller", spec.get("controller"),
                       as_dict(old.get("spec")).get("controller"))
    if len(controller) > _CONTROLLER_MAX:
        errs.too_long("spec.controller", _CONTROLLER_MAX)
    _domain_prefixed_path(errs, "spec.controller", controller)
    if spec.get("parameters") is not None:
        _parameters(errs, as_dict(spec.get("parameters")))
