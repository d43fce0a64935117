"""JSON patch, merge patch and strategic merge patch as the Kubernetes API applies them."""

import json

import pytest

from kybernetes.api import resources
from kybernetes.api.errors import BadRequest, Invalid, UnsupportedMediaType
from kybernetes.api.patch import JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH
from tests.support.kinds import apply_patch


def smp(obj, patch, resource=resources.PODS):
    return apply_patch(obj, json.dumps(patch).encode(), STRATEGIC_MERGE_PATCH, resource)


def pod(*containers, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "1"}},
            "spec": {"containers": list(containers), **spec}}


def test_json_patch_operations():
    obj = {"a": {"b": [1, 2]}, "c/d": 1, "e~f": 2}
    ops = [{"op": "add", "path": "/a/b/-", "value": 3},
           {"op": "add", "path": "/a/b/0", "value": 0},
           {"op": "replace", "path": "/c~1d", "value": 10},
           {"op": "remove", "path": "/e~0f"},
           {"op": "copy", "from": "/a/b", "path": "/x"},
           {"op": "move", "from": "/x", "path": "/y"},
           {"op": "test", "path": "/y/1", "value": 1}]
    out = apply_patch(obj, json.dumps(ops).encode(), JSON_PATCH, resources.PODS)
    assert out == {"a": {"b": [0, 1, 2, 3]}, "c/d": 10, "y": [0, 1, 2, 3]}
    assert obj == {"a": {"b": [1, 2]}, "c/d": 1, "e~f": 2}


def test_json_patch_failures_are_422_and_malformed_is_400():
    with pytest.raises(Invalid) as info:
        apply_patch({"a": 1}, b'[{"op":"test","path":"/a","value":2}]', JSON_PATCH, None)
    assert info.value.code == 422
    assert "test failed" in info.value.message
    with pytest.raises(Invalid):
        apply_patch({"a": 1}, b'[{"op":"replace","path":"/b","value":2}]', JSON_PATCH, None)
    with pytest.raises(Invalid):
        apply_patch({"a": 1}, b'[{"op":"remove","path":"/b"}]', JSON_PATCH, None)
    with pytest.raises(BadRequest):
        apply_patch({"a": 1}, b'[{"op":"frob","path":"/a"}]', JSON_PATCH, None)
    with pytest.raises(BadRequest):
        apply_patch({"a": 1}, b'not json', JSON_PATCH, None)


def test_merge_patch_rfc7386():
    obj = {"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]}
    out = apply_patch(obj, b'{"a":"z","c":{"f":null},"l":[3]}', MERGE_PATCH, resources.PODS)
    assert out == {"a": "z", "c": {"d": "e"}, "l": [3]}


def test_unknown_patch_type_is_415():
    with pytest.raises(UnsupportedMediaType):
        apply_patch({}, b"{}", "application/json", resources.PODS)


def test_smp_merges_containers_by_name_and_changes_image():
    obj = pod({"name": "a", "image": "nginx:1"}, {"name": "b", "image": "busybox"})
    out = smp(obj, {"spec": {"containers": [{"name": "b", "image": "busybox:2"}]}})
    assert out["spec"]["containers"] == [{"name": "a", "image": "nginx:1"},
                                         {"name": "b", "image": "busybox:2"}]


def test_smp_adds_and_deletes_list_elements():
    obj = pod({"name": "a", "image": "x", "env": [{"name": "A", "value": "1"},
                                                    {"name": "B", "value": "2"}]})
    out = smp(obj, {"spec": {"containers": [
        {"name": "a", "env": [{"name": "B", "$patch": "delete"}, {"name": "C", "value": "3"}]}]}})
    assert out["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"},
                                                   {"name": "C", "value": "3"}]


def test_smp_list_replace_directive_and_null_delete():
    obj = pod({"name": "a", "image": "x"}, {"name": "b", "image": "y"})
    out = smp(obj, {"metadata": {"labels": {"a": None, "b": "2"}},
                    "spec": {"containers": [{"name": "c", "image": "z"}, {"$patch": "replace"}]}})
    assert out["spec"]["containers"] == [{"name": "c", "image": "z"}]
    assert out["metadata"]["labels"] == {"b": "2"}


def test_smp_map_replace_and_delete_directives():
    obj = pod({"name": "a", "image": "x"}, nodeSelector={"a": "1", "b": "2"})
    out = smp(obj, {"spec": {"nodeSelector": {"$patch": "replace", "c": "3"}}})
    assert out["spec"]["nodeSelector"] == {"c": "3"}
    out = smp(obj, {"spec": {"$patch": "delete"}})
    assert out["spec"] == {}


def test_smp_primitive_merge_list_and_delete_from_primitive_list():
    obj = pod({"name": "a", "image": "x"})
    obj["metadata"]["finalizers"] = ["x/a", "x/b"]
    out = smp(obj, {"metadata": {"finalizers": ["x/b", "x/c"]}})
    assert out["metadata"]["finalizers"] == ["x/a", "x/b", "x/c"]
    out = smp(obj, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x/a"]}})
    assert out["metadata"]["finalizers"] == ["x/b"]


def test_smp_non_merge_lists_are_replaced():
    obj = pod({"name": "a", "image": "x", "args": ["1", "2"]})
    out = smp(obj, {"spec": {"containers": [{"name": "a", "args": ["3"]}]}})
    assert out["spec"]["containers"][0]["args"] == ["3"]


def test_smp_retain_keys_as_kubectl_apply_sends_for_strategy():
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"replicas": 1, "strategy": {
               "type": "RollingUpdate",
               "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}}}
    out = smp(dep, {"spec": {"replicas": 3, "strategy": {
        "$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}},
        resources.DEPLOYMENTS)
    assert out["spec"] == {"replicas": 3, "strategy": {"type": "Recreate"}}


def test_smp_retain_keys_rejects_keys_not_listed():
    dep = {"spec": {"strategy": {"type": "RollingUpdate"}}}
    with pytest.raises(BadRequest):
        smp(dep, {"spec": {"strategy": {"$retainKeys": ["type"], "other": 1}}},
            resources.DEPLOYMENTS)


def test_smp_set_element_order_as_kubectl_apply_sends():
    obj = pod({"name": "a", "image": "x", "env": [{"name": "A", "value": "1"},
                                                    {"name": "B", "value": "2"}]},
              {"name": "b", "image": "y"})
    patch = {"spec": {
        "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
        "containers": [{"name": "a", "image": "x2",
                        "$setElementOrder/env": [{"name": "B"}, {"name": "A"}],
                        "env": [{"name": "A", "value": "9"}]}]}}
    out = smp(obj, patch)
    assert [c["name"] for c in out["spec"]["containers"]] == ["b", "a"]
    assert out["spec"]["containers"][1]["image"] == "x2"
    assert out["spec"]["containers"][1]["env"] == [{"name": "B", "value": "2"},
                                                   {"name": "A", "value": "9"}]
    assert "$setElementOrder/containers" not in out["spec"]


def test_smp_removes_env_var_the_way_kubectl_apply_does():
    obj = pod({"name": "a", "image": "x", "env": [{"name": "A", "value": "1"},
                                                    {"name": "B", "value": "2"}]})
    patch = {"spec": {"$setElementOrder/containers": [{"name": "a"}], "containers": [
        {"name": "a", "$setElementOrder/env": [{"name": "A"}],
         "env": [{"$patch": "delete", "name": "B"}]}]}}
    out = smp(obj, patch)
    assert out["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"}]


def test_smp_new_fields_drop_directives_and_nulls():
    obj = {"metadata": {"name": "p"}, "spec": {}}
    out = smp(obj, {"spec": {"containers": [{"name": "a", "image": "x", "args": None}],
                             "$setElementOrder/containers": [{"name": "a"}]}})
    assert out["spec"] == {"containers": [{"name": "a", "image": "x"}]}


def test_smp_volumes_retain_keys_switch_source():
    obj = pod({"name": "a", "image": "x"}, volumes=[{"name": "v", "emptyDir": {}}])
    out = smp(obj, {"spec": {"volumes": [{"name": "v", "$retainKeys": ["hostPath", "name"],
                                          "hostPath": {"path": "/tmp"}}]}})
    assert out["spec"]["volumes"] == [{"name": "v", "hostPath": {"path": "/tmp"}}]


def test_smp_errors_are_bad_requests():
    obj = pod({"name": "a", "image": "x"})
    with pytest.raises(BadRequest):
        smp(obj, {"spec": {"containers": [{"image": "no-name"}]}})
    with pytest.raises(BadRequest):
        smp(obj, {"spec": {"$patch": "frobnicate"}})
    with pytest.raises(BadRequest):
        apply_patch(obj, b"[1]", STRATEGIC_MERGE_PATCH, resources.PODS)


def test_smp_on_a_scale_body_uses_the_scale_schema():
    scale = {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "d"},
             "spec": {"replicas": 1}}
    out = apply_patch(scale, b'{"spec":{"replicas":4}}', STRATEGIC_MERGE_PATCH, None)
    assert out["spec"] == {"replicas": 4}
    with pytest.raises(UnsupportedMediaType):
        apply_patch({"kind": "Unknown"}, b"{}", STRATEGIC_MERGE_PATCH, None)


def test_smp_service_ports_merge_by_port_as_kubectl_apply_sends():
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
           "spec": {"selector": {"app": "a"}, "ports": [
               {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
               {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"}]}}
    patch = {"spec": {"$setElementOrder/ports": [{"port": 80}],
                      "ports": [{"port": 80, "targetPort": 9090},
                                {"$patch": "delete", "port": 443}],
                      "selector": {"app": "b"}}}
    out = smp(svc, patch, resources.SERVICES)
    assert out["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 9090,
                                     "protocol": "TCP"}]
    assert out["spec"]["selector"] == {"app": "b"}
