"""OpenAPI v2 and v3 documents for the served kinds, built from the 1.33 schemas.

kubectl reads them for `kubectl explain` (v3: `/openapi/v3` lists one document
per group-version; explain finds a kind by its `x-kubernetes-group-version-kind`)
and to decide whether the server validates fields itself (the `fieldValidation`
query parameter on the kind's PATCH operation). We take the JSON-Schema
definitions from api/schema.py, keep only what the served kinds reference,
rewrite them into OpenAPI form (nullable `["string", "null"]` types back to
plain types, `$ref` into `#/definitions/` or `#/components/schemas/`,
int-or-string and quantities as strings), and add the paths and operations the
Kubernetes apiserver documents for each resource and subresource. The kinds come
from the live registry (a custom resource's definition is its CRD's schema);
documents are built on first request and served as cached bytes until the
registry changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from kybernetes.api import schema
from kybernetes.api.errors import NotAcceptable, NotFound
from kybernetes.api.resources import Resource
from kybernetes.apiserver import openapi_proto
from kybernetes.apiserver.kinds.definition import KindDefinition
from kybernetes.apiserver.kinds.registry import KindRegistry

VERSION = "v1.33.0"
JSON = "application/json"
PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json",
               "application/merge-patch+json", "application/strategic-merge-patch+json")
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_EXTRA_DEFINITIONS = (f"{_META}Status", f"{_META}DeleteOptions", f"{_META}WatchEvent",
                      f"{_META}Patch", f"{_META}APIResourceList", f"{_META}APIGroupList",
                      "io.k8s.api.autoscaling.v1.Scale", "io.k8s.api.core.v1.Binding",
                      "io.k8s.api.policy.v1.Eviction")
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_DESCRIPTIONS = {
    _INT_OR_STRING: "IntOrString is a type that can hold an int32 or a string.  When used in "
                    "JSON or YAML marshalling and unmarshalling, it produces or consumes the "
                    "inner type.  This allows you to have, for example, a JSON field that can "
                    "accept a name or number.",
    _QUANTITY: "Quantity is a fixed-point representation of a number. It provides convenient "
               "marshaling/unmarshaling in JSON and YAML, in addition to String() and "
               "AsInt64() accessors.",
}
_SUBRESOURCE_BODIES = {"scale": ("autoscaling", "v1", "Scale", "io.k8s.api.autoscaling.v1.Scale"),
                       "binding": ("", "v1", "Binding", "io.k8s.api.core.v1.Binding"),
                       "eviction": ("policy", "v1", "Eviction", "io.k8s.api.policy.v1.Eviction")}

_PARAMETER_DOCS = {
    "allowWatchBookmarks": "allowWatchBookmarks requests watch events with type \"BOOKMARK\".",
    "continue": "The continue option should be set when retrieving more results from the "
                "server.",
    "fieldSelector": "A selector to restrict the list of returned objects by their fields. "
                     "Defaults to everything.",
    "labelSelector": "A selector to restrict the list of returned objects by their labels. "
                     "Defaults to everything.",
    "limit": "limit is a maximum number of responses to return for a list call.",
    "resourceVersion": "resourceVersion sets a constraint on what resource versions a request "
                       "may be served from.",
    "resourceVersionMatch": "resourceVersionMatch determines how resourceVersion is applied "
                            "to list calls.",
    "sendInitialEvents": "`sendInitialEvents=true` may be set together with `watch=true`.",
    "timeoutSeconds": "Timeout for the list/watch call.",
    "watch": "Watch for changes to the described resources and return them as a stream of "
             "add, update, and remove notifications.",
    "dryRun": "When present, indicates that modifications should not be persisted.",
    "fieldManager": "fieldManager is a name associated with the actor or entity that is "
                    "making these changes.",
    "fieldValidation": "fieldValidation instructs the server on how to handle objects in the "
                       "request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid "
                       "values are: - Ignore - Warn - Strict",
    "force": "Force is going to \"force\" Apply requests.",
    "gracePeriodSeconds": "The duration in seconds before the object should be deleted.",
    "propagationPolicy": "Whether and how garbage collection will be performed.",
    "pretty": "If 'true', then the output is pretty printed.",
}
_INTEGERS = ("limit", "timeoutSeconds", "gracePeriodSeconds")
_BOOLEANS = ("allowWatchBookmarks", "sendInitialEvents", "watch", "force")
_LIST_PARAMS = ("allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit",
                "resourceVersion", "resourceVersionMatch", "sendInitialEvents",
                "timeoutSeconds", "watch")
_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")


# --- definitions -----------------------------------------------------------------------------

def _refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        name = schema.ref_name(node)
        if name:
            out.add(name)
        for value in node.values():
            _refs(value, out)
    elif isinstance(node, list):
        for value in node:
            _refs(value, out)


Lookup = Callable[[str], Any]


def _closure(roots: list[str], lookup: Lookup) -> list[str]:
    seen: set[str] = set()
    todo = [r for r in roots if lookup(r) is not None]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        found: set[str] = set()
        _refs(lookup(name), found)
        todo.extend(found - seen)
    return sorted(seen)


def _convert(node: Any, prefix: str, v3: bool) -> Any:
    """Rewrite one JSON-Schema node into OpenAPI form."""
    if isinstance(node, list):
        return [_convert(v, prefix, v3) for v in node]
    if not isinstance(node, dict):
        return node
    name = schema.ref_name(node)
    if name:
        ref = {"$ref": prefix + name}
        siblings = {k: _convert(v, prefix, v3) for k, v in node.items() if k != "$ref"}
        if not siblings:
            return ref
        return {"allOf": [ref], **siblings} if v3 else {**ref, **siblings}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, list):
            kinds = [v for v in value if v != "null"]
            if kinds:
                out["type"] = kinds[0]
        elif key == "oneOf" and not v3:
            out["type"] = "string"  # swagger 2.0 has no oneOf: Kubernetes says string
        elif key == "properties":
            out[key] = {k: _convert(v, prefix, v3) for k, v in value.items()}
            for field in ("apiVersion", "kind"):
                if field in out[key]:
                    out[key][field].pop("enum", None)
        else:
            out[key] = _convert(value, prefix, v3)
    return out


def _definitions(names: list[str], lookup: Lookup, prefix: str, v3: bool) -> dict[str, Any]:
    out = {}
    for name in names:
        node = _convert(lookup(name), prefix, v3)
        if name in _DESCRIPTIONS:
            node.setdefault("description", _DESCRIPTIONS[name])
        if name == _INT_OR_STRING:
            node["format"] = "int-or-string"
            if v3:  # as kube-openapi's OpenAPIV3OneOfTypes: integer first
                node["oneOf"] = [{"type": "integer"}, {"type": "string"}]
        out[name] = node
    return out


def _root_names(kinds: list[KindDefinition]) -> list[str]:
    roots = list(_EXTRA_DEFINITIONS)
    for kind in kinds:
        roots += [kind.openapi_name, kind.openapi_name + "List"]
    return roots


# --- paths -------------------------------------------------------------------------------

def _camel(resource: Resource) -> str:
    group = resource.group.split(".")[0] if resource.group else "core"
    return group[:1].upper() + group[1:] + resource.version[:1].upper() + resource.version[1:]


def _tag(resource: Resource) -> str:
    group = resource.group.split(".")[0] if resource.group else "core"
    return f"{group}_{resource.version}"


def _param(name: str, v3: bool, where: str = "query") -> dict[str, Any]:
    kind = "integer" if name in _INTEGERS else "boolean" if name in _BOOLEANS else "string"
    param: dict[str, Any] = {"name": name, "in": where,
                             "description": _PARAMETER_DOCS.get(name, f"name of the {name}"),
                             "uniqueItems": True}
    if where == "path":
        param["required"] = True
    if v3:
        param["schema"] = {"type": kind, "uniqueItems": True}
        param.pop("uniqueItems")
    else:
        param["type"] = kind
    return param


class _Ops:
    """Builds operations for one resource in v2 or v3 form."""

    def __init__(self, kind: KindDefinition, v3: bool) -> None:
        self.r: Resource = kind.resource
        self.v3 = v3
        self.prefix = "#/components/schemas/" if v3 else "#/definitions/"
        self.definition = kind.openapi_name

    def gvk(self, group: str, version: str, kind: str) -> dict[str, str]:
        return {"group": group, "kind": kind, "version": version}

    def response(self, definition: str) -> dict[str, Any]:
        ref = {"$ref": self.prefix + definition}
        if self.v3:
            return {"description": "OK", "content": {JSON: {"schema": ref}}}
        return {"description": "OK", "schema": ref}

    def op(self, verb: str, op_id: str, action: str, *, definition: str,
           gvk: dict[str, str] | None, params: tuple[str, ...] = (),
           body: str | None = None, body_types: tuple[str, ...] = ("*/*",)) -> dict[str, Any]:
        op: dict[str, Any] = {
            "description": f"{verb} {self.r.kind}", "operationId": op_id,
            "parameters": [_param(p, self.v3) for p in params],
            "responses": {"200": self.response(definition),
                          "401": {"description": "Unauthorized"}},
            "tags": [_tag(self.r)], "x-kubernetes-action": action,
        }
        if gvk:
            op["x-kubernetes-group-version-kind"] = gvk
        if body is not None:
            ref = {"$ref": self.prefix + body}
            if self.v3:
                op["requestBody"] = {"content": {t: {"schema": ref} for t in body_types},
                                     "required": True}
            else:
                op["parameters"].append({"name": "body", "in": "body", "required": True,
                                         "schema": ref})
                op["consumes"] = list(body_types)
        if action in ("post", "put"):
            op["responses"]["201"] = self.response(definition)
        if not self.v3:
            op["produces"] = [JSON, "application/yaml"]
            op["schemes"] = ["https"]
        return op

    def path_params(self, named: bool) -> list[dict[str, Any]]:
        params = []
        if named:
            params.append(_param("name", self.v3, "path"))
        if self.r.namespaced:
            params.append(_param("namespace", self.v3, "path"))
        params.append(_param("pretty", self.v3))
        return params

    def paths(self) -> dict[str, Any]:
        r, kind = self.r, self.r.kind
        scope = "Namespaced" if r.namespaced else ""
        base = f"{_camel(r)}{scope}{kind}"
        gvk = self.gvk(r.group, r.version, kind)
        d = self.definition
        collection = r.path("{namespace}") if r.namespaced else r.path()
        out: dict[str, Any] = {}
        coll: dict[str, Any] = {"parameters": self.path_params(False)}
        if "list" in r.verbs:
            coll["get"] = self.op("list", f"list{base}", "list", definition=d + "List",
                                  gvk=gvk, params=_LIST_PARAMS)
        if "create" in r.verbs:
            coll["post"] = self.op("create", f"create{base}", "post", definition=d, gvk=gvk,
                                   params=_WRITE_PARAMS, body=d)
        if "deletecollection" in r.verbs:
            coll["delete"] = self.op("delete collection of", f"delete{_camel(r)}Collection"
                                     f"{scope}{kind}", "deletecollection",
                                     definition=f"{_META}Status", gvk=gvk,
                                     params=(*_LIST_PARAMS, "dryRun", "gracePeriodSeconds",
                                             "propagationPolicy"))
        out[collection] = coll
        if r.namespaced and "list" in r.verbs:
            out[r.path()] = {"parameters": [_param("pretty", self.v3)],
                             "get": self.op("list", f"list{_camel(r)}{kind}ForAllNamespaces",
                                            "list", definition=d + "List", gvk=gvk,
                                            params=_LIST_PARAMS)}
        if "get" in r.verbs:
            out[f"{collection}/{{name}}"] = self.item(base, d, gvk, "")
        for sub in r.subresources:
            item = self.subresource(base, sub)
            if item:
                out[f"{collection}/{{name}}/{sub}"] = item
        return out

    def item(self, base: str, d: str, gvk: dict[str, str], suffix: str,
             *, verbs: tuple[str, ...] = ("get", "put", "patch", "delete")) -> dict[str, Any]:
        item: dict[str, Any] = {"parameters": self.path_params(True)}
        if "get" in verbs:
            item["get"] = self.op("read", f"read{base}{suffix}", "get", definition=d, gvk=gvk)
        if "put" in verbs:
            item["put"] = self.op("replace", f"replace{base}{suffix}", "put", definition=d,
                                  gvk=gvk, params=_WRITE_PARAMS, body=d)
        if "patch" in verbs:
            item["patch"] = self.op("partially update", f"patch{base}{suffix}", "patch",
                                    definition=d, gvk=gvk, params=(*_WRITE_PARAMS, "force"),
                                    body=f"{_META}Patch", body_types=PATCH_TYPES)
        if "delete" in verbs and not suffix:
            item["delete"] = self.op("delete", f"delete{base}", "delete",
                                     definition=f"{_META}Status", gvk=gvk,
                                     params=("dryRun", "gracePeriodSeconds",
                                             "propagationPolicy"))
        return item

    def subresource(self, base: str, sub: str) -> dict[str, Any] | None:
        r = self.r
        suffix = sub[:1].upper() + sub[1:]
        if sub == "status":
            return self.item(base, self.definition, self.gvk(r.group, r.version, r.kind),
                             suffix, verbs=("get", "put", "patch"))
        if sub == "scale":
            group, version, kind, d = _SUBRESOURCE_BODIES[sub]
            return self.item(base, d, self.gvk(group, version, kind), suffix,
                             verbs=("get", "put", "patch"))
        if sub in ("binding", "eviction"):
            group, version, kind, d = _SUBRESOURCE_BODIES[sub]
            return {"parameters": self.path_params(True),
                    "post": self.op("create", f"create{base}{suffix}", "post", definition=d,
                                    gvk=self.gvk(group, version, kind), params=_WRITE_PARAMS,
                                    body=d)}
        return None


# --- documents -------------------------------------------------------------------------------

def _info() -> dict[str, str]:
    return {"title": "Kubernetes", "version": VERSION}


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


class OpenApi:
    """The OpenAPI documents of the served kinds, cached until the registry changes."""

    def __init__(self, kinds: KindRegistry) -> None:
        self.kinds = kinds
        self._generation = kinds.generation
        self._bytes: dict[str, bytes] = {}

    def _lookup(self, name: str) -> Any:
        """A definition: Kubernetes' own, or a custom kind's schema (its CRD's)."""
        found = schema.definition(name)
        if found is not None:
            return found
        for kind in self.kinds.definitions():
            if kind.openapi_name == name:
                return kind.schema()
            if kind.openapi_name + "List" == name:
                return _list_definition(kind.openapi_name)
        return None

    def _document(self, kinds: list[KindDefinition], v3: bool) -> tuple[dict[str, Any],
                                                                           dict[str, Any]]:
        prefix = "#/components/schemas/" if v3 else "#/definitions/"
        paths: dict[str, Any] = {}
        for kind in kinds:
            paths.update(_Ops(kind, v3=v3).paths())
        names = _closure(_root_names(kinds), self._lookup)
        return paths, _definitions(names, self._lookup, prefix, v3=v3)

    def v2_document(self) -> dict[str, Any]:
        """The swagger 2.0 document of everything served."""
        paths, definitions = self._document(self.kinds.definitions(), v3=False)
        return {"swagger": "2.0", "info": _info(), "paths": paths, "definitions": definitions,
                "securityDefinitions": {"BearerToken": {"type": "apiKey",
                                                        "name": "authorization",
                                                        "in": "header"}},
                "security": [{"BearerToken": []}]}

    def v3_document(self, group: str, version: str) -> dict[str, Any] | None:
        """The OpenAPI 3.0 document of one group-version, or None if not served."""
        kinds = self.kinds.in_group_version(group, version)
        if not kinds:
            return None
        paths, schemas = self._document(kinds, v3=True)
        return {"openapi": "3.0.0", "info": _info(), "paths": paths,
                "components": {
                    "schemas": schemas,
                    "securitySchemes": {"BearerToken": {"type": "apiKey",
                                                        "name": "authorization",
                                                        "in": "header"}}}}

    def encoded(self, key: str) -> bytes:
        """The bytes of `v2`, `v3` (the index), `v2.proto` or a `api/v1`-style v3 path."""
        if self._generation != self.kinds.generation:
            self._bytes.clear()
            self._generation = self.kinds.generation
        found = self._bytes.get(key)
        if found is None:
            found = self._bytes[key] = self._encode(key)
        return found

    def _encode(self, key: str) -> bytes:
        if key == "v2":
            return orjson.dumps(self.v2_document())
        if key == "v2.proto":
            return openapi_proto.document(self.v2_document())
        if key == "v3":
            paths = {}
            for group, version in self.kinds.group_versions():
                gv = _gv_path(group, version)
                digest = hashlib.sha512(self.encoded(gv)).hexdigest().upper()
                paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
            return orjson.dumps({"paths": paths})
        parts = key.split("/")
        doc = self.v3_document(parts[1], parts[2]) if parts[0] == "apis" and len(parts) == 3 \
            else self.v3_document("", parts[1]) if parts[0] == "api" and len(parts) == 2 \
            else None
        if doc is None:
            raise NotFound("the server could not find the requested resource")
        return orjson.dumps(doc)

    def document(self, path: str, accept: str | None = None) -> tuple[bytes, str]:
        """(body, content type) for `/openapi/v2`, `/openapi/v3` or `/openapi/v3/<gv path>`.

        Raises NotFound for other paths and NotAcceptable when the client accepts
        nothing we serve (v2 also comes as gnostic protobuf, which kubectl ≤ 1.27 asks
        for; v3 only as JSON).
        """
        path = path.rstrip("/")
        if path == "/openapi/v2":
            media = _pick(accept, proto=True)
            if media == JSON:
                return self.encoded("v2"), JSON
            return self.encoded("v2.proto"), openapi_proto.RESPONSE_TYPE
        if path == "/openapi/v3":
            key = "v3"
        elif path.startswith("/openapi/v3/"):
            key = path[len("/openapi/v3/"):]
        else:
            raise NotFound("the server could not find the requested resource")
        return self.encoded(key), _pick(accept, proto=False)

    async def handle(self, request: web.Request) -> web.Response:
        """The aiohttp handler for `/openapi/...` (the app routes here)."""
        body, media = self.document(request.path, request.headers.get("Accept"))
        response = web.Response(body=body)
        response.headers["Content-Type"] = media
        if request.query.get("hash"):
            response.headers["Cache-Control"] = "public, immutable"
        response.headers["ETag"] = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return response


def _list_definition(item: str) -> dict[str, Any]:
    """A custom kind's List: apiVersion, kind, items of the kind, ListMeta."""
    return {"type": "object", "required": ["items"], "properties": {
        "apiVersion": {"type": "string"},
        "items": {"type": "array", "items": {"$ref": schema.REF_PREFIX + item}},
        "kind": {"type": "string"},
        "metadata": {"$ref": schema.REF_PREFIX + f"{_META}ListMeta"}}}


def _pick(accept: str | None, *, proto: bool) -> str:
    """The first media type in `accept` we can serve (JSON, or protobuf for v2)."""
    for part in (accept or JSON).split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media in (JSON, "application/*", "*/*"):
            return JSON
        if proto and media == openapi_proto.MEDIA_TYPE:
            return media
    raise NotAcceptable(f"only the following media types are accepted: {JSON}"
                        + (f", {openapi_proto.MEDIA_TYPE}" if proto else ""))


