"""CRD schema checks: what apiextensions-apiserver refuses, with its paths and words."""

from typing import Any

import pytest

from kybernetes.api.structural.check import check_schema

P = "spec.versions[0].schema.openAPIV3Schema"


def spec(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"spec": schema}}


@pytest.mark.parametrize(
    ("schema", "causes"),
    [
        (
            spec({"properties": {"a": {"type": "string"}}}),
            [
                (
                    f"{P}.properties[spec].type",
                    "FieldValueRequired",
                    "Required value: must not be empty for specified object fields",
                )
            ],
        ),
        (
            spec(
                {
                    "type": "object",
                    "properties": {"a": {"type": "string"}},
                    "additionalProperties": {"type": "string"},
                }
            ),
            [
                (
                    f"{P}.properties[spec].additionalProperties",
                    "FieldValueForbidden",
                    "Forbidden: additionalProperties and properties are mutual exclusive",
                )
            ],
        ),
        (
            spec({"type": "object", "$ref": "#/x"}),
            [
                (
                    f"{P}.properties[spec].$ref",
                    "FieldValueForbidden",
                    "Forbidden: $ref is not supported",
                )
            ],
        ),
        (
            spec({"type": "array", "uniqueItems": True, "items": {"type": "string"}}),
            [
                (
                    f"{P}.properties[spec].uniqueItems",
                    "FieldValueForbidden",
                    "Forbidden: uniqueItems cannot "
                    "be set to true since the runtime complexity becomes quadratic",
                )
            ],
        ),
        (
            spec({"type": "object", "x-kubernetes-preserve-unknown-fields": False}),
            [
                (
                    f"{P}.properties[spec].x-kubernetes-preserve-unknown-fields",
                    "FieldValueInvalid",
                    "Invalid value: false: must be true or undefined",
                )
            ],
        ),
        (
            {
                "type": "object",
                "properties": {
                    "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}
                },
            },
            [
                (
                    f"{P}.properties[metadata]",
                    "FieldValueForbidden",
                    "Forbidden: must not specify anything "
                    "other than name and generateName, but metadata is implicitly specified",
                )
            ],
        ),
        (
            spec(
                {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "items": {"type": "object", "properties": {"k": {"type": "string"}}},
                }
            ),
            [
                (
                    f"{P}.properties[spec].x-kubernetes-list-map-keys",
                    "FieldValueRequired",
                    "Required value: must not be empty if x-kubernetes-list-type is map",
                )
            ],
        ),
        (
            spec(
                {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["k"],
                    "items": {"type": "object", "properties": {"k": {"type": "string"}}},
                }
            ),
            [
                (
                    f"{P}.properties[spec].items.properties.k.default",
                    "FieldValueRequired",
                    "Required value: this property is in x-kubernetes-list-map-keys, so it must have a default "  # noqa: E501 - Kubernetes wording
                    "or be a required property",
                )
            ],
        ),
        (
            spec(
                {
                    "type": "object",
                    "x-kubernetes-validations": [{"rule": "self.x", "reason": "Bad"}],
                }
            ),
            [
                (
                    f"{P}.properties[spec].x-kubernetes-validations[0].reason",
                    "FieldValueNotSupported",
                    'Unsupported value: "Bad": supported values: "FieldValueDuplicate", "FieldValueForbidden", '  # noqa: E501 - Kubernetes wording
                    '"FieldValueInvalid", "FieldValueRequired"',
                )
            ],
        ),
        (
            spec({"type": "object", "x-kubernetes-validations": [{"rule": "foo"}]}),
            [
                (
                    f"{P}.properties[spec].x-kubernetes-validations[0].rule",
                    "FieldValueInvalid",
                    'Invalid value: apiextensions.ValidationRule{Rule:"foo", Message:"", MessageExpression:"", '  # noqa: E501 - Kubernetes wording
                    'Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:"", '
                    "OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: <input>:1:1: undeclared "  # noqa: E501 - Kubernetes wording
                    "reference to 'foo' (in container '')\n | foo\n | ^",
                )
            ],
        ),
        (
            spec({"type": "object", "properties": {"n": {"type": "integer", "default": "x"}}}),
            [
                (
                    f"{P}.properties[spec].properties[n].default",
                    "FieldValueTypeInvalid",
                    'Invalid value: "string":  in body must be of type integer: "string"',
                )
            ],
        ),
        (
            spec({"type": "object", "default": {"z": 1}, "properties": {"a": {"type": "string"}}}),
            [
                (
                    f"{P}.properties[spec].default",
                    "FieldValueInvalid",
                    'Invalid value: map[string]interface {}{"z":1}: must not have unknown fields',
                )
            ],
        ),
    ],
)
def test_refused_schemas(schema: dict[str, Any], causes: list[tuple[str, str, str]]) -> None:
    assert check_schema(schema, P) == causes


def test_root_must_be_object() -> None:
    assert check_schema({"type": "string"}, P) == [
        (
            f"{P}.type",
            "FieldValueInvalid",
            'Invalid value: "string": only "object" is allowed as the type at the root of the schema',  # noqa: E501 - Kubernetes wording
        ),
        (f"{P}.type", "FieldValueInvalid", 'Invalid value: "string": must be object at the root'),
    ]


def test_a_good_schema_passes() -> None:
    good = spec(
        {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "maxLength": 10},
                "port": {"x-kubernetes-int-or-string": True, "default": 80},
                "items": {
                    "type": "array",
                    "x-kubernetes-list-type": "set",
                    "items": {"type": "string"},
                },
            },
            "x-kubernetes-validations": [{"rule": "self.name != ''", "message": "empty"}],
        }
    )
    assert check_schema(good, P) == []
