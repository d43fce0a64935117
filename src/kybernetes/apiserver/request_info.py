"""What a request asks for: the resource, namespace, name and subresource in its path,
and the common query parameters, checked once so handlers get clean values.

Paths are Kubernetes' (``/api/v1/namespaces/ns/pods/name/status``,
``/apis/apps/v1/deployments``); as in Kubernetes' RequestInfoFactory,
``/api/v1/namespaces/x/status`` and ``.../finalize`` are subresources of the
namespace, not a resource named "status".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kybernetes.api.errors import BadRequest, NotFound
from kybernetes.api.resources import Resource
from kybernetes.apiserver.kinds.definition import KindDefinition
from kybernetes.apiserver.kinds.registry import KindRegistry

_NAMESPACE_SUBRESOURCES = ("status", "finalize")
NOT_FOUND = "the server could not find the requested resource"


@dataclass(frozen=True)
class RequestInfo:
    kind: KindDefinition
    namespace: str | None
    name: str | None
    subresource: str | None
    rest: str = ""  # anything after the subresource (proxy paths)

    @property
    def resource(self) -> Resource:
        return self.kind.resource

    @property
    def verb_target(self) -> str:
        return f"{self.resource.plural}/{self.subresource}" if self.subresource else \
            self.resource.plural


def parse_path(path: str, kinds: KindRegistry) -> RequestInfo:
    """The served kind a path names (looked up now: kinds come and go); 404 if none."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise NotFound(NOT_FOUND)
    namespace = None
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
        else:
            namespace = None
    if not rest:
        raise NotFound(NOT_FOUND)
    kind = kinds.get(group, version, rest[0])
    if kind is None:
        raise NotFound(NOT_FOUND)
    resource = kind.resource
    if not resource.namespaced and namespace is not None:
        raise NotFound(NOT_FOUND)
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if subresource is not None and subresource not in resource.subresources:
        raise NotFound(NOT_FOUND)
    return RequestInfo(kind, namespace, name, subresource, "/".join(rest[3:]))


def parse_go_int(text: str, *, unsigned: bool = False) -> int:
    """`text` as Go's strconv.ParseInt/ParseUint (base 10, 64 bits) reads it; ValueError
    with Go's message otherwise. Query parameters are int64 (or uint64) in Kubernetes,
    so a 23-digit value is refused instead of reaching the store or a timer."""
    func = "ParseUint" if unsigned else "ParseInt"
    digits = text[1:] if not unsigned and text[:1] in ("+", "-") else text
    if not digits.isascii() or not digits.isdigit():
        raise ValueError(f'strconv.{func}: parsing "{text}": invalid syntax')
    value = int(text)
    low, high = (0, (1 << 64) - 1) if unsigned else (-(1 << 63), (1 << 63) - 1)
    if not low <= value <= high:
        raise ValueError(f'strconv.{func}: parsing "{text}": value out of range')
    return value


def parse_resource_version(text: str) -> int:
    """A resourceVersion as Kubernetes' APIObjectVersioner parses it ("" and "0" are 0);
    400 with its message when it is not a uint64."""
    if text in ("", "0"):
        return 0
    try:
        return parse_go_int(text, unsigned=True)
    except ValueError as e:
        raise BadRequest(f'invalid resource version: resourceVersion: Invalid value: '
                         f'"{text}": {e}') from None


def query_int(request: web.Request, name: str, *, minimum: int = 0) -> int | None:
    text = request.query.get(name)
    if text is None or text == "":
        return None
    try:
        value = parse_go_int(text)
    except ValueError as e:
        raise BadRequest(str(e)) from None
    if value < minimum:
        raise BadRequest(f"{name} must be greater than or equal to {minimum}")
    return value


def query_bool(request: web.Request, name: str) -> bool:
    text = request.query.get(name, "").lower()
    if text in ("", "false", "0"):
        return False
    if text in ("true", "1"):
        return True
    raise BadRequest(f'invalid value for {name}: "{text}" is not a boolean')


def dry_run(request: web.Request, body: dict[str, Any] | None = None) -> bool:
    """``dryRun=All`` (query or DeleteOptions body); anything else is 400."""
    values = request.query.getall("dryRun", [])
    if body and isinstance(body.get("dryRun"), list):
        values = [*values, *body["dryRun"]]
    for value in values:
        if value != "All":
            raise BadRequest(f'dryRun: Unsupported value: "{value}": supported values: "All"',
                             reason="Invalid", code=422)
    return bool(values)
