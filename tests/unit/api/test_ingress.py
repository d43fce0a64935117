"""Ingress and IngressClass defaults and validation, with Kubernetes' paths and wording."""

import copy

from kybernetes.api import resources
from tests.unit.api.test_validation import causes, defaulted

BACKEND = {"service": {"name": "web", "port": {"number": 80}}}
INGRESS = {"metadata": {"name": "ing", "namespace": "default"},
           "spec": {"rules": [{"host": "*.example.com", "http": {"paths": [
               {"path": "/", "pathType": "Prefix", "backend": BACKEND}]}}],
                    "tls": [{"hosts": ["*.example.com"], "secretName": "cert"}]}}


def _ingress(**spec):
    ingress = copy.deepcopy(INGRESS)
    ingress["spec"].update(spec)
    return ingress


def _paths(*paths):
    return [{"host": "a.example.com", "http": {"paths": list(paths)}}]


def test_a_valid_ingress_and_bad_hosts():
    assert causes(resources.INGRESSES, INGRESS) == {}
    found = causes(resources.INGRESSES, _ingress(rules=[
        {"host": "*", "http": {"paths": [{"path": "/", "pathType": "Exact",
                                          "backend": BACKEND}]}},
        {"host": "Upper.com"}]))
    assert found[("spec.rules[0].host", "FieldValueInvalid")].startswith(
        'Invalid value: "*": a wildcard DNS-1123 subdomain must start with \'*.\'')
    assert found[("spec.rules[1].host", "FieldValueInvalid")].startswith(
        'Invalid value: "Upper.com": a lowercase RFC 1123 subdomain')


def test_paths_and_backends():
    found = causes(resources.INGRESSES, _ingress(rules=_paths(
        {"path": "/a//b", "pathType": "Prefix", "backend": BACKEND},
        {"path": "/a/..", "pathType": "Exact", "backend": BACKEND},
        {"path": "rel", "pathType": "ImplementationSpecific", "backend": BACKEND},
        {"path": "/", "pathType": "Regex", "backend": BACKEND},
        {"path": "/", "pathType": "Prefix", "backend": {"service": {
            "name": "Web", "port": {"name": "http", "number": 80}}}},
        {"path": "/", "pathType": "Prefix", "backend": {
            "service": {"name": "web", "port": {"number": 80}},
            "resource": {"kind": "Bucket", "name": "b"}}},
        {"path": "/", "pathType": "Prefix", "backend": {"resource": {"name": "b"}}})))
    p = "spec.rules[0].http.paths"
    assert found[(f"{p}[0].path", "FieldValueInvalid")] == \
        'Invalid value: "/a//b": must not contain \'//\''
    assert found[(f"{p}[1].path", "FieldValueInvalid")] == \
        'Invalid value: "/a/..": cannot end with \'/..\''
    assert found[(f"{p}[2].path", "FieldValueInvalid")] == \
        'Invalid value: "rel": must be an absolute path'
    assert found[(f"{p}[3].pathType", "FieldValueNotSupported")] == (
        'Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", '
        '"Prefix"')
    assert found[(f"{p}[4].backend.service.name", "FieldValueInvalid")].startswith(
        'Invalid value: "Web": a DNS-1035 label')
    assert found[(f"{p}[4].backend", "FieldValueInvalid")] == \
        'Invalid value: "": cannot set both port name & port number'
    assert found[(f"{p}[5].backend", "FieldValueInvalid")] == \
        'Invalid value: "": cannot set both resource and service backends'
    assert found[(f"{p}[6].backend.resource.kind", "FieldValueRequired")] == \
        "Required value: kind is required"


def test_the_class_annotation_and_field_together_only_on_create():
    both = _ingress(ingressClassName="nginx")
    both["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx"}
    assert causes(resources.INGRESSES, both)[
        ("annotations.kubernetes.io/ingress.class", "FieldValueInvalid")] == \
        'Invalid value: "nginx": can not be set when the class field is also set'


def test_ingress_class_defaults_and_validation():
    cls = {"metadata": {"name": "c"}, "spec": {"controller": "example.com/ingress",
                                               "parameters": {"kind": "P", "name": "p"}}}
    assert defaulted(resources.INGRESS_CLASSES, cls)["spec"]["parameters"]["scope"] == \
        "Cluster"
    assert causes(resources.INGRESS_CLASSES, cls) == {}
    bad = {"metadata": {"name": "c"}, "spec": {"controller": "nginx", "parameters": {
        "kind": "P", "name": "p", "scope": "Cluster", "namespace": "x"}}}
    found = causes(resources.INGRESS_CLASSES, bad)
    assert found[("spec.controller", "FieldValueInvalid")] == \
        'Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")'
    assert found[("spec.parameters.namespace", "FieldValueForbidden")] == \
        "Forbidden: `parameters.scope` is set to 'Cluster'"
    scoped = copy.deepcopy(cls)
    scoped["spec"]["parameters"]["scope"] = "Namespace"
    assert causes(resources.INGRESS_CLASSES, scoped)[
        ("spec.parameters.namespace", "FieldValueRequired")] == \
        "Required value: `parameters.scope` is set to 'Namespace'"
