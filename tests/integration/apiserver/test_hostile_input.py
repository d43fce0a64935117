"""Hostile and malformed requests get Kubernetes' 4xx answer, never a 5xx or a hang,
nothing invalid is stored, and the server keeps answering `/healthz` meanwhile."""

from __future__ import annotations

import base64
import json
import ssl
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509

from kybernetes.apiserver import pki
from tests.support.apiserver import ApiServer
from tests.support.http import Http, assert_status

NS = "hostile"
CMS = f"/api/v1/namespaces/{NS}/configmaps"
DEPLOYS = f"/apis/apps/v1/namespaces/{NS}/deployments"
PODS = f"/api/v1/namespaces/{NS}/pods"
HUGE = "1" * 23


@pytest.fixture(scope="module")
def http(server: ApiServer) -> Iterator[Http]:
    client = Http(server)
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
    assert client("POST", "/api/v1/namespaces", ns).status_code == 201
    yield client
    client.session.close()


def answered_while_healthy(http: Http, send: Callable[[], requests.Response]
                           ) -> requests.Response:
    """`send()`'s response; meanwhile `/healthz` must keep answering within 2 s."""
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(send)
        while True:
            started = time.monotonic()
            health = http.session.get(http.base + "/healthz", timeout=2, verify=http.ca)
            assert health.status_code == 200
            assert time.monotonic() - started < 2
            if pending.done():
                return pending.result()
            time.sleep(0.05)


def deployment(name: str, **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": labels}, "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}, **spec}}


def assert_absent(http: Http, path: str) -> None:
    assert http("GET", path).status_code == 404


def test_out_of_range_query_numbers_are_bad_requests(http: Http) -> None:
    for params, message in [
        ({"resourceVersion": HUGE}, f'invalid resource version: resourceVersion: Invalid value: '
                                    f'"{HUGE}": strconv.ParseUint: parsing "{HUGE}": value out '
                                    f'of range'),
        ({"resourceVersion": "12abc"}, 'strconv.ParseUint: parsing "12abc": invalid syntax'),
        ({"limit": HUGE}, f'strconv.ParseInt: parsing "{HUGE}": value out of range'),
        ({"watch": "true", "timeoutSeconds": HUGE},
         f'strconv.ParseInt: parsing "{HUGE}": value out of range'),
    ]:
        response = answered_while_healthy(http, partial(http, "GET", CMS, **params))
        assert message in assert_status(response, 400, "BadRequest")["message"]


def test_the_largest_int64_limit_lists_everything(http: Http) -> None:
    assert http("POST", CMS, {"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "listed"}}).status_code == 201
    response = http("GET", CMS, limit=str((1 << 63) - 1))
    assert response.status_code == 200, response.text
    assert "listed" in [item["metadata"]["name"] for item in response.json()["items"]]


def test_deep_bodies_are_refused_quickly(http: Http) -> None:
    deep_json = '{"a":' * 10_000 + "1" + "}" * 10_000
    deep_yaml = "data: " + "[" * 10_000 + "]" * 10_000
    nested_yaml = "".join(f"{' ' * i}a{i}:\n" for i in range(150)) + " " * 150 + "1\n"
    for body, content_type in [
        (deep_json, "application/json"),
        (deep_yaml, "application/yaml"),
        ("metadata:\n  name: deep\n" + nested_yaml, "application/yaml"),
    ]:
        response = answered_while_healthy(
            http, partial(http, "POST", CMS, body, content_type=content_type))
        assert_status(response, 400, "BadRequest")
    applied = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\n" + nested_yaml
    response = answered_while_healthy(http, lambda: http(
        "PATCH", f"{CMS}/deep", applied, content_type="application/apply-patch+yaml",
        fieldManager="test"))
    assert "exceeded max depth" in assert_status(response, 400, "BadRequest")["message"]
    assert_absent(http, f"{CMS}/deep")


def test_alias_bombs_are_refused(http: Http) -> None:
    """A "billion laughs" YAML: nine lines of text, 9^9 strings once aliases expand."""
    laughs = "  l0: &l0 [" + ", ".join(["lol"] * 9) + "]\n" + "".join(
        f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 9))
    bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\nlaughs:\n" + laughs
    for method, path, content_type, params in [
        ("POST", CMS, "application/yaml", {}),
        ("PATCH", f"{CMS}/bomb", "application/apply-patch+yaml", {"fieldManager": "test"}),
    ]:
        response = answered_while_healthy(
            http, partial(http, method, path, bomb, content_type=content_type, **params))
        status = assert_status(response, 400, "BadRequest")
        assert "document contains excessive aliasing" in status["message"]
    assert_absent(http, f"{CMS}/bomb")


def test_deep_patches_are_refused(http: Http) -> None:
    assert http("POST", CMS, {"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "shallow"}}).status_code == 201
    before = http("GET", f"{CMS}/shallow").json()
    deep = '{"metadata":{"annotations":' * 500 + "1" + "}}" * 500
    response = answered_while_healthy(http, lambda: http(
        "PATCH", f"{CMS}/shallow", deep, content_type="application/merge-patch+json"))
    assert "exceeded max depth" in assert_status(response, 400, "BadRequest")["message"]
    assert http("GET", f"{CMS}/shallow").json() == before


@pytest.mark.parametrize(("field", "value", "path", "format_"), [
    ("replicas", 2147483648, "spec.replicas", "int32"),
    ("generation", 10**30, "metadata.generation", "int64"),
    ("grace", 2**63, "spec.template.spec.terminationGracePeriodSeconds", "int64"),
])
def test_integers_out_of_their_format_are_invalid(http: Http, field: str, value: int,
                                                  path: str, format_: str) -> None:
    name = f"range-{field}"
    obj = deployment(name)
    if field == "replicas":
        obj["spec"]["replicas"] = value
    elif field == "generation":
        obj["metadata"]["generation"] = value
    else:
        obj["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = value
    status = assert_status(answered_while_healthy(http, lambda: http("POST", DEPLOYS, obj)),
                           422, "Invalid")
    assert f"{path} in body must be of type {format_}" in status["message"]
    assert_absent(http, f"{DEPLOYS}/{name}")


def test_integral_floats_are_stored_as_integers(http: Http) -> None:
    created = http("POST", DEPLOYS, deployment("floaty", replicas=2.0))
    assert created.status_code == 201, created.text
    assert '"replicas":2,' in http("GET", f"{DEPLOYS}/floaty").text.replace(" ", "")


def test_a_numeric_resource_version_is_invalid(http: Http) -> None:
    obj = {**deployment("numeric-rv")}
    obj["metadata"]["resourceVersion"] = 5
    status = assert_status(http("POST", DEPLOYS, obj), 422, "Invalid")
    assert "metadata.resourceVersion in body must be of type string" in status["message"]
    assert_absent(http, f"{DEPLOYS}/numeric-rv")


def test_strict_decoding_reports_duplicate_fields(http: Http) -> None:
    body = ('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup"},'
            '"data":{"x":"1","x":"2"}}')
    status = assert_status(http("POST", CMS, body, fieldValidation="Strict"), 400, "BadRequest")
    assert 'strict decoding error: duplicate field "data.x"' in status["message"]
    assert_absent(http, f"{CMS}/dup")


def test_patches_may_not_change_identity(http: Http) -> None:
    assert http("POST", CMS, {"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "fixed"}}).status_code == 201
    before = http("GET", f"{CMS}/fixed").json()
    merge = "application/merge-patch+json"
    status = assert_status(http("PATCH", f"{CMS}/fixed", {"metadata": {"uid": "other"}},
                                content_type=merge), 422, "Invalid")
    assert 'metadata.uid: Invalid value: "other": field is immutable' in status["message"]
    for change in ({"kind": "Secret"}, {"apiVersion": "v2"}):
        response = http("PATCH", f"{CMS}/fixed", change, content_type=merge)
        assert 400 <= response.status_code < 500, response.text
    after = http("GET", f"{CMS}/fixed").json()
    assert after == before


def continue_token(start: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": 1, "start": start}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_continue_tokens_must_stay_in_their_prefix(http: Http) -> None:
    for start, detail in [("../secrets/x", "continue key is not valid: ../secrets/x"),
                          ("", "encoded start key empty")]:
        status = assert_status(http("GET", CMS, limit=1, **{"continue": continue_token(start)}),
                               400, "BadRequest")
        assert status["message"].startswith("invalid continue token: ")
        assert detail in status["message"]


def test_send_initial_events_is_for_watches_only(http: Http) -> None:
    status = assert_status(http("GET", CMS, sendInitialEvents="true"), 422, "Invalid")
    assert status["message"] == ('ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: '
                                 'Forbidden: sendInitialEvents is forbidden for list')


def test_a_delete_body_must_be_delete_options(http: Http) -> None:
    assert http("POST", CMS, {"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "kept"}}).status_code == 201
    status = assert_status(http("DELETE", f"{CMS}/kept", {"kind": "Pod"}), 400, "BadRequest")
    assert 'no kind "Pod" is registered' in status["message"]
    assert http("GET", f"{CMS}/kept").status_code == 200
    status = assert_status(http("DELETE", f"{CMS}/kept", {"gracePeriodSeconds": 10**30}),
                           400, "BadRequest")
    assert status["message"] == ("json: cannot unmarshal number 1e+30 into Go struct field "
                                 "DeleteOptions.gracePeriodSeconds of type int64")
    assert http("GET", f"{CMS}/kept").status_code == 200
    deleted = http("DELETE", f"{CMS}/kept", {"kind": "DeleteOptions", "apiVersion": "v1"})
    assert deleted.status_code == 200, deleted.text


def serving_cert_ips(cert_path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}


def test_serving_cert_covers_the_kubernetes_service_ip(server: ApiServer,
                                                       tmp_path: Path) -> None:
    """In-cluster clients dial KUBERNETES_SERVICE_HOST (10.96.0.1 by default) and verify
    the certificate against it; a cert made before without it is re-issued."""
    served = ssl.get_server_certificate(("127.0.0.1", int(server.url.rsplit(":", 1)[1])))
    (tmp_path / "served.crt").write_text(served)
    assert "10.96.0.1" in serving_cert_ips(tmp_path / "served.crt")
    old, _ = pki.serving_cert(tmp_path, ["127.0.0.1"])
    assert "10.96.0.1" not in serving_cert_ips(old)
    cert, _ = pki.serving_cert(tmp_path, ["127.0.0.1", "10.96.0.1"])
    assert "10.96.0.1" in serving_cert_ips(cert)


def test_malformed_shapes_found_by_fuzzing_are_client_errors(http: Http) -> None:
    services = f"/api/v1/namespaces/{NS}/services"
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shapes"},
               "spec": {"ports": [{"port": 80}]}}
    assert http("POST", services, service).status_code == 201
    status = assert_status(http("PATCH", f"{services}/shapes", {"metadata": True},
                                content_type="application/merge-patch+json"), 422, "Invalid")
    assert "metadata in body must be of type object" in status["message"]
    live = http("GET", f"{services}/shapes").json()
    replaced = http("PUT", f"{services}/shapes", {**live, "spec": None})
    assert replaced.status_code < 500, replaced.text
    nameless = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nameless"},
                "spec": {"containers": [{"image": "busybox"}]}}
    status = assert_status(http("POST", PODS, nameless), 422, "Invalid")
    assert "spec.containers[0].name: Required value" in status["message"]
    assert_absent(http, f"{PODS}/nameless")


def test_verbs_a_resource_does_not_serve_are_not_allowed(http: Http) -> None:
    """Found by fuzzing: a list or deletecollection of TokenReviews (create-only) reached
    the store (a future resourceVersion answered 504); kube answers 405."""
    reviews = "/apis/authentication.k8s.io/v1/tokenreviews"
    for method, params in [("GET", {}), ("DELETE", {"resourceVersion": str(2**53 + 1)})]:
        assert_status(http(method, reviews, **params), 405, "MethodNotAllowed")
    assert_status(http("GET", f"/api/v1/namespaces/{NS}/bindings"), 405, "MethodNotAllowed")


def test_a_binding_with_malformed_metadata_or_target_is_a_bad_request(http: Http) -> None:
    """Found by fuzzing: a Binding whose metadata or target was not an object was a 500."""
    bindings = f"/api/v1/namespaces/{NS}/bindings"
    for shape in ({"metadata": 9007199254740993}, {"metadata": {"name": "p"}, "target": [1]}):
        body = {"apiVersion": "v1", "kind": "Binding", **shape}
        assert_status(http("POST", bindings, body), 400, "BadRequest")


def test_a_crd_whose_spec_is_not_an_object_is_invalid(http: Http) -> None:
    """Found by fuzzing: reading the storage version of `spec: [...]` was a 500."""
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    body = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "things.example.com"}, "spec": [9007199254740993, None]}
    response = http("POST", crds, body)
    assert 400 <= response.status_code < 500, response.text
    assert_absent(http, f"{crds}/things.example.com")


def test_an_apply_whose_metadata_is_not_an_object_is_a_bad_request(http: Http) -> None:
    """Found by fuzzing: server-side apply of a new CRD read managedFields from a list
    (500)."""
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    body = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": [{}, []]}
    response = http("PATCH", f"{crds}/applied.example.com", body,
                    content_type="application/apply-patch+yaml", fieldManager="test")
    assert 400 <= response.status_code < 500, response.text
    assert_absent(http, f"{crds}/applied.example.com")


def test_yaml_builds_only_json_values(http: Http) -> None:
    """Found by fuzzing: !!set and !!binary built Python sets and bytes (and YAML dates,
    integer keys) that could not be stored (500). As sigs.k8s.io/yaml: a set is a map of
    nulls, binary its text, a timestamp its string, a key its text."""
    body = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yaml-values\n"
            "data: {bin: !!binary aGVsbG8=, day: 2020-01-01, 1: one, true: 'y'}\n"
            "binaryData: {blob: aGVsbG8=}\n")
    response = http("PATCH", f"{CMS}/yaml-values", body,
                    content_type="application/apply-patch+yaml", fieldManager="test")
    assert response.status_code == 201, response.text
    assert response.json()["data"] == {"bin": "hello", "day": "2020-01-01", "1": "one",
                                       "true": "y"}


def test_an_access_review_whose_metadata_is_not_an_object_is_refused(http: Http) -> None:
    """Found by fuzzing: a SelfSubjectAccessReview with `metadata: "true"` was a 500."""
    for kind in ("SelfSubjectAccessReview", "SubjectAccessReview"):
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": kind, "metadata": "true"}
        response = http("POST", f"/apis/authorization.k8s.io/v1/{kind.lower()}s", body)
        assert 400 <= response.status_code < 500, response.text


def test_a_yaml_integer_past_64_bits_is_a_float(http: Http) -> None:
    """Found by fuzzing: `!!int 99999999999999999999` reached the encoder (500); go-yaml
    reads it as a float, which the schema then refuses where an integer belongs."""
    body = ("apiVersion: v1\nkind: Node\nmetadata:\n  name: big-int\n"
            "spec: {podCIDRs: [], unschedulable: !!int 99999999999999999999}\n")
    response = http("PATCH", "/api/v1/nodes/big-int", body,
                    content_type="application/apply-patch+yaml", fieldManager="test")
    assert 400 <= response.status_code < 500, response.text
    assert_absent(http, "/api/v1/nodes/big-int")


def test_retain_keys_must_name_fields(http: Http) -> None:
    """Found by fuzzing: `$retainKeys: [[...]]` in a strategic merge patch was a 500."""
    assert http("POST", CMS, {"apiVersion": "v1", "kind": "ConfigMap",
                              "metadata": {"name": "retained"}, "data": {"a": "1"}}
                   ).status_code == 201
    before = http("GET", f"{CMS}/retained").json()
    for keep in ([["data"]], [{"a": 1}], [1]):
        response = http("PATCH", f"{CMS}/retained", {"data": {"$retainKeys": keep}},
                        content_type="application/strategic-merge-patch+json")
        assert 400 <= response.status_code < 500, response.text
    assert http("GET", f"{CMS}/retained").json() == before
