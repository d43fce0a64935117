"""Structural defaulting and pruning."""

from typing import Any

from kybernetes.api.structural.defaults import apply_defaults
from kybernetes.api.structural.prune import prune

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "replicas": {"type": "integer", "default": 1},
                "nested": {
                    "type": "object",
                    "default": {},
                    "properties": {"inner": {"type": "string", "default": "x"}},
                },
                "ports": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"protocol": {"type": "string", "default": "TCP"}},
                    },
                },
                "labels": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "default": "v"},
                },
                "keep": {"type": "string", "nullable": True},
                "drop": {"type": "string"},
                "free": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {"typed": {"type": "object", "properties": {}}},
                },
                "pod": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {"spec": {"type": "object"}},
                },
            },
        }
    },
}


def test_defaults_fill_missing_nested_items_and_map_values() -> None:
    obj: dict[str, Any] = {
        "spec": {"ports": [{}], "labels": {"a": None}, "keep": None, "drop": None, "replicas": None}
    }
    apply_defaults(SCHEMA, obj)
    assert obj == {
        "spec": {
            "replicas": 1,
            "nested": {"inner": "x"},
            "ports": [{"protocol": "TCP"}],
            "labels": {"a": "v"},
            "keep": None,
        }
    }


def test_prune_reports_paths_and_keeps_meta_and_preserved_fields() -> None:
    obj: dict[str, Any] = {
        "apiVersion": "a/v1",
        "kind": "K",
        "metadata": {"name": "n"},
        "extra": 1,
        "spec": {
            "unknown": 1,
            "ports": [{"protocol": "UDP", "x": 1}],
            "free": {"anything": 1, "typed": {"gone": 1}},
            "pod": {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": {}, "z": 1},
        },
    }
    assert prune(SCHEMA, obj) == [
        "extra",
        "spec.unknown",
        "spec.ports[0].x",
        "spec.free.typed.gone",
        "spec.pod.z",
    ]
    assert obj["spec"]["free"] == {"anything": 1, "typed": {}}
    assert obj["metadata"] == {"name": "n"}
