"""Custom-resource validation against a structural schema: exact Kubernetes causes."""

from typing import Any

import pytest

from kybernetes.api.structural.validate import validate


def spec(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": properties, **extra}},
    }


@pytest.mark.parametrize(
    ("schema", "value", "cause"),
    [
        (
            {"type": "integer"},
            "string",
            (
                "spec.f",
                "FieldValueTypeInvalid",
                'Invalid value: "string": spec.f in body must be of type integer: "string"',
            ),
        ),
        (
            {"type": "integer"},
            None,
            (
                "spec.f",
                "FieldValueTypeInvalid",
                'Invalid value: "null": spec.f in body must be of type integer: "null"',
            ),
        ),
        (
            {"x-kubernetes-int-or-string": True},
            True,
            (
                "spec.f",
                "FieldValueTypeInvalid",
                'Invalid value: "boolean": spec.f in body must be of type integer,string: "boolean"',  # noqa: E501 - Kubernetes wording
            ),
        ),
        (
            {"type": "string", "enum": ["a", "b"]},
            "x",
            (
                "spec.f",
                "FieldValueNotSupported",
                'Unsupported value: "x": supported values: "a", "b"',
            ),
        ),
        (
            {"type": "string", "pattern": "^[a-z]+$"},
            "X",
            (
                "spec.f",
                "FieldValueInvalid",
                "Invalid value: \"X\": spec.f in body should match '^[a-z]+$'",
            ),
        ),
        (
            {"type": "string", "maxLength": 5},
            "abcdef",
            ("spec.f", "FieldValueTooLong", "Too long: may not be more than 5 bytes"),
        ),
        (
            {"type": "string", "minLength": 3},
            "ab",
            (
                "spec.f",
                "FieldValueInvalid",
                'Invalid value: "ab": spec.f in body should be at least 3 chars long',
            ),
        ),
        (
            {"type": "integer", "minimum": 1},
            0,
            (
                "spec.f",
                "FieldValueInvalid",
                "Invalid value: 0: spec.f in body should be greater than or equal to 1",
            ),
        ),
        (
            {"type": "integer", "maximum": 5, "exclusiveMaximum": True},
            5,
            (
                "spec.f",
                "FieldValueInvalid",
                "Invalid value: 5: spec.f in body should be less than 5",
            ),
        ),
        (
            {"type": "integer", "multipleOf": 2},
            3,
            (
                "spec.f",
                "FieldValueInvalid",
                "Invalid value: 3: spec.f in body should be a multiple of 2",
            ),
        ),
        (
            {"type": "array", "maxItems": 1, "items": {"type": "string"}},
            ["a", "b"],
            ("spec.f", "FieldValueTooMany", "Too many: 2: must have at most 1 items"),
        ),
        (
            {"type": "array", "minItems": 2, "items": {"type": "string"}},
            ["a"],
            (
                "spec.f",
                "FieldValueInvalid",
                "Invalid value: 1: spec.f in body should have at least 2 items",
            ),
        ),
        (
            {"type": "string", "format": "date-time"},
            "yesterday",
            (
                "spec.f",
                "FieldValueTypeInvalid",
                'Invalid value: "yesterday": spec.f in body must be of type date-time: "yesterday"',
            ),
        ),
        (
            {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            ["a", "a"],
            ("spec.f[1]", "FieldValueDuplicate", 'Duplicate value: "a"'),
        ),
        (
            {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
            [{"name": "a"}, {"name": "a"}],
            (
                "spec.f[1]",
                "FieldValueDuplicate",
                'Duplicate value: map[string]interface {}{"name":"a"}',
            ),
        ),
        (
            {
                "type": "object",
                "x-kubernetes-embedded-resource": True,
                "x-kubernetes-preserve-unknown-fields": True,
            },
            {"kind": "Pod"},
            ("spec.f.apiVersion", "FieldValueRequired", "Required value: must not be empty"),
        ),
    ],
)
def test_schema_causes(schema: dict[str, Any], value: Any, cause: tuple[str, str, str]) -> None:
    assert validate(spec({"f": schema}), {"spec": {"f": value}}) == [cause]


def test_required_and_nested_items_paths() -> None:
    schema = spec(
        {
            "ports": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["port"],
                    "properties": {"port": {"type": "integer"}},
                },
            }
        }
    )
    assert validate(schema, {"spec": {"ports": [{"port": 1}, {}]}}) == [
        ("spec.ports[1].port", "FieldValueRequired", "Required value")
    ]


def test_nullable_accepts_null() -> None:
    assert validate(spec({"f": {"type": "string", "nullable": True}}), {"spec": {"f": None}}) == []


RULES = spec(
    {"replicas": {"type": "integer"}, "max": {"type": "integer"}, "name": {"type": "string"}},
    **{
        "x-kubernetes-validations": [
            {"rule": "self.replicas <= self.max"},
            {
                "rule": "self.name.startsWith('a')",
                "message": "must start with a",
                "reason": "FieldValueForbidden",
            },
            {
                "rule": "self.replicas > 0",
                "messageExpression": "'got ' + string(self.replicas)",
                "fieldPath": ".replicas",
            },
            {"rule": "self.name == oldSelf.name", "message": "name is immutable"},
        ]
    },
)


def test_cel_rules_with_message_reason_field_path() -> None:
    assert validate(RULES, {"spec": {"replicas": 0, "max": -1, "name": "b"}}) == [
        (
            "spec",
            "FieldValueInvalid",
            'Invalid value: "object": failed rule: self.replicas <= self.max',
        ),
        ("spec", "FieldValueForbidden", "Forbidden: must start with a"),
        ("spec.replicas", "FieldValueInvalid", 'Invalid value: "object": got 0'),
    ]


def test_cel_evaluation_error_and_transition_rule() -> None:
    new = {"spec": {"replicas": 1, "max": 2, "name": "ab"}}
    assert validate(RULES, new, old={"spec": {"replicas": 1, "max": 2, "name": "aa"}}) == [
        ("spec", "FieldValueInvalid", 'Invalid value: "object": name is immutable')
    ]
    assert validate(RULES, {"spec": {"max": 2, "name": "a"}}) == [
        (
            "spec",
            "FieldValueInvalid",
            'Invalid value: "object": no such key: replicas evaluating rule: self.replicas <= self.max',  # noqa: E501 - Kubernetes wording
        ),
        (
            "spec",
            "FieldValueInvalid",
            'Invalid value: "object": no such key: replicas evaluating rule: self.replicas > 0',
        ),
    ]


def test_transition_rules_correlate_list_map_items_by_key() -> None:
    schema = spec(
        {
            "l": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["k"],
                "items": {
                    "type": "object",
                    "properties": {"k": {"type": "string"}, "v": {"type": "integer"}},
                    "x-kubernetes-validations": [{"rule": "self.v >= oldSelf.v"}],
                },
            }
        }
    )
    old = {"spec": {"l": [{"k": "a", "v": 5}]}}
    new = {"spec": {"l": [{"k": "b", "v": 1}, {"k": "a", "v": 4}]}}
    assert validate(schema, new, old) == [
        (
            "spec.l[1]",
            "FieldValueInvalid",
            'Invalid value: "object": failed rule: self.v >= oldSelf.v',
        )
    ]
