"""Field sets: fieldsV1 round trips, set algebra, and sets of values."""

from __future__ import annotations

from typing import Any

import orjson

from kybernetes.api.fieldmanager import FieldSet, path_string, shape_of, value_set

# From the Kubernetes docs (server-side apply) and a kubectl-created Deployment.
DOCS_FIELDS_V1 = orjson.loads(b"""{
  "f:data": {"f:key": {}},
  "f:metadata": {"f:annotations": {
    ".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}}
}""")
DEPLOYMENT_FIELDS_V1 = orjson.loads(b"""{
  "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
  "f:spec": {
    "f:progressDeadlineSeconds": {}, "f:replicas": {}, "f:revisionHistoryLimit": {},
    "f:selector": {},
    "f:strategy": {
      "f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}}, "f:type": {}},
    "f:template": {
      "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
      "f:spec": {
        "f:containers": {"k:{\\"name\\":\\"nginx\\"}": {
          ".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
          "f:ports": {".": {}, "k:{\\"containerPort\\":80,\\"protocol\\":\\"TCP\\"}": {
            ".": {}, "f:containerPort": {}, "f:protocol": {}}},
          "f:resources": {}, "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}},
        "f:dnsPolicy": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {},
        "f:terminationGracePeriodSeconds": {}
      }
    }
  }
}""")


def test_fields_v1_round_trips_byte_for_byte() -> None:
    for fields in (DOCS_FIELDS_V1, DEPLOYMENT_FIELDS_V1):
        again = FieldSet.from_fields_v1(fields).to_fields_v1()
        assert orjson.dumps(again) == orjson.dumps(fields)


def test_serialization_sorts_like_kubernetes() -> None:
    fields: dict[str, Any] = {
        'v:"b"': {},
        "i:2": {},
        'k:{"a":1}': {},
        "f:z": {},
        "v:1": {},
        "f:a": {"f:x": {}, ".": {}},
    }
    assert list(FieldSet.from_fields_v1(fields).to_fields_v1()) == [
        "f:a",
        "f:z",
        'k:{"a":1}',
        "v:1",
        'v:"b"',
        "i:2",
    ]
    assert list(FieldSet.from_fields_v1(fields).to_fields_v1()["f:a"]) == [".", "f:x"]


def test_set_algebra() -> None:
    a = FieldSet.from_paths([("f:spec", "f:replicas"), ("f:metadata", "f:labels", "f:app")])
    b = FieldSet.from_paths([("f:spec", "f:replicas"), ("f:spec", "f:paused")])
    assert a.intersection(b) == FieldSet.from_paths([("f:spec", "f:replicas")])
    assert a.difference(b) == FieldSet.from_paths([("f:metadata", "f:labels", "f:app")])
    assert set(a.union(b)) == {
        ("f:spec", "f:replicas"),
        ("f:spec", "f:paused"),
        ("f:metadata", "f:labels", "f:app"),
    }
    assert a.difference(a).empty() and FieldSet().empty()


def test_member_with_children_keeps_its_dot() -> None:
    parent = FieldSet.from_paths([("f:metadata", "f:labels")])
    child = FieldSet.from_paths([("f:metadata", "f:labels", "f:app")])
    both = parent.union(child)
    assert both.to_fields_v1() == {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}
    assert both.has(("f:metadata", "f:labels")) and not child.has(("f:metadata", "f:labels"))
    assert both.leaves() == [("f:metadata", "f:labels", "f:app")]
    assert both.difference(child) == parent


def test_recursive_difference_drops_everything_under_a_member() -> None:
    fields = FieldSet.from_paths([("f:status", "f:replicas"), ("f:spec", "f:replicas")])
    assert fields.recursive_difference(FieldSet.from_paths([("f:status",)])) == FieldSet.from_paths(
        [("f:spec", "f:replicas")]
    )


def test_path_strings_match_structured_merge_diff() -> None:
    assert (
        path_string(
            ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"nginx"}', "f:image")
        )
        == '.spec.template.spec.containers[name="nginx"].image'
    )
    assert (
        path_string(("f:ports", 'k:{"containerPort":80,"protocol":"TCP"}'))
        == '.ports[containerPort=80,protocol="TCP"]'
    )
    assert path_string(("f:metadata", "f:finalizers", 'v:"a/b"')) == '.metadata.finalizers[="a/b"]'


def test_value_set_addresses_items_by_key_value_and_atomic_leaves(
    deployment_schema: dict[str, Any], config: dict[str, Any]
) -> None:
    tree = value_set(config, shape_of(deployment_schema))
    container = tree["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']
    assert container["f:args"] == {}
    assert container["f:env"]['k:{"name":"B"}'] == {".": {}, "f:name": {}, "f:value": {}}
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in container["f:ports"]
    assert tree["f:metadata"]["f:finalizers"] == {'v:"a/b"': {}}
    assert tree["f:spec"]["f:selector"] == {}
    assert tree["f:metadata"]["f:labels"] == {"f:app": {}}


def test_crd_schema_with_preserve_unknown_fields_is_deduced() -> None:
    crd = {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
        },
    }
    tree = value_set({"spec": {"a": {"b": 1}, "l": [1, 2]}, "tags": ["x"]}, shape_of(crd))
    assert tree == {"f:spec": {"f:a": {".": {}, "f:b": {}}, "f:l": {}}, "f:tags": {'v:"x"': {}}}
