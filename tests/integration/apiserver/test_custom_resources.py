"""CustomResourceDefinitions end to end, through the real kubectl and raw HTTP: a CRD is
served within moments, its schema is enforced with Kubernetes' 422s, its
subresources, printer columns, versions and names work, and deleting it deletes
its custom resources."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.apiserver import ApiServer
from tests.support.http import Http, assert_status
from tests.support.kubectl import Kubectl
from tests.support.poll import wait_for

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "/apis/demo.kyb.io/v1/namespaces/default/widgets"

SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["colour"],
    "x-kubernetes-validations": [
        {"rule": "self.replicas <= self.maxReplicas",
         "message": "replicas must not exceed maxReplicas"},
        {"rule": "!has(oldSelf.colour) || self.colour == oldSelf.colour || "
                 "oldSelf.colour != 'gold'", "message": "gold is forever"},
    ],
    "properties": {
        "colour": {"type": "string", "enum": ["red", "green", "blue", "gold"]},
        "replicas": {"type": "integer", "minimum": 0, "default": 1},
        "maxReplicas": {"type": "integer", "maximum": 10, "default": 5},
        "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8},
        "size": {"type": "string", "format": "int-or-string-not"},
        "port": {"x-kubernetes-int-or-string": True},
        "created": {"type": "string", "format": "date-time"},
        "note": {"type": "string", "nullable": True},
        "tags": {"type": "array", "maxItems": 3, "items": {"type": "string"},
                 "x-kubernetes-list-type": "set"},
        "ports": {"type": "array", "x-kubernetes-list-type": "map",
                  "x-kubernetes-list-map-keys": ["name"],
                  "items": {"type": "object", "required": ["name"],
                            "properties": {"name": {"type": "string"},
                                           "number": {"type": "integer"}}}},
        "labels": {"type": "object", "maxProperties": 2,
                   "additionalProperties": {"type": "string"}},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                     "x-kubernetes-preserve-unknown-fields": True},
    },
}
SPEC_SCHEMA["properties"]["size"] = {"type": "string", "minLength": 2}


def widget_crd(**overrides: Any) -> dict[str, Any]:
    version = {
        "name": "v1", "served": True, "storage": True,
        "subresources": {"status": {}, "scale": {
            "specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector"}},
        "additionalPrinterColumns": [
            {"name": "Colour", "type": "string", "jsonPath": ".spec.colour"},
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
            {"name": "Ready", "type": "string",
             "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
            {"name": "Note", "type": "string", "jsonPath": ".spec.note", "priority": 1},
        ],
        "schema": {"openAPIV3Schema": {"type": "object", "properties": {
            "spec": copy.deepcopy(SPEC_SCHEMA),
            "status": {"type": "object", "properties": {
                "replicas": {"type": "integer"}, "selector": {"type": "string"},
                "conditions": {"type": "array", "items": {
                    "type": "object", "properties": {"type": {"type": "string"},
                                                     "status": {"type": "string"}}}}}}}}},
    }
    crd: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.demo.kyb.io"},
        "spec": {"group": "demo.kyb.io", "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                           "shortNames": ["wd"], "categories": ["all", "demo"]},
                 "versions": [version]}}
    crd["spec"].update(overrides)
    return crd


def widget(object_name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "demo.kyb.io/v1", "kind": "Widget",
            "metadata": {"name": object_name},
            "spec": {"colour": "red", **spec}}


def established(http: Http, name: str) -> bool:
    got = http("GET", f"{CRDS}/{name}").json()
    return any(c["type"] == "Established" and c["status"] == "True"
               for c in got.get("status", {}).get("conditions", []))


@pytest.fixture(scope="module")
def http(sqlite_server: ApiServer) -> Iterator[Http]:
    client = Http(sqlite_server)
    created = client("POST", CRDS, widget_crd())
    assert created.status_code == 201, created.text
    assert wait_for(lambda: established(client, "widgets.demo.kyb.io"))
    yield client
    client.session.close()


@pytest.fixture
def kubectl(sqlite_server: ApiServer, tmp_path: Path) -> Kubectl:
    return Kubectl("kubectl", sqlite_server, tmp_path)


def causes(response: Any) -> list[tuple[str, str, str]]:
    status = assert_status(response, 422, "Invalid")
    return [(c["field"], c["reason"], c["message"]) for c in status["details"]["causes"]]


def test_a_crd_is_established_and_served_at_once(http: Http, kubectl: Kubectl) -> None:
    crd = http("GET", f"{CRDS}/widgets.demo.kyb.io").json()
    conditions = {c["type"]: (c["status"], c["reason"]) for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": ("True", "NoConflicts"),
                          "Established": ("True", "InitialNamesAccepted")}
    assert crd["status"]["acceptedNames"]["shortNames"] == ["wd"]
    assert crd["status"]["storedVersions"] == ["v1"]
    assert kubectl("wait", "--for=condition=Established", "crd/widgets.demo.kyb.io",
                   "--timeout=5s").strip().endswith("condition met")
    resources = kubectl("api-resources", "--api-group=demo.kyb.io")
    assert "widgets" in resources and "wd" in resources and "Widget" in resources
    explained = kubectl("explain", "widget.spec.colour")
    assert "enum: red, green, blue, gold" in explained or "red" in explained


def test_crd_create_to_established_is_quick(http: Http) -> None:
    crd = widget_crd()
    crd["metadata"]["name"] = "gadgets.demo.kyb.io"
    crd["spec"]["names"] = {"plural": "gadgets", "kind": "Gadget"}
    started = time.monotonic()
    assert http("POST", CRDS, crd).status_code == 201
    assert wait_for(lambda: established(http, "gadgets.demo.kyb.io"), within=2.0)
    assert http("POST", "/apis/demo.kyb.io/v1/namespaces/default/gadgets",
                {**widget("g1"), "kind": "Gadget"}).status_code == 201
    assert time.monotonic() - started < 2.0


def test_bad_crds_are_refused_with_kubernetes_causes(http: Http) -> None:
    bad = widget_crd()
    bad["metadata"]["name"] = "wrong.demo.kyb.io"
    assert ("metadata.name", "FieldValueInvalid",
            'Invalid value: "wrong.demo.kyb.io": must be spec.names.plural+"."+spec.group') \
        in causes(http("POST", CRDS, bad))
    no_type = widget_crd()
    no_type["metadata"]["name"] = "things.demo.kyb.io"
    no_type["spec"]["names"] = {"plural": "things", "kind": "Thing"}
    no_type["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"]["loose"] = {"description": "no type"}
    found = causes(http("POST", CRDS, no_type))
    assert any(f.endswith("properties[spec].properties[loose].type") and
               m == "Required value: must not be empty for specified object fields"
               for f, _, m in found), found
    no_schema = widget_crd()
    no_schema["metadata"]["name"] = "things.demo.kyb.io"
    no_schema["spec"]["names"] = {"plural": "things", "kind": "Thing"}
    del no_schema["spec"]["versions"][0]["schema"]
    assert ("spec.versions[0].schema.openAPIV3Schema", "FieldValueRequired",
            "Required value: schemas are required") in causes(http("POST", CRDS, no_schema))
    rule = widget_crd()
    rule["metadata"]["name"] = "things.demo.kyb.io"
    rule["spec"]["names"] = {"plural": "things", "kind": "Thing"}
    rule["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "x-kubernetes-validations"] = [{"rule": "self.nope("}]
    found = causes(http("POST", CRDS, rule))
    assert any("x-kubernetes-validations[0].rule" in f and "compilation failed" in m
               for f, _, m in found), found


def test_conflicting_names_are_not_accepted(http: Http) -> None:
    clash = widget_crd()
    clash["metadata"]["name"] = "doohickeys.demo.kyb.io"
    clash["spec"]["names"] = {"plural": "doohickeys", "kind": "Widget"}
    assert http("POST", CRDS, clash).status_code == 201

    def names_refused() -> dict[str, Any] | None:
        got = http("GET", f"{CRDS}/doohickeys.demo.kyb.io").json()
        found = {c["type"]: c for c in got.get("status", {}).get("conditions", [])}
        return found if "NamesAccepted" in found else None

    conditions = wait_for(names_refused)
    assert conditions["NamesAccepted"]["status"] == "False"
    # Every name is checked and the last conflict reported (singular, kind, listKind here).
    assert conditions["NamesAccepted"]["reason"] == "ListKindConflict"
    assert conditions["NamesAccepted"]["message"] == '"WidgetList" is already in use'
    assert conditions["Established"]["status"] == "False"
    assert http("GET", "/apis/demo.kyb.io/v1/doohickeys").status_code == 404
    assert http("DELETE", f"{CRDS}/doohickeys.demo.kyb.io").status_code == 200


@pytest.mark.parametrize(("spec", "expected"), [
    ({"replicas": "three"}, ("spec.replicas", "FieldValueTypeInvalid",
                             'Invalid value: "string": spec.replicas in body must be of type '
                             'integer: "string"')),
    ({"colour": "pink"}, ("spec.colour", "FieldValueNotSupported",
                          'Unsupported value: "pink": supported values: "red", "green", '
                          '"blue", "gold"')),
    ({"name": "Abc"}, ("spec.name", "FieldValueInvalid",
                       'Invalid value: "Abc": spec.name in body should match \'^[a-z]+$\'')),
    ({"maxReplicas": 11}, ("spec.maxReplicas", "FieldValueInvalid",
                           "Invalid value: 11: spec.maxReplicas in body should be less than "
                           "or equal to 10")),
    ({"replicas": -1}, ("spec.replicas", "FieldValueInvalid",
                        "Invalid value: -1: spec.replicas in body should be greater than or "
                        "equal to 0")),
    ({"tags": ["a", "a"]}, ("spec.tags[1]", "FieldValueDuplicate", 'Duplicate value: "a"')),
    ({"tags": ["a", "b", "c", "d"]}, ("spec.tags", "FieldValueTooMany",
                                       "Too many: 4: must have at most 3 items")),
    ({"created": "yesterday"}, ("spec.created", "FieldValueTypeInvalid",
                                'Invalid value: "yesterday": spec.created in body must be of '
                                'type date-time: "yesterday"')),
    ({"name": "abcdefghij"}, ("spec.name", "FieldValueTooLong",
                              "Too long: may not be more than 8 bytes")),
    ({"size": "x"}, ("spec.size", "FieldValueInvalid",
                     'Invalid value: "x": spec.size in body should be at least 2 chars long')),
    ({"labels": {"a": "1", "b": "2", "c": "3"}}, ("spec.labels", "FieldValueTooMany",
                                                  "Too many: 3: must have at most 2 items")),
    ({"labels": {"a": 1}}, ("spec.labels.a", "FieldValueTypeInvalid",
                            'Invalid value: "integer": spec.labels.a in body must be of type '
                            'string: "integer"')),
    ({"port": True}, ("spec.port", "FieldValueTypeInvalid",
                      'Invalid value: "boolean": spec.port in body must be of type '
                      'integer,string: "boolean"')),
    ({"replicas": 6}, ("spec", "FieldValueInvalid",
                       'Invalid value: "object": replicas must not exceed maxReplicas')),
])
def test_schema_violations_are_422_with_kubernetes_causes(
        http: Http, spec: dict[str, Any], expected: tuple[str, str, str]) -> None:
    found = causes(http("POST", WIDGETS, widget("bad", **spec)))
    assert expected in found, found


def test_required_map_keys_and_embedded_resources(http: Http) -> None:
    missing = {"apiVersion": "demo.kyb.io/v1", "kind": "Widget", "metadata": {"name": "m"},
               "spec": {"replicas": 1}}
    assert ("spec.colour", "FieldValueRequired", "Required value") in \
        causes(http("POST", WIDGETS, missing))
    dup_key = widget("k", ports=[{"name": "a", "number": 1}, {"name": "a", "number": 2}])
    found = causes(http("POST", WIDGETS, dup_key))
    assert any(f.startswith("spec.ports[1]") and r == "FieldValueDuplicate"
               for f, r, _ in found), found
    embedded = widget("e", template={"metadata": {"name": "x"}})
    found = causes(http("POST", WIDGETS, embedded))
    assert ("spec.template.apiVersion", "FieldValueRequired", "Required value: must not be "
            "empty") in found or any(f == "spec.template.apiVersion" for f, _, _ in found)


def test_defaulting_pruning_and_preserved_fields(http: Http) -> None:
    created = http("POST", WIDGETS, widget("shape", unknown=1, free={"any": {"thing": 1}},
                                           port="http", note=None), fieldValidation="Ignore")
    assert created.status_code == 201, created.text
    spec = created.json()["spec"]
    assert spec["replicas"] == 1 and spec["maxReplicas"] == 5  # defaults
    assert "unknown" not in spec  # pruned
    assert spec["free"] == {"any": {"thing": 1}}  # x-kubernetes-preserve-unknown-fields
    assert spec["port"] == "http"  # int-or-string
    assert "note" in spec and spec["note"] is None  # nullable keeps its null
    nulled = http("POST", WIDGETS, widget("nulled", replicas=None)).json()["spec"]
    assert nulled["replicas"] == 1  # a null where null is not allowed takes the default
    warned = http("POST", WIDGETS, widget("warned", unknown=1))
    assert warned.status_code == 201
    assert warned.headers.get("Warning") == '299 - "unknown field \\"spec.unknown\\""'
    strict = http("POST", WIDGETS, widget("strict", unknown=1), fieldValidation="Strict")
    assert_status(strict, 400, "BadRequest")
    assert 'unknown field "spec.unknown"' in strict.json()["message"]
    # An embedded resource's apiVersion/kind/metadata and anything under
    # preserve-unknown-fields are known; an unknown metadata field is not.
    embedded = widget("embedded", template={"apiVersion": "v1", "kind": "Pod",
                                            "metadata": {"name": "p"}},
                      free={"whatever": 1})
    assert http("POST", WIDGETS, embedded, fieldValidation="Strict").status_code == 201
    odd = widget("odd")
    odd["metadata"]["colour"] = "red"
    warned = http("POST", WIDGETS, odd)
    assert warned.headers.get("Warning") == '299 - "unknown field \\"metadata.colour\\""'
    assert "colour" not in warned.json()["metadata"]


def test_transition_rule_sees_old_self(http: Http) -> None:
    created = http("POST", WIDGETS, widget("goldie", colour="gold")).json()
    changed = {**created, "spec": {**created["spec"], "colour": "red"}}
    assert ("spec", "FieldValueInvalid", 'Invalid value: "object": gold is forever') in \
        causes(http("PUT", f"{WIDGETS}/goldie", changed))
    same = {**created, "spec": {**created["spec"], "replicas": 2}}
    assert http("PUT", f"{WIDGETS}/goldie", same).status_code == 200


def test_status_and_scale_subresources(http: Http, kubectl: Kubectl) -> None:
    created = http("POST", WIDGETS, widget("sub")).json()
    assert created["metadata"]["generation"] == 1 and "status" not in created
    sneaky = {**created, "status": {"replicas": 9}}
    updated = http("PUT", f"{WIDGETS}/sub", sneaky).json()
    assert "status" not in updated and updated["metadata"]["generation"] == 1
    status = http("PATCH", f"{WIDGETS}/sub/status",
                  {"status": {"replicas": 2, "selector": "app=sub",
                              "conditions": [{"type": "Ready", "status": "True"}]},
                   "spec": {"colour": "blue"}},
                  content_type="application/merge-patch+json").json()
    assert status["status"]["replicas"] == 2 and status["spec"]["colour"] == "red"
    assert status["metadata"]["generation"] == 1
    kubectl("scale", "widget", "sub", "--replicas=3")
    scale = http("GET", f"{WIDGETS}/sub/scale").json()
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"] == {"replicas": 2, "selector": "app=sub"}
    after = http("GET", f"{WIDGETS}/sub").json()
    assert after["spec"]["replicas"] == 3 and after["metadata"]["generation"] == 2


def test_printer_columns_short_names_and_categories(http: Http, kubectl: Kubectl) -> None:
    http("POST", WIDGETS, widget("printed", note="hello"))
    http("PATCH", f"{WIDGETS}/printed/status",
         {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
         content_type="application/merge-patch+json")
    lines = kubectl("get", "wd", "printed").splitlines()
    assert lines[0].split() == ["NAME", "COLOUR", "REPLICAS", "READY"]
    assert lines[1].split() == ["printed", "red", "1", "True"]
    wide = kubectl("get", "widgets.demo.kyb.io", "printed", "-o", "wide").splitlines()
    assert wide[0].split()[-1] == "NOTE" and wide[1].split()[-1] == "hello"
    assert "printed" in kubectl("get", "demo").split()
    assert "widget.demo.kyb.io/printed" in kubectl("get", "all")


def test_selectors_watch_and_paging(http: Http, kubectl: Kubectl) -> None:
    for i in range(5):
        body = widget(f"page-{i}")
        body["metadata"]["labels"] = {"batch": "paging", "even": str(i % 2 == 0).lower()}
        http("POST", WIDGETS, body)
    listed = http("GET", WIDGETS, labelSelector="batch=paging,even=true").json()
    assert [w["metadata"]["name"] for w in listed["items"]] == ["page-0", "page-2", "page-4"]
    one = http("GET", WIDGETS, fieldSelector="metadata.name=page-3").json()
    assert [w["metadata"]["name"] for w in one["items"]] == ["page-3"]
    first = http("GET", WIDGETS, labelSelector="batch=paging", limit="2").json()
    assert len(first["items"]) == 2 and first["metadata"]["continue"]
    rest = http("GET", WIDGETS, labelSelector="batch=paging", limit="10",
                **{"continue": first["metadata"]["continue"]}).json()
    assert len(rest["items"]) == 3
    rv = listed["metadata"]["resourceVersion"]
    http("DELETE", f"{WIDGETS}/page-1")
    events = http.session.get(http.base + WIDGETS, params={
        "watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"},
        verify=http.ca, timeout=10).text.splitlines()
    assert [(json.loads(e)["type"], json.loads(e)["object"]["metadata"]["name"])
            for e in events] == [("DELETED", "page-1")]
    assert kubectl("get", "wd", "-l", "batch=paging", "-o", "name").split() == [
        "widget.demo.kyb.io/page-0", "widget.demo.kyb.io/page-2", "widget.demo.kyb.io/page-3",
        "widget.demo.kyb.io/page-4"]


def test_finalizers_and_strategic_merge_on_custom_resources(http: Http) -> None:
    body = widget("held")
    body["metadata"]["finalizers"] = ["demo.kyb.io/hold"]
    http("POST", WIDGETS, body)
    marked = http("DELETE", f"{WIDGETS}/held").json()
    assert marked["metadata"]["deletionTimestamp"]
    assert_status(http("PATCH", f"{WIDGETS}/held", {"spec": {"replicas": 2}},
                       content_type="application/strategic-merge-patch+json"), 415,
                  "UnsupportedMediaType")
    http("PATCH", f"{WIDGETS}/held", {"metadata": {"finalizers": None}},
         content_type="application/merge-patch+json")
    assert_status(http("GET", f"{WIDGETS}/held"), 404, "NotFound")


def test_several_versions_one_storage_and_deprecation(http: Http, kubectl: Kubectl) -> None:
    crd = http("GET", f"{CRDS}/widgets.demo.kyb.io").json()
    v1 = crd["spec"]["versions"][0]
    crd["spec"]["versions"] = [v1, {**v1, "name": "v1beta1", "storage": False,
                                    "deprecated": True}]
    assert http("PUT", f"{CRDS}/widgets.demo.kyb.io", crd).status_code == 200
    beta = "/apis/demo.kyb.io/v1beta1/namespaces/default/widgets"
    assert wait_for(lambda: http("GET", beta).status_code == 200)
    made = http("POST", beta, {**widget("old"), "apiVersion": "demo.kyb.io/v1beta1"})
    assert made.status_code == 201, made.text
    assert made.headers.get("Warning") == '299 - "demo.kyb.io/v1beta1 Widget is deprecated"'
    assert made.json()["apiVersion"] == "demo.kyb.io/v1beta1"
    assert http("GET", f"{WIDGETS}/old").json()["apiVersion"] == "demo.kyb.io/v1"
    listed = http("GET", beta).json()
    assert {w["apiVersion"] for w in listed["items"]} == {"demo.kyb.io/v1beta1"}
    out = kubectl.run("get", "widgets.v1beta1.demo.kyb.io", "old")
    assert "deprecated" in out.stderr


def test_deleting_a_crd_deletes_its_custom_resources(http: Http, kubectl: Kubectl,
                                                      tmp_path: Path) -> None:
    crd = widget_crd()
    crd["metadata"]["name"] = "sprockets.demo.kyb.io"
    crd["spec"]["names"] = {"plural": "sprockets", "kind": "Sprocket"}
    path = tmp_path / "crd.yaml"
    path.write_text(yaml.safe_dump(crd))
    kubectl("apply", "-f", str(path))
    kubectl("wait", "--for=condition=Established", "crd/sprockets.demo.kyb.io")
    kubectl("create", "namespace", "sprocketry")
    for ns in ("default", "sprocketry"):
        made = http("POST", f"/apis/demo.kyb.io/v1/namespaces/{ns}/sprockets",
                    {**widget("s1"), "kind": "Sprocket"})
        assert made.status_code == 201, made.text
    kubectl("delete", "-f", str(path), "--timeout=20s")
    assert_status(http("GET", f"{CRDS}/sprockets.demo.kyb.io"), 404, "NotFound")
    assert_status(http("GET", "/apis/demo.kyb.io/v1/sprockets"), 404, "NotFound")
    kubectl("apply", "-f", str(path))
    kubectl("wait", "--for=condition=Established", "crd/sprockets.demo.kyb.io")
    assert http("GET", "/apis/demo.kyb.io/v1/sprockets").json()["items"] == []


def test_custom_kinds_are_served_again_after_a_restart(apiserver: ApiServer) -> None:
    http = Http(apiserver)
    assert http("POST", CRDS, widget_crd()).status_code == 201
    assert wait_for(lambda: established(http, "widgets.demo.kyb.io"))
    assert http("POST", WIDGETS, widget("kept")).status_code == 201
    apiserver.restart()
    http = Http(apiserver)
    assert http("GET", f"{WIDGETS}/kept").json()["spec"]["colour"] == "red"
    assert any(r["name"] == "widgets" for r in
               http("GET", "/apis/demo.kyb.io/v1").json()["resources"])
