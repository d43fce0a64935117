"""The 1.33 schemas load quickly and find unknown fields the way strict decoding does."""

import time

from kybernetes.api import resources, schema
from tests.support.kinds import KINDS, resource_schema, unknown_fields


def test_definitions_load_fast_and_cover_served_kinds():
    schema.definitions.cache_clear()
    schema._gvk_index.cache_clear()
    start = time.perf_counter()
    for kind in KINDS.definitions():
        assert kind.schema() is not None, kind.resource.kind
    assert time.perf_counter() - start < 1.0
    assert schema.definition_name("apps/v1", "Deployment") == "io.k8s.api.apps.v1.Deployment"
    assert schema.definition_for("v1", "NoSuchKind") is None


def test_schema_walks_refs_and_lists():
    pod = resource_schema(resources.PODS)
    container = schema.schema_at(pod, ["spec", "containers", "[]"])
    assert "imagePullPolicy" in container["properties"]
    assert schema.is_scalar(schema.schema_at(pod, ["spec", "containers", "[]", "ports", "[]",
                                                   "containerPort"]))
    assert schema.is_scalar(schema.definition("io.k8s.apimachinery.pkg.util.intstr.IntOrString"))


def test_unknown_fields_report_paths_like_strict_decoding():
    obj = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "x", "labels": {"any": "thing"}, "colour": "red"},
           "spec": {"containers": [{"name": "a", "image": "x", "imagePullPolcy": "Always",
                                    "resources": {"limits": {"cpu": "1"}}},
                                   {"name": "b", "ports": [{"containerPort": 1, "prot": 1}]}],
                    "nodeSelector": {"k": "v"}},
           "extra": 1}
    assert unknown_fields(resources.PODS, obj) == [
        "metadata.colour", "spec.containers[0].imagePullPolcy",
        "spec.containers[1].ports[0].prot", "extra"]


def test_known_objects_have_no_unknown_fields():
    dep = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "d", "annotations": {"a": "b"},
                        "managedFields": [{"fieldsV1": {"f:spec": {}}}]},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                    "strategy": {"rollingUpdate": {"maxSurge": 1}},
                    "template": {"metadata": {"labels": {"a": "b"}},
                                 "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    assert unknown_fields(resources.DEPLOYMENTS, dep) == []
    scale = schema.definition_for("autoscaling/v1", "Scale")
    assert schema.unknown_fields(scale, {"spec": {"replicas": 2}}) == []


def test_null_map_values_become_what_go_decodes_them_into():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "labels": None},
              "data": {"a": "eA==", "b": None}, "stringData": {"c": None}}
    root = resource_schema(resources.SECRETS)

    assert schema.type_errors(root, secret) == []
    assert secret["data"] == {"a": "eA==", "b": ""}
    assert secret["stringData"] == {"c": ""}
    assert secret["metadata"]["labels"] is None  # a field, not a map value: left alone
