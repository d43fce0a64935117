"""The generic registry: create, get, update, delete of any resource on the store.

Every write is a compare-and-swap on the key's mod_revision (the object's
resourceVersion), as Kubernetes' ``GuaranteedUpdate`` does: read, compute the
new object, write only if nothing changed in between, else re-read and try
again. A client that sent a resourceVersion gets ``409 Conflict`` instead of a
retry, which is optimistic concurrency. An update that changes nothing is not
written (the resourceVersion stays), as in Kubernetes.

Keys are ``<kind prefix><namespace>/<name>`` (cluster-scoped: ``<kind
prefix><name>``; the prefix is ``/registry/<plural>/`` for built-in kinds). Every
method takes the kind's :class:`KindDefinition`, whose strategy, defaulting,
validation and write hooks (Service address allocation) it runs, and a
:class:`WriteContext` saying who writes and how.
"""

from __future__ import annotations

import copy
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kybernetes.api.errors import (
    Conflict,
    Forbidden,
    MethodNotAllowed,
    already_exists,
    conflict,
    invalid,
    not_found,
)
from kybernetes.api.resources import NAMESPACES
from kybernetes.apiserver import strategy
from kybernetes.apiserver.admission import default_and_validate, validate
from kybernetes.apiserver.admission_chain import AdmissionChain
from kybernetes.apiserver.codec import decode_kv, encode_stored
from kybernetes.apiserver.context import WriteContext, system_context
from kybernetes.apiserver.kinds.definition import HookSource, KindDefinition, WriteHooks
from kybernetes.apiserver.kinds.registry import KindRegistry
from kybernetes.apiserver.watch_cache import WatchCache
from kybernetes.storage.interface import KeyValue, Store

MODIFIED = "the object has been modified; please apply your changes to the latest version " \
           "and try again"
log = logging.getLogger("kybernetes.apiserver.registry")
_GENERATE_ATTEMPTS = 8
_CAS_ATTEMPTS = 64
_LIVE_LOOKUP_SECONDS = 10.0

Mutation = Callable[[dict[str, Any]], dict[str, Any] | Awaitable[dict[str, Any]]]


@dataclass
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str | None = None
    preconditions: dict[str, Any] = field(default_factory=dict)
    dry_run: bool = False


def _random_suffix() -> str:
    return "".join(random.choices("bcdfghjklmnpqrstvwxz2456789", k=5))


def _with_rv(obj: dict[str, Any], revision: int) -> dict[str, Any]:
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return obj


class FieldTracker(Protocol):
    """Keeps metadata.managedFields: who set which fields (server-side apply)."""

    def track(self, kind: KindDefinition, new: dict[str, Any], old: dict[str, Any] | None,
              ctx: WriteContext) -> None:
        """Record the write of `new` over `old` (None on create) in new's managedFields."""


class Registry:
    """Store operations with Kubernetes' semantics, for every kind."""

    def __init__(self, store: Store, cache: WatchCache, kinds: KindRegistry, *,
                 hook_source: HookSource | None = None,
                 admission: AdmissionChain | None = None,
                 fields: FieldTracker | None = None) -> None:
        self.store = store
        self.cache = cache
        self.kinds = kinds
        self.hook_source = hook_source
        self.admission = admission or AdmissionChain()
        self.fields = fields
        # Namespaces this server just marked for deletion: read live until the watch
        # cache has surely caught up (kube's NamespaceLifecycle forceLiveLookup).
        self._terminated: dict[str, float] = {}

    def _live_lookup(self, namespace: str) -> None:
        """Read `namespace` from the store for a while (forgetting the expired ones)."""
        now = time.monotonic()
        for name in [n for n, until in self._terminated.items() if until <= now]:
            del self._terminated[name]
        self._terminated[namespace] = now + _LIVE_LOOKUP_SECONDS

    def _hooks(self, kind: KindDefinition) -> WriteHooks | None:
        if kind.hooks is None or self.hook_source is None:
            return None
        return kind.hooks(self.hook_source)

    # -- reads ----------------------------------------------------------------------

    async def _read(self, kind: KindDefinition, namespace: str | None, name: str) -> KeyValue:
        _, kv = await self.store.get(kind.key(namespace, name))
        if kv is None:
            resource = kind.resource
            raise not_found(resource.plural, name, resource.group)
        return kv

    async def get(self, kind: KindDefinition, namespace: str | None, name: str
                  ) -> dict[str, Any]:
        return decode_kv(await self._read(kind, namespace, name))

    async def get_stored(self, kind: KindDefinition, namespace: str | None, name: str
                         ) -> KeyValue:
        """The object as stored (404 when absent), not decoded: a GET answers with the
        bytes the watch cache already encoded for that revision when it has them."""
        return await self._read(kind, namespace, name)

    async def check_namespace(self, namespace: str, *, creating: bool = True) -> None:
        """404 when the namespace does not exist; 403 when it is being terminated."""
        namespaces = self.kinds.of(NAMESPACES)
        ns = self.cache.cached(namespaces, None, namespace)
        if self._terminated.get(namespace, 0.0) > time.monotonic():
            ns = None
        if ns is None:
            _, kv = await self.store.get(namespaces.key(None, namespace))
            if kv is None:
                raise not_found("namespaces", namespace)
            ns = decode_kv(kv)
        if creating and (ns.get("metadata") or {}).get("deletionTimestamp"):
            raise Forbidden(f"unable to create new content in namespace {namespace} "
                            "because it is being terminated",
                            details={"causes": [{"reason": "NamespaceTerminating",
                                                 "message": f"namespace {namespace} is "
                                                            "being terminated",
                                                 "field": "metadata.namespace"}]})

    # -- create ---------------------------------------------------------------------

    async def create(self, kind: KindDefinition, namespace: str | None, obj: dict[str, Any],
                     ctx: WriteContext | None = None) -> dict[str, Any]:
        """Store a new object; 409 AlreadyExists when the name is taken."""
        ctx = ctx or system_context()
        ctx.operation = "CREATE"
        sent = obj
        obj = kind.to_storage(obj, None)
        resource = kind.resource
        if kind.creates_refused:
            raise MethodNotAllowed(kind.creates_refused)
        meta = obj.setdefault("metadata", {})
        if resource.namespaced:
            meta["namespace"] = namespace
            await self.check_namespace(str(namespace))
        else:
            meta.pop("namespace", None)
        kind.apply_defaults(obj)
        if self.fields is not None and not ctx.applying:
            self.fields.track(kind, obj, None, ctx)
        mutated = await self.admission.mutate(kind, ctx, namespace=namespace,
                                              name=meta.get("name") or "", obj=obj, old=None)
        if mutated is not obj and mutated is not None:
            obj = mutated
            meta = obj.setdefault("metadata", {})
        strategy.prepare_for_create(kind, obj, ctx.user)
        generate = not meta.get("name") and meta.get("generateName")
        if generate:
            meta["name"] = f"{meta['generateName']}{_random_suffix()}"
        if not meta.get("name"):
            raise invalid(resource.kind, "", [("metadata.name", "FieldValueRequired",
                                               "Required value: name or generateName is "
                                               "required")], group=resource.group)
        # defaulted on arrival, and after each mutating plugin; the JSON types walked
        # again only when the object is no longer the body the handler checked
        validate(kind, obj, types_checked=ctx.types_checked and obj is sent)
        await self.admission.validate(kind, ctx, namespace=namespace,
                                      name=meta["name"], obj=obj, old=None)
        if kind.storage_version:
            obj["apiVersion"] = kind.storage_version
        hooks = self._hooks(kind)
        if hooks is not None:
            await hooks.before_write(obj, None, dry_run=ctx.dry_run)
        try:
            return await self._insert(kind, obj, generate=bool(generate), dry_run=ctx.dry_run)
        except BaseException:
            if hooks is not None and not ctx.dry_run:
                await hooks.write_failed(obj, None)
            raise

    async def _insert(self, kind: KindDefinition, obj: dict[str, Any], *, generate: bool,
                      dry_run: bool) -> dict[str, Any]:
        meta = obj["metadata"]
        for _ in range(_GENERATE_ATTEMPTS):
            key = kind.key(meta.get("namespace"), meta["name"])
            if dry_run:
                _, kv = await self.store.get(key)
                if kv is None:
                    return obj
            else:
                result = await self.store.create(key, encode_stored(obj))
                if result.succeeded:
                    return _with_rv(obj, result.revision)
            if not generate:
                break
            meta["name"] = f"{meta['generateName']}{_random_suffix()}"
        raise already_exists(kind.resource.plural, meta["name"], kind.resource.group)

    # -- update ---------------------------------------------------------------------

    async def update(self, kind: KindDefinition, namespace: str | None, name: str,
                     obj: dict[str, Any], ctx: WriteContext | None = None) -> dict[str, Any]:
        """PUT: replace the object; 409 when its resourceVersion is stale or its uid,
        a precondition as in Kubernetes, is another object's."""
        meta = obj.get("metadata") or {}
        wanted = str(meta.get("resourceVersion") or "")
        resource = kind.resource

        def replace(old: dict[str, Any]) -> dict[str, Any]:
            if wanted and wanted != old["metadata"]["resourceVersion"]:
                raise conflict(resource.plural, name, MODIFIED, resource.group)
            self._check_preconditions(kind, old, {"uid": meta.get("uid")})
            return copy.deepcopy(obj)

        return await self.guaranteed_update(kind, namespace, name, replace, ctx)

    async def guaranteed_update(self, kind: KindDefinition, namespace: str | None, name: str,
                                mutate: Mutation, ctx: WriteContext | None = None
                                ) -> dict[str, Any]:
        """Read, mutate a copy, write if unchanged since the read; retry when it was."""
        ctx = ctx or system_context()
        ctx.operation = "UPDATE"
        subresource = ctx.subresource
        hooks = self._hooks(kind) if subresource is None else None
        for _ in range(_CAS_ATTEMPTS):
            kv = await self._read(kind, namespace, name)
            old = decode_kv(kv)
            new = mutate(decode_kv(kv))  # a private copy: decoding beats deepcopy ~10x
            if not isinstance(new, dict):
                new = await new
            new = await self._admit_update(kind, new, old, ctx)
            if hooks is not None:
                await hooks.before_write(new, old, dry_run=ctx.dry_run)
            value = encode_stored(new)
            if value == kv.value and not kv.stale:  # stale: rewrite under the current key
                return old
            if ctx.dry_run:
                return new
            if strategy.finished_deleting(kind, new, old):
                result = await self.store.delete(kv.key, mod_revision=kv.mod_revision)
                if result.succeeded:
                    await self._after_delete(kind, new)
                    return _with_rv(new, result.revision)
                continue
            result = await self.store.update(kv.key, value, mod_revision=kv.mod_revision)
            if result.succeeded:
                return _with_rv(new, result.revision)
            if hooks is not None:
                await hooks.write_failed(new, old)
        raise Conflict(f"too many concurrent updates of {kind.resource.plural} \"{name}\"")

    async def _admit_update(self, kind: KindDefinition, new: dict[str, Any],
                            old: dict[str, Any], ctx: WriteContext) -> dict[str, Any]:
        """Managed fields, mutating admission, the strategy, validation, then validating
        admission: Kubernetes' order for an update."""
        if self.fields is not None and not ctx.applying:
            self.fields.track(kind, new, old, ctx)
        name = old["metadata"]["name"]
        namespace = old["metadata"].get("namespace")
        new = await self.admission.mutate(kind, ctx, namespace=namespace, name=name,
                                          obj=new, old=old) or new
        new = self._prepare_update(kind, new, old, subresource=ctx.subresource)
        await self.admission.validate(kind, ctx, namespace=namespace, name=name,
                                      obj=new, old=old)
        return new

    def _prepare_update(self, kind: KindDefinition, new: dict[str, Any], old: dict[str, Any],
                        *, subresource: str | None) -> dict[str, Any]:
        resource = kind.resource
        new = kind.to_storage(new, old)
        meta = new.setdefault("metadata", {})
        old_meta = old["metadata"]
        if meta.get("name", old_meta["name"]) != old_meta["name"]:
            raise invalid(resource.kind, old_meta["name"], [
                ("metadata.name", "FieldValueInvalid",
                 f'Invalid value: "{meta["name"]}": field is immutable')], group=resource.group)
        meta["name"] = old_meta["name"]
        if resource.namespaced:
            meta["namespace"] = old_meta.get("namespace")
        new["kind"], new["apiVersion"] = resource.kind, kind.storage_version or \
            resource.api_version
        new = strategy.prepare_for_update(kind, new, old, subresource=subresource)
        new["metadata"].pop("resourceVersion", None)
        default_and_validate(kind, new, old, subresource=subresource)
        new["metadata"]["resourceVersion"] = old_meta["resourceVersion"]
        return new

    # -- delete ---------------------------------------------------------------------

    async def delete(self, kind: KindDefinition, namespace: str | None, name: str,
                     options: DeleteOptions, ctx: WriteContext | None = None) -> dict[str, Any]:
        """Delete now, or mark for deletion (finalizers, graceful pods, namespaces)."""
        ctx = ctx or system_context()
        ctx.operation = "DELETE"
        for _ in range(_CAS_ATTEMPTS):
            kv = await self._read(kind, namespace, name)
            old = decode_kv(kv)
            self._check_preconditions(kind, old, options.preconditions)
            await self.admission.mutate(kind, ctx, namespace=namespace, name=name,
                                        obj=None, old=old)
            await self.admission.validate(kind, ctx, namespace=namespace, name=name,
                                          obj=None, old=old)
            finalizers = list(old["metadata"].get("finalizers") or [])
            if not old["metadata"].get("deletionTimestamp"):
                finalizers += [f for f in kind.strategy.finalizers_on_delete(old)
                               if f not in finalizers]
            policy = options.propagation_policy
            if policy is None and kind.strategy.default_propagation is not None:
                policy = kind.strategy.default_propagation
                if kind.strategy.delete_warning not in ctx.warnings:
                    ctx.warnings.append(kind.strategy.delete_warning)
            policy_finalizer = {"Orphan": "orphan", "Foreground": "foregroundDeletion"}.get(
                policy or "")
            if policy_finalizer and policy_finalizer not in finalizers:
                finalizers.append(policy_finalizer)
            pending = strategy.pending_delete(kind, old, grace=options.grace_period_seconds,
                                              finalizers=finalizers)
            if options.dry_run:
                return pending or old
            if pending is not None:
                value = encode_stored(pending)
                if value == kv.value and not kv.stale:
                    return old
                result = await self.store.update(kv.key, value, mod_revision=kv.mod_revision)
                if result.succeeded:
                    if kind.resource == NAMESPACES:
                        self._live_lookup(name)
                    return _with_rv(pending, result.revision)
                continue
            result = await self.store.delete(kv.key, mod_revision=kv.mod_revision)
            if result.succeeded:
                await self._after_delete(kind, old)
                return _with_rv(old, result.revision)
        raise Conflict(f"too many concurrent updates of {kind.resource.plural} \"{name}\"")

    @staticmethod
    def _check_preconditions(kind: KindDefinition, obj: dict[str, Any],
                             preconditions: dict[str, Any]) -> None:
        meta = obj["metadata"]
        resource = kind.resource
        uid, rv = preconditions.get("uid"), preconditions.get("resourceVersion")
        if uid and uid != meta.get("uid"):
            raise conflict(resource.plural, meta["name"],
                           f"Precondition failed: UID in precondition: {uid}, "
                           f"UID in object meta: {meta.get('uid')}", resource.group)
        if rv and str(rv) != meta.get("resourceVersion"):
            raise conflict(resource.plural, meta["name"],
                           f"Precondition failed: ResourceVersion in precondition: {rv}, "
                           f"ResourceVersion in object meta: {meta.get('resourceVersion')}",
                           resource.group)

    async def _after_delete(self, kind: KindDefinition, obj: dict[str, Any]) -> None:
        hooks = self._hooks(kind)
        if hooks is not None:
            try:
                await hooks.after_delete(obj)
            except Exception:  # the allocator's repair loop frees what this leaves
                log.warning("after-delete hook failed", exc_info=True,
                            extra={"resource": kind.resource.qualified})
