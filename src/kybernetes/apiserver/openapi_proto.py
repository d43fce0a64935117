"""The OpenAPI v2 document in protobuf, as kubectl ≤ 1.27 reads `/openapi/v2`.

client-go fetches `/openapi/v2` only as
`application/com.github.proto-openapi.spec.v2@v1.0+protobuf` (the gnostic
`openapi.v2.Document` message) for `kubectl explain` and client-side
validation. Rather than depend on generated code for that large schema, this
module writes the protobuf wire format by hand for the subset of the document
we produce (paths, operations, parameters, responses, schemas and vendor
extensions; extensions travel as YAML text in `Any.yaml`, which JSON is). Field
numbers are those of gnostic's openapiv2/OpenAPIv2.proto.
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
# What the response says: Go's mime parser (client-go) rejects the '@' above.
RESPONSE_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (strings, bytes, messages)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _str(number: int, value: Any) -> bytes:
    return _field(number, str(value).encode()) if value not in (None, "") else b""


def _strs(number: int, values: Any) -> bytes:
    return b"".join(_field(number, str(v).encode()) for v in values or ())


def _bool(number: int, value: Any) -> bytes:
    return _varint(number << 3) + b"\x01" if value else b""


def _int(number: int, value: Any) -> bytes:
    return _varint(number << 3) + _varint(int(value)) if isinstance(value, int) else b""


def _double(number: int, value: Any) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return b""
    return _varint(number << 3 | 1) + struct.pack("<d", float(value))


def _any(value: Any) -> bytes:
    """An `openapi.v2.Any` carrying the value as YAML (JSON is YAML)."""
    return _str(2, orjson.dumps(value).decode())


def _extensions(number: int, node: dict[str, Any]) -> bytes:
    return b"".join(_field(number, _str(1, k) + _field(2, _any(v)))
                    for k, v in node.items() if k.startswith("x-"))


def schema(node: dict[str, Any]) -> bytes:
    """An `openapi.v2.Schema` message."""
    out = [_str(1, node.get("$ref")), _str(2, node.get("format")),
           _str(3, node.get("title")), _str(4, node.get("description"))]
    if "default" in node:
        out.append(_field(5, _any(node["default"])))
    out += [_double(7, node.get("maximum")), _double(9, node.get("minimum")),
            _int(11, node.get("maxLength")), _int(12, node.get("minLength")),
            _str(13, node.get("pattern")), _bool(16, node.get("uniqueItems")),
            _strs(19, node.get("required"))]
    out += [_field(20, _any(v)) for v in node.get("enum") or ()]
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        out.append(_field(21, _field(1, schema(extra))))
    elif isinstance(extra, bool):
        out.append(_field(21, _varint(2 << 3) + (b"\x01" if extra else b"\x00")))
    kind = node.get("type")
    if kind:
        out.append(_field(22, _strs(1, [kind] if isinstance(kind, str) else kind)))
    if isinstance(node.get("items"), dict):
        out.append(_field(23, _field(1, schema(node["items"]))))
    out += [_field(24, schema(s)) for s in node.get("allOf") or ()]
    props = node.get("properties")
    if isinstance(props, dict):
        out.append(_field(25, b"".join(_field(1, _str(1, k) + _field(2, schema(v)))
                                       for k, v in props.items())))
    out.append(_bool(27, node.get("readOnly")))
    out.append(_extensions(31, node))
    return b"".join(out)


def _parameter(param: dict[str, Any]) -> bytes:
    """A `ParametersItem` holding a body, query or path parameter."""
    where = param.get("in")
    if where == "body":
        body = (_str(1, param.get("description")) + _str(2, param.get("name")) +
                _str(3, where) + _bool(4, param.get("required")) +
                _field(5, schema(param.get("schema") or {})))
        return _field(1, _field(1, body))
    common = (_bool(1, param.get("required")) + _str(2, where) +
              _str(3, param.get("description")) + _str(4, param.get("name")))
    if where == "path":
        sub = common + _str(5, param.get("type")) + _bool(19, param.get("uniqueItems"))
        return _field(1, _field(2, _field(4, sub)))
    sub = common + _str(6, param.get("type")) + _bool(20, param.get("uniqueItems"))
    return _field(1, _field(2, _field(3, sub)))


def _operation(op: dict[str, Any]) -> bytes:
    responses = b"".join(
        _field(1, _str(1, code) + _field(2, _field(1, _str(1, r.get("description")) + (
            _field(2, _field(1, schema(r["schema"]))) if "schema" in r else b""))))
        for code, r in (op.get("responses") or {}).items())
    return b"".join([
        _strs(1, op.get("tags")), _str(3, op.get("description")),
        _str(5, op.get("operationId")), _strs(6, op.get("produces")),
        _strs(7, op.get("consumes")),
        b"".join(_field(8, _parameter(p)) for p in op.get("parameters") or ()),
        _field(9, responses), _strs(10, op.get("schemes")), _extensions(13, op)])


_VERBS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def _path_item(item: dict[str, Any]) -> bytes:
    out = [_field(number, _operation(item[verb])) for verb, number in _VERBS.items()
           if verb in item]
    out += [_field(9, _parameter(p)) for p in item.get("parameters") or ()]
    return b"".join(out)


def document(doc: dict[str, Any]) -> bytes:
    """Encode a swagger 2.0 document (as openapi.v2_document builds it)."""
    info = doc.get("info") or {}
    paths = b"".join(_field(2, _str(1, path) + _field(2, _path_item(item)))
                     for path, item in (doc.get("paths") or {}).items())
    definitions = b"".join(_field(1, _str(1, name) + _field(2, schema(node)))
                           for name, node in (doc.get("definitions") or {}).items())
    return b"".join([_str(1, doc.get("swagger")),
                     _field(2, _str(1, info.get("title")) + _str(2, info.get("version"))),
                     _field(8, paths), _field(9, definitions), _extensions(16, doc)])
