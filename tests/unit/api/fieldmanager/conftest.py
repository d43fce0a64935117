"""Shared objects for the field manager tests: the Deployment schema and a config."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kybernetes.api import schema
from kybernetes.api.fieldmanager import FieldSet, reset_fields

DEPLOYMENT_CONFIG: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["a/b"]},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "nginx",
                        "image": "nginx:1",
                        "args": ["-g", "daemon off;"],
                        "ports": [{"containerPort": 80}],
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    }
                ]
            },
        },
    },
}


@pytest.fixture
def deployment_schema() -> dict[str, Any]:
    node = schema.definition_for("apps/v1", "Deployment")
    assert node is not None
    return node


@pytest.fixture
def main_reset(deployment_schema: dict[str, Any]) -> FieldSet:
    return reset_fields(deployment_schema)


@pytest.fixture
def config() -> dict[str, Any]:
    return copy.deepcopy(DEPLOYMENT_CONFIG)
