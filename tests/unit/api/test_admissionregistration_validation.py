"""Webhook configurations are defaulted and validated as Kubernetes does, causes word for word."""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api.admissionregistration_validation import (
    validate_webhook_configuration,
    webhook_configuration_defaults,
)
from kybernetes.api.errors import invalid
from kybernetes.api.field_errors import ErrorList

RULE = {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
        "resources": ["pods"]}
HOOK = {"name": "x.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
        "clientConfig": {"url": "https://hooks.example.com/check"}, "rules": [RULE]}


def configuration(*hooks: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "c"}, "webhooks": [copy.deepcopy(h) for h in hooks]}


def causes(obj: dict[str, Any], old: dict[str, Any] | None = None, *,
           mutating: bool = True) -> list[tuple[str, str, str]]:
    obj = copy.deepcopy(obj)
    webhook_configuration_defaults(obj, mutating=mutating)
    errs = ErrorList()
    validate_webhook_configuration(errs, obj, old, mutating=mutating)
    return errs.causes


def with_hook(**fields: Any) -> dict[str, Any]:
    return configuration({**HOOK, **fields})


def test_defaults_are_kubernetes_v1_defaults() -> None:
    obj = configuration({**HOOK, "clientConfig": {"service": {"namespace": "n", "name": "s"}}})
    webhook_configuration_defaults(obj, mutating=True)
    hook = obj["webhooks"][0]
    assert {k: hook[k] for k in ("failurePolicy", "matchPolicy", "namespaceSelector",
                                 "objectSelector", "timeoutSeconds", "reinvocationPolicy")} == {
        "failurePolicy": "Fail", "matchPolicy": "Equivalent", "namespaceSelector": {},
        "objectSelector": {}, "timeoutSeconds": 10, "reinvocationPolicy": "Never"}
    assert hook["rules"][0]["scope"] == "*"
    assert hook["clientConfig"]["service"]["port"] == 443
    validating = configuration(HOOK)
    webhook_configuration_defaults(validating, mutating=False)
    assert "reinvocationPolicy" not in validating["webhooks"][0]


def test_valid_configurations_have_no_causes() -> None:
    assert causes(configuration(HOOK)) == []
    assert causes(configuration(HOOK), mutating=False) == []


def test_names_must_be_fully_qualified_and_unique() -> None:
    assert causes(configuration({**HOOK, "name": "short.name"}, HOOK, HOOK)) == [
        ("webhooks[0].name", "FieldValueInvalid", 'Invalid value: "short.name": should be a '
                                                  "domain with at least three segments "
                                                  "separated by dots"),
        ("webhooks[2].name", "FieldValueDuplicate", 'Duplicate value: "x.example.com"'),
    ]
    assert causes(with_hook(name="")) == [("webhooks[0].name", "FieldValueRequired",
                                           "Required value")]


def test_side_effects_and_review_versions_are_required() -> None:
    hook = {k: v for k, v in HOOK.items() if k not in ("sideEffects", "admissionReviewVersions")}
    assert causes(configuration(hook)) == [
        ("webhooks[0].sideEffects", "FieldValueRequired",
         "Required value: must specify one of None, NoneOnDryRun"),
        ("webhooks[0].admissionReviewVersions", "FieldValueRequired",
         "Required value: must specify one of v1, v1beta1"),
    ]
    assert causes(with_hook(sideEffects="Some", admissionReviewVersions=["v2", "v2"])) == [
        ("webhooks[0].sideEffects", "FieldValueNotSupported",
         'Unsupported value: "Some": supported values: "None", "NoneOnDryRun"'),
        ("webhooks[0].admissionReviewVersions[1]", "FieldValueInvalid",
         'Invalid value: "v2": duplicate version'),
        ("webhooks[0].admissionReviewVersions", "FieldValueInvalid",
         'Invalid value: []string{"v2", "v2"}: must include at least one of v1, v1beta1'),
    ]


def test_update_may_keep_what_the_old_object_already_had() -> None:
    old = with_hook(sideEffects="Some")
    assert causes(with_hook(sideEffects="Unknown"), old) == []
    assert causes(with_hook(sideEffects="Unknown"), configuration(HOOK))[0][0] == \
        "webhooks[0].sideEffects"


def test_policies_and_timeout_are_checked() -> None:
    assert causes(with_hook(failurePolicy="Sometimes", matchPolicy="Loose", timeoutSeconds=31,
                            reinvocationPolicy="Always")) == [
        ("webhooks[0].failurePolicy", "FieldValueNotSupported",
         'Unsupported value: "Sometimes": supported values: "Fail", "Ignore"'),
        ("webhooks[0].matchPolicy", "FieldValueNotSupported",
         'Unsupported value: "Loose": supported values: "Equivalent", "Exact"'),
        ("webhooks[0].timeoutSeconds", "FieldValueInvalid",
         "Invalid value: 31: the timeout value must be between 1 and 30 seconds"),
        ("webhooks[0].reinvocationPolicy", "FieldValueNotSupported",
         'Unsupported value: "Always": supported values: "IfNeeded", "Never"'),
    ]


def test_client_config_needs_exactly_one_of_url_and_service() -> None:
    both = {"url": "https://a.b/c", "service": {"namespace": "n", "name": "s"}}
    for config in ({}, both):
        assert causes(with_hook(clientConfig=config)) == [
            ("webhooks[0].clientConfig", "FieldValueRequired",
             "Required value: exactly one of url or service is required")]


def test_url_must_be_plain_https() -> None:
    url = "http://user@hooks.example.com/check?x=1#frag"
    form = "; desired format: https://host[/path]"
    assert causes(with_hook(clientConfig={"url": url})) == [
        ("webhooks[0].clientConfig.url", "FieldValueInvalid",
         "Invalid value: \"http\": 'https' is the only allowed URL scheme" + form),
        ("webhooks[0].clientConfig.url", "FieldValueInvalid",
         'Invalid value: "user": user information is not permitted in the URL'),
        ("webhooks[0].clientConfig.url", "FieldValueInvalid",
         'Invalid value: "frag": fragments are not permitted in the URL'),
        ("webhooks[0].clientConfig.url", "FieldValueInvalid",
         'Invalid value: "x=1": query parameters are not permitted in the URL'),
    ]
    assert causes(with_hook(clientConfig={"url": "https:///path"})) == [
        ("webhooks[0].clientConfig.url", "FieldValueInvalid",
         'Invalid value: "": host must be provided' + form)]


def test_service_reference_is_checked() -> None:
    service = {"namespace": "", "name": "", "port": 70000, "path": "check//x"}
    assert causes(with_hook(clientConfig={"service": service})) == [
        ("webhooks[0].clientConfig.service.name", "FieldValueRequired",
         "Required value: service name is required"),
        ("webhooks[0].clientConfig.service.namespace", "FieldValueRequired",
         "Required value: service namespace is required"),
        ("webhooks[0].clientConfig.service.port", "FieldValueInvalid",
         "Invalid value: 70000: port is not valid: must be between 1 and 65535, inclusive"),
        ("webhooks[0].clientConfig.service.path", "FieldValueInvalid",
         "Invalid value: \"check//x\": must start with a '/'"),
        ("webhooks[0].clientConfig.service.path", "FieldValueInvalid",
         'Invalid value: "check//x": segment[1] may not be empty'),
    ]


def test_rules_operations_scope_and_wildcards() -> None:
    rule = {"operations": ["*", "PATCH"], "apiGroups": [], "apiVersions": ["*", "v1"],
            "resources": ["*", "pods", "*/*"], "scope": "Everywhere"}
    p = "webhooks[0].rules[0]"
    assert causes(with_hook(rules=[rule])) == [
        (f"{p}.operations", "FieldValueInvalid",
         'Invalid value: []string{"*", "PATCH"}: if \'*\' is present, must not specify other '
         "operations"),
        (f"{p}.operations[1]", "FieldValueNotSupported",
         'Unsupported value: "PATCH": supported values: "*", "CONNECT", "CREATE", "DELETE", '
         '"UPDATE"'),
        (f"{p}.apiGroups", "FieldValueRequired", "Required value"),
        (f"{p}.apiVersions", "FieldValueInvalid",
         'Invalid value: []string{"*", "v1"}: if \'*\' is present, must not specify other API '
         "versions"),
        (f"{p}.resources", "FieldValueInvalid",
         'Invalid value: []string{"*", "pods", "*/*"}: if \'*/*\' is present, must not specify '
         "other resources"),
        (f"{p}.resources", "FieldValueInvalid",
         'Invalid value: []string{"*", "pods", "*/*"}: if \'*\' is present, must not specify '
         "other resources without subresources"),
        (f"{p}.scope", "FieldValueNotSupported",
         'Unsupported value: "Everywhere": supported values: "*", "Cluster", "Namespaced"'),
    ]


def test_subresource_wildcards_may_not_overlap() -> None:
    rule = {**RULE, "resources": ["pods/*", "pods/status", "*/scale", "deployments/scale"]}
    p = "webhooks[0].rules[0].resources"
    assert causes(with_hook(rules=[rule])) == [
        (f"{p}[1]", "FieldValueInvalid",
         "Invalid value: \"pods/status\": if 'pods/*' is present, must not specify pods/status"),
        (f"{p}[3]", "FieldValueInvalid",
         "Invalid value: \"deployments/scale\": if '*/scale' is present, must not specify "
         "deployments/scale"),
    ]


def test_selectors_are_label_selectors() -> None:
    selector = {"matchLabels": {"bad key!": "v"},
                "matchExpressions": [{"key": "env", "operator": "In"},
                                     {"key": "tier", "operator": "Near", "values": ["a b"]}]}
    assert [c[0] for c in causes(with_hook(namespaceSelector=selector))] == [
        "webhooks[0].namespaceSelector.matchLabels",
        "webhooks[0].namespaceSelector.matchExpressions[0].values",
        "webhooks[0].namespaceSelector.matchExpressions[1].operator",
        "webhooks[0].namespaceSelector.matchExpressions[1].values[0]",
    ]


def test_match_conditions_need_unique_names_and_an_expression() -> None:
    conditions = [{"name": "a", "expression": "true"}, {"name": "a", "expression": " "}]
    assert causes(with_hook(matchConditions=conditions)) == [
        ("webhooks[0].matchConditions[1].expression", "FieldValueRequired", "Required value"),
        ("webhooks[0].matchConditions[1].name", "FieldValueDuplicate", 'Duplicate value: "a"'),
    ]


def test_causes_make_the_422_kubectl_prints() -> None:
    error = invalid("MutatingWebhookConfiguration", "c", causes(with_hook(timeoutSeconds=0)),
                    group="admissionregistration.k8s.io")
    assert error.code == 422
    assert error.message == (
        'MutatingWebhookConfiguration.admissionregistration.k8s.io "c" is invalid: '
        "webhooks[0].timeoutSeconds: Invalid value: 0: the timeout value must be between 1 "
        "and 30 seconds")
