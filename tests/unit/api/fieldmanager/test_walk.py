"""A value on one side only is grafted whole: the same set as inserting each of its paths."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.api import schema
from kybernetes.api.fieldmanager.fieldset import FieldSet, Path, Tree, insert
from kybernetes.api.fieldmanager.shape import Shape, is_leaf_value, shape_of
from kybernetes.api.fieldmanager.walk import MISSING, compare, index_items

from .conftest import DEPLOYMENT_CONFIG

WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "image": {"type": "string"},
                "tags": {"type": "array", "x-kubernetes-list-type": "set",
                         "items": {"type": "string"}},
                "ports": {"type": "array", "x-kubernetes-list-type": "map",
                          "x-kubernetes-list-map-keys": ["name"],
                          "items": {"type": "object", "properties": {
                              "name": {"type": "string"}, "port": {"type": "integer"}}}},
                "env": {"type": "object", "additionalProperties": {"type": "string"}},
                "atomic": {"type": "object", "x-kubernetes-map-type": "atomic",
                           "properties": {"a": {"type": "integer"}}},
                "empty": {"type": "object", "properties": {"a": {"type": "integer"}}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}

WIDGET = {
    "apiVersion": "example.com/v1",
    "kind": "Widget",
    "metadata": {"name": "w", "namespace": "ns", "labels": {"app": "w"}, "finalizers": []},
    "spec": {
        "image": "nginx",
        "tags": ["a", "b", "a"],
        "ports": [{"name": "http", "port": 80}, {"name": "admin", "port": 81},
                  {"name": "http", "port": 82}],
        "env": {"MODE": "prod", "EMPTY": ""},
        "atomic": {"a": 1},
        "empty": {},
        "free": {"x": {"y": [1, {"z": None}]}},
    },
    "status": None,
}

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "annotations": {}},
    "spec": {
        "containers": [
            {"name": "a", "image": "x", "ports": [{"containerPort": 1, "protocol": "TCP"}]},
            {"name": "a", "image": "y"},
        ],
        "volumes": [],
        "nodeSelector": None,
    },
}


def _inserted(lhs: Any, rhs: Any, shape: Shape, path: Path, tree: Tree) -> None:
    """The reference: every path of the value on one side, inserted one by one."""
    value = rhs if lhs is MISSING else lhs
    if not is_leaf_value(shape, value) and value:
        if isinstance(value, dict):
            for key, child in value.items():
                _inserted(*_sides(lhs, child), shape.field(key), (*path, "f:" + key), tree)
        else:
            for element, item in index_items(shape, value).items():
                _inserted(*_sides(lhs, item), shape.item_shape(), (*path, element), tree)
    insert(tree, path)


def _sides(lhs: Any, value: Any) -> tuple[Any, Any]:
    return (MISSING, value) if lhs is MISSING else (value, MISSING)


CASES = [
    pytest.param(WIDGET_SCHEMA, WIDGET, id="custom"),
    pytest.param(schema.definition_for("apps/v1", "Deployment"), DEPLOYMENT_CONFIG,
                 id="deployment"),
    pytest.param(schema.definition_for("v1", "Pod"), POD, id="pod"),
]


@pytest.mark.parametrize(("node", "obj"), CASES)
def test_an_object_that_appeared_or_went_is_every_path_of_it(
    node: dict[str, Any], obj: dict[str, Any]
) -> None:
    shape = shape_of(node)
    for name, diff in (("added", compare(MISSING, obj, shape)),
                       ("removed", compare(obj, MISSING, shape))):
        expected: Tree = {}
        lhs, rhs = (MISSING, obj) if name == "added" else (obj, MISSING)
        _inserted(lhs, rhs, shape, (), expected)
        got = FieldSet(getattr(diff, name))
        assert got == FieldSet(expected)
        assert list(got) == list(FieldSet(expected))  # and in Kubernetes' order
