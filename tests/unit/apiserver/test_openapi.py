"""OpenAPI v2/v3 documents carry what kubectl explain and apply look for."""

import orjson
import pytest

from kybernetes.api.errors import NotAcceptable, NotFound
from kybernetes.apiserver import openapi_proto
from kybernetes.apiserver.openapi import OpenApi
from tests.support.kinds import KINDS

openapi = OpenApi(KINDS)

V3_PREFIX = "#/components/schemas/"


def v3(gv_path):
    body, media = openapi.document(f"/openapi/v3/{gv_path}", "application/json")
    assert media == "application/json"
    return orjson.loads(body)


def test_v3_index_points_at_each_group_version_with_a_hash():
    index = orjson.loads(openapi.document("/openapi/v3")[0])
    assert set(index["paths"]) == {"api/v1", "apis/apps/v1", "apis/coordination.k8s.io/v1",
                                   "apis/apiextensions.k8s.io/v1",
                                   "apis/admissionregistration.k8s.io/v1",
                                   "apis/authentication.k8s.io/v1", "apis/authorization.k8s.io/v1",
                                   "apis/autoscaling/v2", "apis/autoscaling/v1",
                                   "apis/certificates.k8s.io/v1", "apis/batch/v1",
                                   "apis/policy/v1",
                                   "apis/networking.k8s.io/v1", "apis/rbac.authorization.k8s.io/v1",
                                   "apis/storage.k8s.io/v1", "apis/scheduling.k8s.io/v1",
                                   "apis/discovery.k8s.io/v1", "apis/events.k8s.io/v1",
                                   "apis/metrics.k8s.io/v1beta1"}
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=")
    path = url.split("?")[0]
    assert orjson.loads(openapi.document(path)[0])["openapi"] == "3.0.0"


def test_v3_schemas_have_gvk_and_plain_types():
    doc = v3("api/v1")
    pod = doc["components"]["schemas"]["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "Pod", "version": "v1"}]
    assert pod["type"] == "object"
    assert pod["properties"]["metadata"]["allOf"] == [
        {"$ref": V3_PREFIX + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]
    assert "enum" not in pod["properties"]["kind"]
    containers = doc["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"][
        "containers"]
    assert containers["type"] == "array"
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    int_or_string = doc["components"]["schemas"][
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert int_or_string["format"] == "int-or-string" and "type" not in int_or_string
    assert int_or_string["oneOf"] == [{"type": "integer"}, {"type": "string"}]
    quantity = doc["components"]["schemas"]["io.k8s.apimachinery.pkg.api.resource.Quantity"]
    assert quantity["oneOf"] == [{"type": "string"}, {"type": "number"}]
    assert "io.k8s.api.core.v1.PodList" in doc["components"]["schemas"]
    refs = orjson.dumps(doc).decode()
    assert "#/$defs/" not in refs and '"null"' not in refs


def test_every_patch_operation_offers_field_validation():
    for gv in ("api/v1", "apis/apps/v1", "apis/coordination.k8s.io/v1"):
        for path, item in v3(gv)["paths"].items():
            if "patch" in item:
                names = [p["name"] for p in item["patch"]["parameters"]]
                assert "fieldValidation" in names, path
                assert item["patch"]["x-kubernetes-action"] == "patch"
                assert "application/strategic-merge-patch+json" in \
                    item["patch"]["requestBody"]["content"]


def test_operations_carry_kubernetes_ids_and_gvk():
    paths = v3("apis/apps/v1")["paths"]
    item = paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    assert item["get"]["operationId"] == "readAppsV1NamespacedDeployment"
    assert item["patch"]["x-kubernetes-group-version-kind"] == {
        "group": "apps", "kind": "Deployment", "version": "v1"}
    scale = paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["put"]["x-kubernetes-group-version-kind"]["kind"] == "Scale"
    assert paths["/apis/apps/v1/deployments"]["get"]["operationId"] == \
        "listAppsV1DeploymentForAllNamespaces"
    core = v3("api/v1")["paths"]
    assert core["/api/v1/namespaces/{namespace}/pods/{name}/binding"]["post"][
        "x-kubernetes-action"] == "post"
    assert "/api/v1/nodes/{name}" in core


def test_v2_json_and_protobuf():
    body, media = openapi.document("/openapi/v2", "application/json")
    doc = orjson.loads(body)
    assert media == "application/json" and doc["swagger"] == "2.0"
    assert doc["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] == {
        "description": doc["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"][
            "description"], "type": "string", "format": "int-or-string"}
    assert doc["definitions"]["io.k8s.api.core.v1.Pod"]["properties"]["spec"]["$ref"] == \
        "#/definitions/io.k8s.api.core.v1.PodSpec"
    post = doc["paths"]["/api/v1/namespaces/{namespace}/pods"]["post"]
    assert {"name": "body", "in": "body", "required": True,
            "schema": {"$ref": "#/definitions/io.k8s.api.core.v1.Pod"}} in post["parameters"]
    pb, pb_media = openapi.document("/openapi/v2", openapi_proto.MEDIA_TYPE)
    assert pb_media == openapi_proto.RESPONSE_TYPE
    assert pb.startswith(b"\x0a\x032.0")  # field 1 (swagger) = "2.0"
    assert b"io.k8s.api.core.v1.Pod" in pb and b"x-kubernetes-group-version-kind" in pb


def test_protobuf_varints_and_fields():
    assert openapi_proto._varint(1) == b"\x01"
    assert openapi_proto._varint(300) == b"\xac\x02"
    assert openapi_proto._str(1, "ab") == b"\x0a\x02ab"
    assert openapi_proto.schema({"type": "string"}) == b"\xb2\x01\x08\x0a\x06string"


def test_errors():
    with pytest.raises(NotFound):
        openapi.document("/openapi/v3/apis/nope/v1")
    with pytest.raises(NotFound):
        openapi.document("/openapi/v4")
    with pytest.raises(NotAcceptable):
        openapi.document("/openapi/v3/api/v1", "application/com.github.proto-openapi.spec."
                                               "v3@v1.0+protobuf")
