"""Defaults and validation of Mutating/ValidatingWebhookConfiguration (admissionregistration/v1).

Follows pkg/apis/admissionregistration/v1/defaults.go and
pkg/apis/admissionregistration/validation/validation.go (with
apiserver/pkg/util/webhook/validation.go for the client config), field paths
and wording included, because kubectl prints the causes verbatim.

`validate_webhook_configuration` checks the `webhooks` list only; object
metadata is the generic path's (`validation.validate_object_meta`, names are
DNS subdomains, cluster-scoped). As in Kubernetes, an update is held to the
rules the old object already met: a configuration stored before a rule existed
(a side-effecting webhook, duplicate names, an unknown review version, a bad
selector value) may still be updated without fixing it.

The CEL of `matchConditions` is compiled (with `object`, `oldObject`,
`request`, `namespaceObject` and `authorizer` declared) and a compile error is
the field's Invalid cause; expressions the old object already had are not
compiled again, as Kubernetes keeps unchanged stored expressions valid.
The rule, selector and matchConditions checks here also serve
ValidatingAdmissionPolicy (admission_policy_validation.py).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from kybernetes.api import meta as names
from kybernetes.api.admission_expressions import compile_expression, declarations
from kybernetes.api.cel import CompileError
from kybernetes.api.field_errors import (
    ErrorList,
    Obj,
    as_dict,
    as_list,
    label_selector_errors,
)

ADMISSION_REVIEW_VERSIONS = ("v1", "v1beta1")
FAILURE_POLICIES = ("Fail", "Ignore")
MATCH_POLICIES = ("Equivalent", "Exact")
NO_SIDE_EFFECTS = ("None", "NoneOnDryRun")
OPERATIONS = ("*", "CONNECT", "CREATE", "DELETE", "UPDATE")
REINVOCATION_POLICIES = ("IfNeeded", "Never")
SCOPES = ("*", "Cluster", "Namespaced")
DEFAULT_TIMEOUT_SECONDS = 10
MAX_MATCH_CONDITIONS = 64
_URL_FORM = "; desired format: https://host[/path]"
TOO_MANY = "FieldValueTooMany"


# --- defaults ----------------------------------------------------------------------------

def webhook_configuration_defaults(obj: Obj, *, mutating: bool) -> None:
    """SetDefaults_{Mutating,Validating}Webhook, _Rule and _ServiceReference, in place."""
    for hook in as_list(obj.get("webhooks")):
        if not isinstance(hook, dict):
            continue
        hook.setdefault("failurePolicy", "Fail")
        hook.setdefault("matchPolicy", "Equivalent")
        hook.setdefault("namespaceSelector", {})
        hook.setdefault("objectSelector", {})
        hook.setdefault("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS)
        if mutating:
            hook.setdefault("reinvocationPolicy", "Never")
        for rule in as_list(hook.get("rules")):
            if isinstance(rule, dict):
                rule.setdefault("scope", "*")
        service = as_dict(hook.get("clientConfig")).get("service")
        if isinstance(service, dict):
            service.setdefault("port", 443)


# --- validation --------------------------------------------------------------------------

class _Rules:
    """Which of the rules that were added over time an object is held to."""

    def __init__(self, old: Obj | None) -> None:
        hooks = [as_dict(h) for h in as_list((old or {}).get("webhooks"))]
        fresh = old is None
        self.no_side_effects = fresh or all(
            h.get("sideEffects") in NO_SIDE_EFFECTS for h in hooks)
        versions = [set(map(str, as_list(h.get("admissionReviewVersions")))) for h in hooks]
        self.recognized_versions = fresh or all(
            not v or v.intersection(ADMISSION_REVIEW_VERSIONS) for v in versions)
        self.stored_expressions = stored_expressions(
            c for h in hooks for c in as_list(h.get("matchConditions")))
        hook_names = [h.get("name") for h in hooks]
        self.unique_names = fresh or len(hook_names) == len(set(hook_names))
        self.label_values = fresh or not any(
            label_selector_errors(h.get(key), key) for h in hooks
            for key in ("namespaceSelector", "objectSelector"))


def validate_webhook_configuration(errs: ErrorList, obj: Obj, old: Obj | None, *,
                                   mutating: bool) -> None:
    """Every problem with the `webhooks` of a (Mutating|Validating)WebhookConfiguration."""
    rules = _Rules(old)
    seen: set[str] = set()
    for i, hook in enumerate(as_list(obj.get("webhooks"))):
        hook, path = as_dict(hook), f"webhooks[{i}]"
        _validate_webhook(errs, hook, path, rules, mutating=mutating)
        _validate_review_versions(errs, hook.get("admissionReviewVersions"),
                                  f"{path}.admissionReviewVersions",
                                  require_recognized=rules.recognized_versions)
        name = hook.get("name")
        if rules.unique_names and name:
            if name in seen:
                errs.duplicate(f"{path}.name", name)
            seen.add(name)


def _validate_webhook(errs: ErrorList, hook: Obj, path: str, rules: _Rules, *,
                      mutating: bool) -> None:
    _validate_fully_qualified_name(errs, hook.get("name") or "", f"{path}.name")
    for i, rule in enumerate(as_list(hook.get("rules"))):
        validate_rule(errs, as_dict(rule), f"{path}.rules[{i}]")
    _optional_one_of(errs, hook, "failurePolicy", FAILURE_POLICIES, path)
    _optional_one_of(errs, hook, "matchPolicy", MATCH_POLICIES, path)
    side_effects = hook.get("sideEffects")
    allowed = NO_SIDE_EFFECTS if rules.no_side_effects else ("None", "NoneOnDryRun", "Some",
                                                              "Unknown")
    if side_effects is None:
        errs.required(f"{path}.sideEffects", f"must specify one of {', '.join(allowed)}")
    elif side_effects not in allowed:
        errs.not_supported(f"{path}.sideEffects", side_effects, allowed)
    timeout = hook.get("timeoutSeconds")
    if timeout is not None and not (isinstance(timeout, int) and 1 <= timeout <= 30):
        errs.invalid(f"{path}.timeoutSeconds", timeout,
                     "the timeout value must be between 1 and 30 seconds")
    for key in ("namespaceSelector", "objectSelector"):
        if hook.get(key) is not None:
            errs.causes.extend(label_selector_errors(hook[key], f"{path}.{key}",
                                                     check_values=rules.label_values))
    if mutating:
        _optional_one_of(errs, hook, "reinvocationPolicy", REINVOCATION_POLICIES, path)
    _validate_client_config(errs, as_dict(hook.get("clientConfig")), f"{path}.clientConfig")
    validate_match_conditions(errs, hook.get("matchConditions"), f"{path}.matchConditions",
                              declared=declarations(params=False),
                              stored=rules.stored_expressions)


def _optional_one_of(errs: ErrorList, hook: Obj, key: str, supported: tuple[str, ...],
                     path: str) -> None:
    if hook.get(key) is not None and hook[key] not in supported:
        errs.not_supported(f"{path}.{key}", hook[key], supported)


def _validate_fully_qualified_name(errs: ErrorList, name: str, path: str) -> None:
    """utilvalidation.IsFullyQualifiedName: a DNS subdomain of at least three segments."""
    if not name:
        errs.required(path)
    elif problems := names.is_dns1123_subdomain(name):
        errs.invalid(path, name, ",".join(problems))
    elif len(name.split(".")) < 3:
        errs.invalid(path, name, "should be a domain with at least three segments separated "
                                 "by dots")


def _validate_review_versions(errs: ErrorList, versions: Any, path: str, *,
                              require_recognized: bool) -> None:
    versions = as_list(versions)
    if not versions:
        errs.required(path, f"must specify one of {', '.join(ADMISSION_REVIEW_VERSIONS)}")
        return
    seen: set[str] = set()
    for i, version in enumerate(versions):
        if version in seen:
            errs.invalid(f"{path}[{i}]", version, "duplicate version")
            continue
        seen.add(version)
        errs.each(f"{path}[{i}]", version, names.is_dns1035_label(str(version)))
    if require_recognized and not seen.intersection(ADMISSION_REVIEW_VERSIONS):
        errs.invalid(path, versions,
                     f"must include at least one of {', '.join(ADMISSION_REVIEW_VERSIONS)}")


# --- rules -------------------------------------------------------------------------------

def validate_rule(errs: ErrorList, rule: Obj, path: str) -> None:
    """validateRuleWithOperations, subresources allowed."""
    operations = as_list(rule.get("operations"))
    if not operations:
        errs.required(f"{path}.operations")
    if len(operations) > 1 and "*" in operations:
        errs.invalid(f"{path}.operations", operations,
                     "if '*' is present, must not specify other operations")
    for i, operation in enumerate(operations):
        if operation not in OPERATIONS:
            errs.not_supported(f"{path}.operations[{i}]", operation, OPERATIONS)
    for key, noun in (("apiGroups", "API groups"), ("apiVersions", "API versions")):
        values = as_list(rule.get(key))
        if not values:
            errs.required(f"{path}.{key}")
        if len(values) > 1 and "*" in values:
            errs.invalid(f"{path}.{key}", values,
                         f"if '*' is present, must not specify other {noun}")
    for i, version in enumerate(as_list(rule.get("apiVersions"))):
        if version == "":
            errs.required(f"{path}.apiVersions[{i}]")
    _validate_resources(errs, as_list(rule.get("resources")), f"{path}.resources")
    if rule.get("scope") is not None and rule["scope"] not in SCOPES:
        errs.not_supported(f"{path}.scope", rule["scope"], SCOPES)


def _validate_resources(errs: ErrorList, resources: list[Any], path: str) -> None:
    """`x`, `x/y`, `x/*`, `*/y`, `*`, `*/*` — and no entry another one already covers."""
    if not resources:
        errs.required(path)
    wildcard_subresources: set[str] = set()  # x/*
    wildcard_resources: set[str] = set()  # */x
    plain = False
    for i, entry in enumerate(resources):
        entry = str(entry)
        if not entry:
            errs.required(f"{path}[{i}]")
            continue
        if "/" not in entry:
            plain = entry != "*"
            continue
        resource, sub = entry.split("/", 1)
        if resource in wildcard_subresources:
            errs.invalid(f"{path}[{i}]", entry, f"if '{resource}/*' is present, must not "
                                                f"specify {entry}")
        if sub in wildcard_resources:
            errs.invalid(f"{path}[{i}]", entry, f"if '*/{sub}' is present, must not "
                                                f"specify {entry}")
        if sub == "*":
            wildcard_subresources.add(resource)
        if resource == "*":
            wildcard_resources.add(sub)
    if len(resources) > 1 and "*/*" in resources:
        errs.invalid(path, resources, "if '*/*' is present, must not specify other resources")
    if "*" in resources and plain:
        errs.invalid(path, resources, "if '*' is present, must not specify other resources "
                                      "without subresources")


# --- selectors, client config, match conditions ------------------------------------------


def _validate_client_config(errs: ErrorList, config: Obj, path: str) -> None:
    url, service = config.get("url"), config.get("service")
    if (url is None) == (service is None):
        errs.required(path, "exactly one of url or service is required")
    elif url is not None:
        _validate_url(errs, str(url), f"{path}.url")
    else:
        _validate_service(errs, as_dict(service), f"{path}.service")


def _validate_url(errs: ErrorList, url: str, path: str) -> None:
    """ValidateWebhookURL with https forced."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as e:
        errs.required(path, f"url must be a valid URL: {e}{_URL_FORM}")
        return
    userinfo, _, host = parts.netloc.rpartition("@")
    if parts.scheme != "https":
        errs.invalid(path, parts.scheme, "'https' is the only allowed URL scheme" + _URL_FORM)
    if not host:
        errs.invalid(path, host, "host must be provided" + _URL_FORM)
    if userinfo or "@" in parts.netloc:
        errs.invalid(path, userinfo, "user information is not permitted in the URL")
    if parts.fragment:
        errs.invalid(path, parts.fragment, "fragments are not permitted in the URL")
    if parts.query:
        errs.invalid(path, parts.query, "query parameters are not permitted in the URL")


def _validate_service(errs: ErrorList, service: Obj, path: str) -> None:
    """ValidateWebhookService: name, namespace, port and a path of DNS-subdomain segments."""
    if not service.get("name"):
        errs.required(f"{path}.name", "service name is required")
    if not service.get("namespace"):
        errs.required(f"{path}.namespace", "service namespace is required")
    port = service.get("port", 443)
    if problems := names.is_valid_port_num(port):
        errs.invalid(f"{path}.port", port, "port is not valid: " + ", ".join(problems))
    url_path = service.get("path")
    if url_path in (None, "", "/"):
        return
    url_path = str(url_path)
    if url_path == "//":
        errs.invalid(f"{path}.path", url_path, "segment[0] may not be empty")
        return
    if not url_path.startswith("/"):
        errs.invalid(f"{path}.path", url_path, "must start with a '/'")
    steps = url_path[1:].removesuffix("/").split("/")
    for i, step in enumerate(steps):
        if not step:
            errs.invalid(f"{path}.path", url_path, f"segment[{i}] may not be empty")
        for problem in names.is_dns1123_subdomain(step) if step else ():
            errs.invalid(f"{path}.path", url_path, f"segment[{i}]: {problem}")


def validate_match_conditions(errs: ErrorList, conditions: Any, path: str, *,
                              declared: frozenset[str], stored: frozenset[str]) -> None:
    """Count, names and CEL of matchConditions; `stored` expressions are not recompiled."""
    conditions = as_list(conditions)
    if len(conditions) > MAX_MATCH_CONDITIONS:
        errs.causes.append((path, TOO_MANY, f"Too many: {len(conditions)}: must have at most "
                                            f"{MAX_MATCH_CONDITIONS} items"))
    seen: set[str] = set()
    for i, condition in enumerate(conditions):
        condition, p = as_dict(condition), f"{path}[{i}]"
        expression = str(condition.get("expression") or "").strip()
        if not expression:
            errs.required(f"{p}.expression")
        elif expression not in stored:
            check_expression(errs, expression, f"{p}.expression", declared)
        name = condition.get("name") or ""
        errs.required_valid(f"{p}.name", name, names.is_qualified_name)
        if name and name in seen:
            errs.duplicate(f"{p}.name", name)
        seen.add(name)


def check_expression(errs: ErrorList, expression: str, path: str,
                     declared: frozenset[str]) -> None:
    """An Invalid cause carrying cel-go's compile report when `expression` does not compile."""
    try:
        compile_expression(expression, declared)
    except CompileError as e:
        errs.invalid(path, expression, str(e))


def stored_expressions(conditions: Any) -> frozenset[str]:
    """The expressions of stored matchConditions (kept valid whatever the compiler says now)."""
    return frozenset(str(as_dict(c).get("expression") or "").strip() for c in as_list(conditions))
