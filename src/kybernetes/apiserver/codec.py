"""Bytes in and out: request bodies, stored values and responses.

Objects are plain dicts end to end. A stored value is the object's JSON *without*
``metadata.resourceVersion``: the revision that wrote it is the resourceVersion,
filled in on read (:func:`decode_stored`), so a value never lies about its own
version. Request bodies are JSON, YAML or Kubernetes protobuf by Content-Type;
anything that is not an object, is larger than :data:`MAX_BODY` or is nested deeper
than :data:`MAX_DEPTH` is a client error, never a 500.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import yaml

from kybernetes.api.depth import MAX_DEPTH, check_depth
from kybernetes.api.errors import (
    BadRequest,
    InternalError,
    RequestEntityTooLarge,
    UnsupportedMediaType,
)
from kybernetes.apiserver import protobuf
from kybernetes.storage.encryption import Unreadable
from kybernetes.storage.interface import KeyValue

MAX_BODY = 3 * 1024 * 1024
JSON = "application/json"

_YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")
_JSON_TYPES = (JSON, "application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml",
               "*/*", "")


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _JsonYamlLoader(_YAML_LOADER):  # type: ignore[misc,valid-type]
    """Builds only what JSON holds, as sigs.k8s.io/yaml's YAML-to-JSON conversion does:
    timestamps stay strings, !!binary is its decoded text, a !!set a map of nulls, and
    keys that are not strings (1, true, null) their YAML text."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[str, Any]:
        self.flatten_mapping(node)  # merge keys (<<)
        mapping = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, list | dict):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, "found unhashable key",
                    key_node.start_mark)
            mapping[_key_text(key)] = self.construct_object(value_node, deep=deep)
        return mapping


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool):
        return orjson.dumps(key).decode()
    return str(key)


def _int_or_float(loader: Any, node: Any) -> int | float:
    """An integer past 64 bits is a float, as go-yaml resolves it (and as orjson reads
    such a JSON number)."""
    value = loader.construct_yaml_int(node)
    return value if -(1 << 63) <= value < (1 << 64) else float(value)


def _binary_text(loader: Any, node: Any) -> str:
    return bytes(loader.construct_yaml_binary(node)).decode("utf-8", "replace")


_JsonYamlLoader.add_constructor("tag:yaml.org,2002:timestamp",
                                lambda loader, node: loader.construct_scalar(node))
_JsonYamlLoader.add_constructor("tag:yaml.org,2002:binary", _binary_text)
_JsonYamlLoader.add_constructor("tag:yaml.org,2002:int", _int_or_float)
_JsonYamlLoader.add_constructor(
    "tag:yaml.org,2002:set",
    lambda loader, node: {_key_text(k): None for k in loader.construct_mapping(node)})

_YAML_ERROR = "error converting YAML to JSON: yaml: "
MAX_ALIAS_NODES = 100_000
_OPEN_EVENTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE_EVENTS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def check_size(length: int) -> None:
    if length > MAX_BODY:
        raise RequestEntityTooLarge("Request entity too large: limit is 3145728")


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def decode_body(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """The request body as an object; 400 for malformed input, 415 for other types."""
    check_size(len(raw))
    mt = media_type(content_type)
    if mt in _YAML_TYPES or mt.endswith("+yaml"):
        try:
            obj = load_yaml(raw)
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise BadRequest(f"the body of the request was in an unknown format: {e}") from None
    elif mt in _JSON_TYPES or mt.endswith("+json"):
        obj = decode_json(raw)
    elif mt == protobuf.MEDIA_TYPE:
        obj = protobuf.decode(raw)
    else:
        raise UnsupportedMediaType(
            f'the body of the request was in an unknown format - accepted media types '
            f'include: application/json, application/yaml, {protobuf.MEDIA_TYPE}, got "{mt}"')
    if not isinstance(obj, dict):
        raise BadRequest("the body of the request must be a JSON object")
    return obj


def decode_json(raw: bytes) -> Any:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"the body of the request was in an unknown format: "
                         f"couldn't get version/kind; json parse error: {e}") from None
    check_depth(obj)
    return obj


class _Fields(list[tuple[str, Any]]):
    """A JSON object's fields in order, repeats kept (orjson keeps only the last)."""


def duplicate_fields(raw: bytes) -> list[str]:
    """Paths of fields a JSON body repeats (`data.x`), for strict decoding; [] for a body
    that is not JSON. Parsed a second time, so only asked for under Strict."""
    try:
        tree = json.loads(raw, object_pairs_hook=_Fields)
    except (ValueError, RecursionError):
        return []
    out: list[str] = []
    stack: list[tuple[Any, str]] = [(tree, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, _Fields):
            seen: set[str] = set()
            for key, value in node:
                child = f"{path}.{key}" if path else key
                if key in seen:
                    out.append(child)
                seen.add(key)
                stack.append((value, child))
        elif isinstance(node, list):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node))
    return sorted(out)


def load_yaml(raw: bytes) -> Any:
    """A YAML body, checked on the parser's events before anything is built. YAML and
    Unicode errors are left to the caller to word."""
    text = raw.decode("utf-8")
    _check_yaml_events(text)
    return yaml.load(text, Loader=_JsonYamlLoader)


def _check_yaml_events(text: str) -> None:
    """400 for nesting past :data:`MAX_DEPTH` (PyYAML and everything after it recurse per
    level) and for aliases that expand past :data:`MAX_ALIAS_NODES` (a "billion laughs"
    document is a few lines of text but an object too large to walk)."""
    sizes: dict[str, int] = {}  # anchor → nodes it stands for
    open_nodes: list[list[Any]] = []  # per open collection: [anchor, nodes so far]
    expanded = 0
    for event in yaml.parse(text, Loader=_YAML_LOADER):
        if isinstance(event, _OPEN_EVENTS):
            if len(open_nodes) >= MAX_DEPTH:
                raise BadRequest(f"{_YAML_ERROR}exceeded max depth of {MAX_DEPTH}")
            open_nodes.append([event.anchor, 1])
            continue
        if isinstance(event, _CLOSE_EVENTS):
            anchor, size = open_nodes.pop()
        elif isinstance(event, yaml.ScalarEvent):
            anchor, size = event.anchor, 1
        elif isinstance(event, yaml.AliasEvent):
            anchor, size = None, sizes.get(event.anchor or "", 1)
            expanded += size
            if expanded > MAX_ALIAS_NODES:
                raise BadRequest(f"{_YAML_ERROR}document contains excessive aliasing")
        else:
            continue
        if anchor:
            sizes[anchor] = size
        if open_nodes:
            open_nodes[-1][1] += size


def encode(obj: Any) -> bytes:
    return orjson.dumps(obj)


def tight(data: bytes) -> bytes:
    """`data` in a buffer of its own length, for bytes that are kept. orjson hands
    its output back in the buffer it wrote into, ~8 KiB for a 2 KiB pod, so every
    value the watch cache kept cost four times its size."""
    return memoryview(data).tobytes()


def encode_stored(obj: dict[str, Any]) -> bytes:
    """The value to store (and keep in the watch cache): the object without its
    resourceVersion."""
    meta = obj.get("metadata") or {}
    if "resourceVersion" in meta:
        meta = {k: v for k, v in meta.items() if k != "resourceVersion"}
        obj = {**obj, "metadata": meta}
    return tight(orjson.dumps(obj))


def decode_stored(value: bytes, revision: int) -> dict[str, Any]:
    """A stored value as an object carrying `revision` as its resourceVersion; a 500
    InternalError for a value the store could not decrypt."""
    if type(value) is not bytes and isinstance(value, Unreadable):
        raise InternalError(value.message)
    obj: dict[str, Any] = orjson.loads(value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return obj


def decode_kv(kv: KeyValue) -> dict[str, Any]:
    return decode_stored(kv.value, kv.mod_revision)
