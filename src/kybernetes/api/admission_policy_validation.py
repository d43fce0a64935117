"""Defaults and validation of ValidatingAdmissionPolicy and its Binding (admissionregistration/v1).

Follows pkg/apis/admissionregistration/v1/defaults.go and
pkg/apis/admissionregistration/validation/validation.go, field paths and
wording included (even Kubernetes' `spec.matchResouces` for a binding's
matchResources). Every CEL expression is compiled with the variables it may
name (admission_expressions.py); a compile error is the field's Invalid
cause, `compilation failed: ERROR: <input>:l:c: …`. On update, expressions the
old policy already had are not compiled again (Kubernetes compiles them in its
more lenient "stored expressions" environment).

Not checked: the result type of expressions (cel-rust does not type-check, so
a validation that yields a string is refused at admission, not here) and cost
limits.
"""

from __future__ import annotations

import re
from typing import Any

from kybernetes.api import meta as names
from kybernetes.api.admission_expressions import declarations
from kybernetes.api.admissionregistration_validation import (
    FAILURE_POLICIES,
    MATCH_POLICIES,
    check_expression,
    stored_expressions,
    validate_match_conditions,
    validate_rule,
)
from kybernetes.api.field_errors import ErrorList, Obj, as_dict, as_list, label_selector_errors

VALIDATION_ACTIONS = ("Audit", "Deny", "Warn")
PARAMETER_NOT_FOUND_ACTIONS = ("Deny", "Allow")
POLICY_REASONS = ("Forbidden", "Invalid", "RequestEntityTooLarge", "Unauthorized")
MAX_AUDIT_ANNOTATIONS = 20
MAX_VALUE_EXPRESSION_LENGTH = 5 * 1024
_CEL_IDENTIFIER = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")
_CEL_RESERVED = frozenset({"true", "false", "null", "in", "as", "break", "const", "continue",
                           "else", "for", "function", "if", "import", "let", "loop", "package",
                           "namespace", "return", "var", "void", "while"})


# --- defaults ----------------------------------------------------------------------------

def match_resources_defaults(match: Any) -> None:
    """SetDefaults_MatchResources and SetDefaults_Rule of its (exclude)ResourceRules."""
    if not isinstance(match, dict):
        return
    match.setdefault("matchPolicy", "Equivalent")
    match.setdefault("namespaceSelector", {})
    match.setdefault("objectSelector", {})
    for key in ("resourceRules", "excludeResourceRules"):
        for rule in as_list(match.get(key)):
            if isinstance(rule, dict):
                rule.setdefault("scope", "*")


def policy_defaults(obj: Obj) -> None:
    spec = obj.get("spec")
    if isinstance(spec, dict):
        spec.setdefault("failurePolicy", "Fail")
        match_resources_defaults(spec.get("matchConstraints"))


def binding_defaults(obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    match_resources_defaults(spec.get("matchResources"))
    param_ref = spec.get("paramRef")
    if isinstance(param_ref, dict):
        param_ref.setdefault("parameterNotFoundAction", "Deny")


# --- ValidatingAdmissionPolicy -----------------------------------------------------------

def _stored(old: Obj | None) -> frozenset[str]:
    """Every expression the old policy had."""
    spec = as_dict((old or {}).get("spec"))
    found = set(stored_expressions(spec.get("matchConditions")))
    for key, field in (("validations", "expression"), ("validations", "messageExpression"),
                       ("variables", "expression"), ("auditAnnotations", "valueExpression")):
        found |= {str(as_dict(item).get(field) or "").strip() for item in as_list(spec.get(key))}
    return frozenset(found)


def validate_policy(errs: ErrorList, obj: Obj, old: Obj | None) -> None:
    """validateValidatingAdmissionPolicySpec."""
    spec, path = as_dict(obj.get("spec")), "spec"
    stored = _stored(old)
    _required_one_of(errs, spec.get("failurePolicy"), f"{path}.failurePolicy", FAILURE_POLICIES)
    has_params = spec.get("paramKind") is not None
    if has_params:
        _validate_param_kind(errs, as_dict(spec["paramKind"]), f"{path}.paramKind")
    match = spec.get("matchConstraints")
    if match is None:
        errs.required(f"{path}.matchConstraints")
    else:
        validate_match_resources(errs, as_dict(match), f"{path}.matchConstraints")
        if not as_list(as_dict(match).get("resourceRules")):
            errs.required(f"{path}.matchConstraints.resourceRules")
    validate_match_conditions(errs, spec.get("matchConditions"), f"{path}.matchConditions",
                              declared=declarations(params=has_params), stored=stored)
    composed = bool(as_list(spec.get("variables")))
    declared = declarations(params=has_params, variables=composed)
    for i, variable in enumerate(as_list(spec.get("variables"))):
        _validate_variable(errs, as_dict(variable), f"{path}.variables[{i}]", declared, stored)
    validations, annotations = as_list(spec.get("validations")), spec.get("auditAnnotations")
    if not validations and not as_list(annotations):
        for key in ("validations", "auditAnnotations"):
            errs.required(f"{path}.{key}", "validations or auditAnnotations must contain at "
                                           "least one item")
        return
    messages = declarations(params=has_params, authorizer=False, variables=composed)
    for i, validation in enumerate(validations):
        _validate_validation(errs, as_dict(validation), f"{path}.validations[{i}]",
                             (declared, messages), stored)
    _validate_audit_annotations(errs, obj, as_list(annotations), f"{path}.auditAnnotations",
                                declared, stored)


def _required_one_of(errs: ErrorList, value: Any, path: str, supported: tuple[str, ...]) -> None:
    if value is None:
        errs.required(path)
    elif value not in supported:
        errs.not_supported(path, value, supported)


def _validate_param_kind(errs: ErrorList, kind: Obj, path: str) -> None:
    api_version, kind_name = str(kind.get("apiVersion") or ""), str(kind.get("kind") or "")
    if not api_version:
        errs.required(f"{path}.apiVersion")
    elif api_version.count("/") > 1:
        errs.invalid(f"{path}.apiVersion", api_version,
                     f"unexpected GroupVersion string: {api_version}")
    elif api_version != "/":
        group, _, version = api_version.rpartition("/")
        if group:
            errs.each(f"{path}.apiVersion", group, names.is_dns1123_subdomain(group))
        if not version:
            errs.invalid(f"{path}.apiVersion", api_version, "version must be specified")
        elif problems := names.is_dns1035_label(version):
            errs.invalid(f"{path}.apiVersion", version, ",".join(problems))
    if not kind_name:
        errs.required(f"{path}.kind")
    elif problems := names.is_dns1035_label(kind_name.lower()):
        errs.invalid(f"{path}.kind", kind_name, "may have mixed case, but should otherwise "
                                                "match: " + ",".join(problems))


def validate_match_resources(errs: ErrorList, match: Obj, path: str) -> None:
    """validateMatchResources: matchPolicy, both selectors (strictly), named rules."""
    _required_one_of(errs, match.get("matchPolicy"), f"{path}.matchPolicy", MATCH_POLICIES)
    for key in ("namespaceSelector", "objectSelector"):
        if match.get(key) is None:
            errs.required(f"{path}.{key}")
        else:
            errs.causes.extend(label_selector_errors(match[key], f"{path}.{key}"))
    for key in ("resourceRules", "excludeResourceRules"):
        for i, rule in enumerate(as_list(match.get(key))):
            _validate_named_rule(errs, as_dict(rule), f"{path}.{key}[{i}]")


def _validate_named_rule(errs: ErrorList, rule: Obj, path: str) -> None:
    seen: set[str] = set()
    for i, name in enumerate(as_list(rule.get("resourceNames"))):
        name = str(name)
        for problem in path_segment_problems(name):
            errs.invalid(f"{path}.resourceNames[{i}]", name, problem)
        if name in seen:
            errs.duplicate(f"{path}.resourceNames[{i}]", name)
        seen.add(name)
    validate_rule(errs, rule, path)


path_segment_problems = names.is_path_segment_name


def _validate_variable(errs: ErrorList, variable: Obj, path: str, declared: frozenset[str],
                       stored: frozenset[str]) -> None:
    name, expression = str(variable.get("name") or ""), str(variable.get("expression") or "")
    if not name.strip():
        errs.required(f"{path}.name", "name is not specified")
    elif not _CEL_IDENTIFIER.match(name) or name in _CEL_RESERVED:
        errs.invalid(f"{path}.name", name, "name is not a valid CEL identifier")
    if not expression.strip():
        errs.required(f"{path}.expression", "expression is not specified")
    elif expression.strip() not in stored:
        check_expression(errs, expression, f"{path}.expression", declared)


def _validate_validation(errs: ErrorList, validation: Obj, path: str,
                         declared: tuple[frozenset[str], frozenset[str]],
                         stored: frozenset[str]) -> None:
    expression = str(validation.get("expression") or "")
    message_expression = str(validation.get("messageExpression") or "")
    message = str(validation.get("message") or "")
    if not expression.strip():
        errs.required(f"{path}.expression", "expression is not specified")
    elif expression.strip() not in stored:
        check_expression(errs, expression, f"{path}.expression", declared[0])
    if message_expression and not message_expression.strip():
        errs.invalid(f"{path}.messageExpression", message_expression,
                     "must be non-empty if specified")
    elif message_expression.strip() and message_expression.strip() not in stored:
        check_expression(errs, message_expression, f"{path}.messageExpression", declared[1])
    if message and not message.strip():
        errs.invalid(f"{path}.message", message, "message must be non-empty if specified")
    elif re.search(r"[\n\r]", message.strip()):
        errs.invalid(f"{path}.message", message, "message must not contain line breaks")
    reason = validation.get("reason")
    if reason is not None and reason not in POLICY_REASONS:
        errs.not_supported(f"{path}.reason", reason, POLICY_REASONS)


def _validate_audit_annotations(errs: ErrorList, obj: Obj, annotations: list[Any], path: str,
                                declared: frozenset[str], stored: frozenset[str]) -> None:
    if len(annotations) > MAX_AUDIT_ANNOTATIONS:
        errs.invalid(path, annotations,
                     f"must not have more than {MAX_AUDIT_ANNOTATIONS} auditAnnotations")
    policy_name = str(as_dict(obj.get("metadata")).get("name") or "")
    keys: set[str] = set()
    for i, annotation in enumerate(annotations):
        annotation, p = as_dict(annotation), f"{path}[{i}]"
        key = str(annotation.get("key") or "")
        if policy_name:
            errs.each(f"{p}.key", f"{policy_name}/{key}",
                      names.is_qualified_name(f"{policy_name}/{key}"))
        else:
            errs.invalid(f"{p}.key", key, "requires metadata.name be non-empty")
        value = str(annotation.get("valueExpression") or "")
        if not value.strip():
            errs.required(f"{p}.valueExpression", "valueExpression is not specified")
        elif len(value.strip()) > MAX_VALUE_EXPRESSION_LENGTH:
            errs.required(f"{p}.valueExpression",
                          f"must not exceed {MAX_VALUE_EXPRESSION_LENGTH} bytes in length")
        elif value.strip() not in stored:
            check_expression(errs, value.strip(), f"{p}.valueExpression", declared)
        if key in keys:
            errs.duplicate(f"{p}.key", key)
        keys.add(key)


# --- ValidatingAdmissionPolicyBinding ----------------------------------------------------

def validate_binding(errs: ErrorList, obj: Obj, old: Obj | None) -> None:
    """validateValidatingAdmissionPolicyBindingSpec."""
    spec, path = as_dict(obj.get("spec")), "spec"
    policy_name = str(spec.get("policyName") or "")
    errs.required_valid(f"{path}.policyName", policy_name, names.is_dns1123_subdomain)
    if spec.get("paramRef") is not None:
        _validate_param_ref(errs, as_dict(spec["paramRef"]), f"{path}.paramRef")
    if spec.get("matchResources") is not None:
        # Kubernetes' own spelling of the path, kept because clients match on it.
        validate_match_resources(errs, as_dict(spec["matchResources"]), f"{path}.matchResouces")
    _validate_actions(errs, as_list(spec.get("validationActions")), f"{path}.validationActions")


def _validate_param_ref(errs: ErrorList, ref: Obj, path: str) -> None:
    name, selector = str(ref.get("name") or ""), ref.get("selector")
    exclusive = "name and selector are mutually exclusive"
    if name:
        for problem in path_segment_problems(name):
            errs.invalid(f"{path}.name", name, problem)
        if selector is not None:
            errs.forbidden(f"{path}.name", exclusive)
    if selector is not None:
        errs.causes.extend(label_selector_errors(selector, f"{path}.selector"))
        if name:
            errs.forbidden(f"{path}.selector", exclusive)
    if not name and selector is None:
        errs.required(path, "one of name or selector must be specified")
    action = ref.get("parameterNotFoundAction")
    if not action:
        errs.required(f"{path}.parameterNotFoundAction")
    elif action not in PARAMETER_NOT_FOUND_ACTIONS:
        errs.not_supported(f"{path}.parameterNotFoundAction", action, PARAMETER_NOT_FOUND_ACTIONS)


def _validate_actions(errs: ErrorList, actions: list[Any], path: str) -> None:
    seen: set[Any] = set()
    for i, action in enumerate(actions):
        if action not in VALIDATION_ACTIONS:
            errs.not_supported(f"{path}[{i}]", action, VALIDATION_ACTIONS)
        if action in seen:
            errs.duplicate(f"{path}[{i}]", action)
        seen.add(action)
    if {"Deny", "Warn"} <= seen:
        errs.invalid(path, actions, "must not contain both Deny and Warn (repeating the same "
                                    "validation failure information in the API response and "
                                    "headers serves no purpose)")
    if not seen:
        errs.required(path, "at least one validation action is required")
