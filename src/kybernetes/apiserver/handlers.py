"""The REST verbs of every resource: get, list, watch, create, update, patch, delete,
deletecollection, and the dispatch to subresources.

One catch-all route parses the path (:mod:`.request_info`) and calls the verb;
everything resource-specific is in the strategy, the registry and the
subresource handlers, so this module reads as the HTTP contract: what is checked
in the request, which status code answers it, what body comes back.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from aiohttp import web

from kybernetes.api.depth import check_depth
from kybernetes.api.errors import (
    AlreadyExists,
    BadRequest,
    MethodNotAllowed,
    NotFound,
    UnsupportedMediaType,
    conflict,
    invalid,
)
from kybernetes.api.field_errors import format_value
from kybernetes.api.fields import parse_field_selector
from kybernetes.api.labels import parse_selector
from kybernetes.api.patch import apply_patch
from kybernetes.api.resources import BINDINGS
from kybernetes.apiserver import admission, codec
from kybernetes.apiserver.bodies import check_object, read_body, read_object
from kybernetes.apiserver.context import WriteContext
from kybernetes.apiserver.field_tracking import ManagedFields
from kybernetes.apiserver.kinds.registry import KindRegistry
from kybernetes.apiserver.lists import ListQuery, list_objects
from kybernetes.apiserver.registry import MODIFIED, DeleteOptions, Registry
from kybernetes.apiserver.request_info import (
    RequestInfo,
    dry_run,
    parse_path,
    query_bool,
    query_int,
)
from kybernetes.apiserver.responses import list_response, object_response, wants
from kybernetes.apiserver.subresources import Subresources
from kybernetes.apiserver.watch import serve_watch
from kybernetes.apiserver.watch_cache import WatchCache
from kybernetes.storage.interface import Store

APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", APPLY_PATCH)


def write_context(request: web.Request, info: RequestInfo, *,
                  body: dict[str, Any] | None = None) -> WriteContext:
    """Who writes and how, from the request (user, dryRun, fieldManager, force...)."""
    manager = request.query.get("fieldManager", "")
    if len(manager) > 128:
        raise BadRequest("fieldManager: Too long: may not be more than 128 bytes",
                         reason="Invalid", code=422)
    return WriteContext(
        user=request["user"] if "user" in request else WriteContext().user,
        dry_run=dry_run(request, body), field_manager=manager,
        field_validation=admission.field_validation(request.query.get("fieldValidation")),
        subresource=info.subresource, force=query_bool(request, "force"),
        user_agent=request.headers.get("User-Agent", ""))


def list_query(request: web.Request, info: RequestInfo) -> ListQuery:
    q = request.query
    return ListQuery(
        namespace=info.namespace,
        labels=parse_selector(q.get("labelSelector")),
        fields=parse_field_selector(q.get("fieldSelector"), info.kind.selectable_fields),
        resource_version=q.get("resourceVersion", ""),
        match=q.get("resourceVersionMatch", ""),
        limit=query_int(request, "limit") or 0,
        continue_=q.get("continue", ""),
    )


class ResourceHandlers:
    """The aiohttp handler for every resource path."""

    def __init__(self, store: Store, cache: WatchCache, registry: Registry,
                 subresources: Subresources, kinds: KindRegistry) -> None:
        self.store = store
        self.cache = cache
        self.registry = registry
        self.subresources = subresources
        self.kinds = kinds
        self.fields = ManagedFields()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        info = parse_path(request.path, self.kinds)
        request["info"] = info
        if info.subresource:
            return await self.subresources.handle(request, info)
        method = request.method
        if info.name is None:
            verb, name = {"GET": (self.list_or_watch, "list"), "POST": (self.create, "create"),
                          "DELETE": (self.delete_collection, "deletecollection"),
                          }.get(method, (None, ""))
        else:
            verb, name = {"GET": (self.get, "get"), "PUT": (self.update, "update"),
                          "PATCH": (self.patch, "patch"), "DELETE": (self.delete, "delete"),
                          }.get(method, (None, ""))
        # a verb the resource does not serve (a list of TokenReviews) is not routed either
        if verb is None or name not in info.resource.verbs:
            raise MethodNotAllowed(f"the server does not allow this method on the requested "
                                   f"resource ({method})")
        return await verb(request, info)

    async def get(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        """Read from the store, as Kubernetes' GET does; the object itself (no Table or
        metadata asked for) is answered with the watch cache's bytes of that revision."""
        kv = await self.registry.get_stored(info.kind, info.namespace, str(info.name))
        if not wants(request):
            encoded = self.cache.encoded(info.kind, kv)
            if encoded is not None:
                return web.Response(body=encoded, content_type=codec.JSON)
        return object_response(request, info.kind, codec.decode_kv(kv))

    async def list_or_watch(self, request: web.Request, info: RequestInfo
                            ) -> web.StreamResponse:
        query = list_query(request, info)
        if request.query.get("watch", "").lower() in ("true", "1"):
            return await serve_watch(request, self.cache, info.kind, query)
        if "sendInitialEvents" in request.query:
            raise invalid("ListOptions", "", [("sendInitialEvents", "FieldValueForbidden",
                                               "Forbidden: sendInitialEvents is forbidden for "
                                               "list")], group="meta.k8s.io")
        page = await list_objects(self.store, self.cache, info.kind, query)
        return list_response(request, info.kind, page.items, revision=page.revision,
                             continue_=page.continue_, remaining=page.remaining)

    async def create(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        obj = await read_object(request)
        if info.resource is BINDINGS:
            return await self.subresources.bind(request, info, obj)
        check_object(info.resource, info, obj)
        return await self.create_checked(request, info, obj, write_context(request, info))

    async def update(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        obj = await read_object(request)
        check_object(info.resource, info, obj)
        body_name = obj["metadata"].get("name")
        if body_name and body_name != info.name:
            raise name_mismatch(body_name, info)
        ctx = write_context(request, info)
        warnings = admission.unknown_field_warnings(info.kind, obj, ctx.field_validation)
        updated = await self.registry.update(info.kind, info.namespace, str(info.name), obj, ctx)
        return object_response(request, info.kind, updated, warnings=[*warnings, *ctx.warnings])

    async def patch(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        """PATCH an object (or, through the status subresource, its status); an apply
        patch is server-side apply."""
        content_type = codec.media_type(request.headers.get("Content-Type"))
        if content_type not in PATCH_TYPES:
            raise_unsupported_patch(content_type)
        check_patch_options(request, content_type)
        body = await read_body(request)
        ctx = write_context(request, info)
        if content_type == APPLY_PATCH:
            return await self.apply(request, info, body, ctx)
        kind, name = info.kind, str(info.name)
        warnings: list[str] = []

        def mutate(old: dict[str, Any]) -> dict[str, Any]:
            if kind.convert is not None:  # patched as this version shows it
                old = kind.present(old)
            new = apply_patch(old, body, content_type,
                              kind.schema() if kind.strategic_merge else None)
            if not isinstance(new, dict):
                raise BadRequest("the patch did not produce an object")
            check_type_kept(new, old)
            warnings[:] = admission.unknown_field_warnings(kind, new, ctx.field_validation)
            check_resource_version(info, new, old)
            return new

        patched = await self.registry.guaranteed_update(kind, info.namespace, name, mutate, ctx)
        return object_response(request, kind, patched, warnings=[*warnings, *ctx.warnings])

    async def apply(self, request: web.Request, info: RequestInfo, body: bytes,
                    ctx: WriteContext) -> web.StreamResponse:
        """Server-side apply: merge the configuration into the live object through the
        whole update path (CAS, admission, strategy, validation), or create the object."""
        kind = info.kind
        warnings = admission.unknown_field_warnings(kind, apply_config(body),
                                                    ctx.field_validation)
        ctx.applying = True

        def applied(live: dict[str, Any] | None) -> dict[str, Any]:
            # Decoded afresh for each attempt: the write path defaults what it is given.
            merged = self.fields.apply(kind, live, apply_config(body), ctx)
            check_applied(info, merged)
            if live is not None:
                check_resource_version(info, merged, live)
            return merged

        try:
            updated = await self.registry.guaranteed_update(kind, info.namespace,
                                                            str(info.name), applied, ctx)
        except NotFound:
            if info.subresource is not None:
                raise
            try:
                created = await self.registry.create(kind, info.namespace, applied(None), ctx)
            except AlreadyExists:  # created meanwhile: apply to it
                return await self.apply(request, info, body, ctx)
            return object_response(request, kind, created, status=201,
                                   warnings=[*warnings, *ctx.warnings])
        return object_response(request, kind, updated, warnings=[*warnings, *ctx.warnings])

    async def create_checked(self, request: web.Request, info: RequestInfo,
                             obj: dict[str, Any], ctx: WriteContext) -> web.StreamResponse:
        """Create an object that passed check_object; 201 with unknown-field warnings."""
        warnings = admission.unknown_field_warnings(info.kind, obj, ctx.field_validation)
        ctx.types_checked = True
        created = await self.registry.create(info.kind, info.namespace, obj, ctx)
        return object_response(request, info.kind, created, status=201,
                               warnings=[*warnings, *ctx.warnings])

    async def delete(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        options = await delete_options(request)
        ctx = write_context(request, info)
        ctx.dry_run = options.dry_run
        obj = await self.registry.delete(info.kind, info.namespace, str(info.name), options,
                                         ctx)
        return object_response(request, info.kind, obj, warnings=ctx.warnings)

    async def delete_collection(self, request: web.Request, info: RequestInfo
                                ) -> web.StreamResponse:
        options = await delete_options(request)
        ctx = write_context(request, info)
        ctx.dry_run = options.dry_run
        query = list_query(request, info)
        query.limit, query.continue_ = 0, ""
        page = await list_objects(self.store, self.cache, info.kind, query)
        deleted = []
        for entry in page.items:
            meta = entry.obj["metadata"]
            try:
                deleted.append(await self.registry.delete(
                    info.kind, meta.get("namespace"), meta["name"], options, ctx))
            except Exception as e:
                if getattr(e, "code", None) != 404:
                    raise
        return object_response(request, info.kind, {
            "kind": f"{info.resource.kind}List", "apiVersion": info.resource.api_version,
            "metadata": {"resourceVersion": str(page.revision)}, "items": deleted})


def check_patch_options(request: web.Request, content_type: str) -> None:
    """ValidatePatchOptions: an apply names its field manager; only an apply may force."""
    if content_type == APPLY_PATCH:
        if not request.query.get("fieldManager"):
            raise invalid("PatchOptions", "", [("fieldManager", "FieldValueRequired",
                                                "Required value: is required for apply patch")],
                          group="meta.k8s.io")
    elif "force" in request.query:
        raise invalid("PatchOptions", "", [("force", "FieldValueForbidden",
                                            "Forbidden: may not be specified for non-apply "
                                            "patch")], group="meta.k8s.io")


def apply_config(body: bytes) -> dict[str, Any]:
    """The applied configuration: YAML (JSON being YAML, tried first as the common case)."""
    try:
        config = orjson.loads(body)
        check_depth(config)
    except orjson.JSONDecodeError:
        try:
            config = codec.load_yaml(body)
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise BadRequest(f"error decoding YAML: {e}") from None
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise BadRequest("error decoding YAML: error unmarshaling JSON: json: cannot unmarshal "
                         f"{_json_type(config)} into Go value of type map[string]interface {{}}")
    return config


def _json_type(value: Any) -> str:
    return {list: "array", str: "string", bool: "bool"}.get(type(value), "number")


def check_type_kept(new: dict[str, Any], old: dict[str, Any]) -> None:
    """A patch cannot turn an object into another kind or version: the patched object
    no longer decodes into the original's type, which Kubernetes reports as an invalid
    `patch` (422)."""
    for field in ("kind", "apiVersion"):
        if new.get(field) != old.get(field):
            raise invalid("", "", [("patch", "FieldValueInvalid",
                                    f"Invalid value: {format_value(new.get(field))}: "
                                    f"{field} may not be changed from "
                                    f"{format_value(old.get(field))}")])


def check_resource_version(info: RequestInfo, new: dict[str, Any], old: dict[str, Any]
                           ) -> None:
    """A resourceVersion left in a patched object is a precondition: 409 when stale."""
    rv = old["metadata"]["resourceVersion"]
    if str((new.get("metadata") or {}).get("resourceVersion") or rv) != rv:
        resource = info.resource
        raise conflict(resource.plural, str(info.name), MODIFIED, resource.group)


def check_applied(info: RequestInfo, obj: dict[str, Any]) -> None:
    """checkName: the applied object keeps the kind, name and namespace of the URL."""
    resource = info.resource
    kind = obj.setdefault("kind", resource.kind)
    if kind != resource.kind:
        raise BadRequest(f'{kind} in version "{resource.version}" cannot be handled as a '
                         f'{resource.kind}: the kind "{kind}" does not match "{resource.kind}"')
    meta = obj.get("metadata") or {}
    name, namespace = meta.get("name") or "", meta.get("namespace") or ""
    if name != info.name:
        raise name_mismatch(name, info)
    if info.namespace and namespace and namespace != info.namespace:
        raise BadRequest(f"the namespace of the object ({namespace}) does not match the "
                         f"namespace on the request ({info.namespace})")


def name_mismatch(name: str, info: RequestInfo) -> BadRequest:
    """The 400 for a body whose name is not the one on the URL (update and apply)."""
    return BadRequest(f"the name of the object ({name}) does not match the name on the URL "
                      f"({info.name})")


def raise_unsupported_patch(content_type: str) -> None:
    raise UnsupportedMediaType(
        f'the body of the request was in an unknown format - accepted media types include: '
        f'{", ".join(PATCH_TYPES)}, got "{content_type}"')


async def delete_options(request: web.Request) -> DeleteOptions:
    """DeleteOptions from the body (optional) and the query."""
    raw = await read_body(request)
    body: dict[str, Any] = {}
    if raw.strip():
        body = codec.decode_body(raw, request.headers.get("Content-Type") or codec.JSON)
        check_delete_options_kind(body)
    grace = query_int(request, "gracePeriodSeconds", minimum=-(1 << 31))
    if grace is None and body.get("gracePeriodSeconds") is not None:
        grace = _body_int64(body["gracePeriodSeconds"], "gracePeriodSeconds")
    policy = request.query.get("propagationPolicy") or body.get("propagationPolicy")
    if policy not in (None, "Orphan", "Background", "Foreground"):
        raise BadRequest(f'propagationPolicy: Unsupported value: "{policy}": supported '
                         f'values: "Background", "Foreground", "Orphan"', reason="Invalid",
                         code=422)
    if policy is None and body.get("orphanDependents") is not None:
        policy = "Orphan" if body["orphanDependents"] is True else "Background"
    preconditions = body.get("preconditions") or {}
    if not isinstance(preconditions, dict):
        raise BadRequest("preconditions must be an object")
    return DeleteOptions(grace_period_seconds=grace, propagation_policy=policy,
                         preconditions=preconditions, dry_run=dry_run(request, body))



def check_delete_options_kind(body: dict[str, Any]) -> None:
    """A DELETE body is DeleteOptions (of meta.k8s.io/v1 or any group version): another
    kind, such as the object itself, is refused instead of deleting with defaults."""
    kind = body.get("kind")
    if kind not in (None, "", "DeleteOptions"):
        version = body.get("apiVersion") or "meta.k8s.io/v1"
        raise BadRequest(f'no kind "{kind}" is registered for version "{version}"')


def _body_int64(value: Any, field: str) -> int:
    """An int64 field of a DeleteOptions body, as Go's decoder accepts it; 400 otherwise
    (a grace period of 10^30 is not "at once")."""
    integral = isinstance(value, int | float) and not isinstance(value, bool) and \
        float(value).is_integer()
    if not integral or not -(1 << 63) <= int(value) < (1 << 63):
        found = f"number {value}" if _json_type(value) == "number" else _json_type(value)
        raise BadRequest(f"json: cannot unmarshal {found} into Go struct field "
                         f"DeleteOptions.{field} of type int64")
    return int(value)
