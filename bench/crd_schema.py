"""Per-object cost of the custom-resource schema work: default, prune, validate with two CEL rules.

Prints JSON: microseconds per object for each step and in total, on a ~20-field
custom resource, as the API server runs them on a create.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

from kybernetes.api.structural.defaults import apply_defaults
from kybernetes.api.structural.prune import prune
from kybernetes.api.structural.validate import validate

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["name", "replicas"],
            "x-kubernetes-validations": [
                {"rule": "self.replicas <= self.maxReplicas", "message": "replicas above maximum"},
                {"rule": "self.name.startsWith('a')"},
            ],
            "properties": {
                "name": {"type": "string", "maxLength": 63, "pattern": "^[a-z0-9-]+$"},
                "replicas": {"type": "integer", "minimum": 0},
                "maxReplicas": {"type": "integer", "default": 10},
                "image": {"type": "string"},
                "mode": {"type": "string", "enum": ["Active", "Passive"]},
                "port": {"x-kubernetes-int-or-string": True},
                "paused": {"type": "boolean", "default": False},
                "ratio": {"type": "number"},
                "created": {"type": "string", "format": "date-time"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "args": {"type": "array", "items": {"type": "string"}},
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "port": {"type": "integer"},
                            "protocol": {"type": "string", "default": "TCP"},
                        },
                    },
                },
                "resources": {
                    "type": "object",
                    "properties": {"cpu": {"type": "string"}, "memory": {"type": "string"}},
                },
            },
        }
    },
}

OBJECT: dict[str, Any] = {
    "apiVersion": "example.com/v1",
    "kind": "Widget",
    "metadata": {"name": "w", "namespace": "d"},
    "spec": {
        "name": "alpha",
        "replicas": 3,
        "image": "nginx:1.25",
        "mode": "Active",
        "port": "http",
        "ratio": 0.5,
        "created": "2024-01-01T00:00:00Z",
        "labels": {"app": "w", "tier": "web"},
        "args": ["-v", "--port=80"],
        "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}],
        "resources": {"cpu": "100m", "memory": "64Mi"},
        "unknown": True,
    },
}


def _per_object(step: Any, rounds: int) -> float:
    objects = [copy.deepcopy(OBJECT) for _ in range(rounds)]
    start = time.perf_counter()
    for obj in objects:
        step(obj)
    return (time.perf_counter() - start) / rounds * 1e6


def _all_three(obj: dict[str, Any]) -> None:
    apply_defaults(SCHEMA, obj)
    prune(SCHEMA, obj)
    validate(SCHEMA, obj)


def main(rounds: int = 20000) -> None:
    validate(SCHEMA, OBJECT)  # compile schema and rules once, as the API server does
    figures = {
        "defaults_us": _per_object(lambda o: apply_defaults(SCHEMA, o), rounds),
        "prune_us": _per_object(lambda o: prune(SCHEMA, o), rounds),
        "validate_with_2_cel_rules_us": _per_object(lambda o: validate(SCHEMA, o), rounds),
        "all_three_us": _per_object(_all_three, rounds),
    }
    print(json.dumps({name: round(value, 1) for name, value in figures.items()}))


if __name__ == "__main__":
    main()
