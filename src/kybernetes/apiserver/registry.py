"""The generic registry: create, get, update, delete of any resource on the store.

Every write is a compare-and-swap on the key's mod_revision (the object's
resourceVersion), as Kubernetes' ``GuaranteedUpdate`` does: read, compute the
new object, write only if nothing changed in between, else re-read and try
again. A client that sent a resourceVersion gets ``409 Conflict`` instead of a
retry, which is optimistic concurrency. An update that changes nothing is not
written (the resourceVersion stays), as in Kubernetes.

Keys are ``/registry/<plural>/<namespace>/<name>`` (cluster-scoped:
``/registry/<plural>/<name>``). The per-kind rules come from
:mod:`~kybernetes.apiserver.strategy`, defaulting and validation from
:mod:`~kybernetes.apiserver.admission`; Service address allocation is a hook.
"""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kybernetes.api import resources as r
from kybernetes.api.errors import (
    Conflict,
    Forbidden,
    already_exists,
    conflict,
    invalid,
    not_found,
)
from kybernetes.apiserver import strategy
from kybernetes.apiserver.admission import default_and_validate
from kybernetes.apiserver.codec import decode_kv, encode_stored
from kybernetes.apiserver.watch_cache import WatchCache
from kybernetes.storage.interface import KeyValue, Store

MODIFIED = "the object has been modified; please apply your changes to the latest version " \
           "and try again"
log = logging.getLogger("kybernetes.apiserver.registry")
_GENERATE_ATTEMPTS = 8
_CAS_ATTEMPTS = 64

Mutation = Callable[[dict[str, Any]], dict[str, Any] | Awaitable[dict[str, Any]]]


class Allocator(Protocol):
    async def allocate(self, service: dict[str, Any], old: dict[str, Any] | None, *,
                       dry_run: bool) -> None: ...

    async def release(self, service: dict[str, Any]) -> None: ...

    async def abandon(self, service: dict[str, Any], old: dict[str, Any] | None) -> None: ...


@dataclass
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str | None = None
    preconditions: dict[str, Any] = field(default_factory=dict)
    dry_run: bool = False


def key_for(resource: r.Resource, namespace: str | None, name: str) -> str:
    if resource.namespaced:
        return f"/registry/{resource.plural}/{namespace}/{name}"
    return f"/registry/{resource.plural}/{name}"


def prefix_for(resource: r.Resource, namespace: str | None) -> str:
    if resource.namespaced and namespace:
        return f"/registry/{resource.plural}/{namespace}/"
    return f"/registry/{resource.plural}/"


def _random_suffix() -> str:
    return "".join(random.choices("bcdfghjklmnpqrstvwxz2456789", k=5))


def _with_rv(obj: dict[str, Any], revision: int) -> dict[str, Any]:
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return obj


class Registry:
    """Store operations with Kubernetes' semantics, for every resource."""

    def __init__(self, store: Store, cache: WatchCache, *,
                 allocator: Allocator | None = None) -> None:
        self.store = store
        self.cache = cache
        self.allocator = allocator

    # -- reads ----------------------------------------------------------------------

    async def _read(self, resource: r.Resource, namespace: str | None, name: str) -> KeyValue:
        _, kv = await self.store.get(key_for(resource, namespace, name))
        if kv is None:
            raise not_found(resource.plural, name, resource.group)
        return kv

    async def get(self, resource: r.Resource, namespace: str | None, name: str
                  ) -> dict[str, Any]:
        return decode_kv(await self._read(resource, namespace, name))

    async def check_namespace(self, namespace: str, *, creating: bool = True) -> None:
        """404 when the namespace does not exist; 403 when it is being terminated."""
        entry = self.cache.for_resource(r.NAMESPACES).objects.get(
            key_for(r.NAMESPACES, None, namespace))
        ns = entry.obj if entry is not None else None
        if ns is None:
            _, kv = await self.store.get(key_for(r.NAMESPACES, None, namespace))
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

    async def create(self, resource: r.Resource, namespace: str | None, obj: dict[str, Any],
                     *, dry_run: bool = False) -> dict[str, Any]:
        """Store a new object; 409 AlreadyExists when the name is taken."""
        meta = obj.setdefault("metadata", {})
        if resource.namespaced:
            meta["namespace"] = namespace
            await self.check_namespace(str(namespace))
        else:
            meta.pop("namespace", None)
        strategy.prepare_for_create(resource, obj)
        generate = not meta.get("name") and meta.get("generateName")
        if generate:
            meta["name"] = f"{meta['generateName']}{_random_suffix()}"
        if not meta.get("name"):
            raise invalid(resource.kind, "", [("metadata.name", "FieldValueRequired",
                                               "Required value: name or generateName is "
                                               "required")], group=resource.group)
        default_and_validate(resource, obj)
        if resource is r.SERVICES and self.allocator is not None:
            await self.allocator.allocate(obj, None, dry_run=dry_run)
        try:
            return await self._insert(resource, obj, generate=bool(generate), dry_run=dry_run)
        except BaseException:
            if resource is r.SERVICES and self.allocator is not None and not dry_run:
                await self.allocator.release(obj)
            raise

    async def _insert(self, resource: r.Resource, obj: dict[str, Any], *, generate: bool,
                      dry_run: bool) -> dict[str, Any]:
        meta = obj["metadata"]
        for _ in range(_GENERATE_ATTEMPTS):
            key = key_for(resource, meta.get("namespace"), meta["name"])
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
        raise already_exists(resource.plural, meta["name"], resource.group)

    # -- update ---------------------------------------------------------------------

    async def update(self, resource: r.Resource, namespace: str | None, name: str,
                     obj: dict[str, Any], *, subresource: str | None = None,
                     dry_run: bool = False) -> dict[str, Any]:
        """PUT: replace the object; 409 when its resourceVersion is stale."""
        wanted = str((obj.get("metadata") or {}).get("resourceVersion") or "")

        def replace(old: dict[str, Any]) -> dict[str, Any]:
            if wanted and wanted != old["metadata"]["resourceVersion"]:
                raise conflict(resource.plural, name, MODIFIED, resource.group)
            return copy.deepcopy(obj)

        return await self.guaranteed_update(resource, namespace, name, replace,
                                            subresource=subresource, dry_run=dry_run)

    async def guaranteed_update(self, resource: r.Resource, namespace: str | None, name: str,
                                mutate: Mutation, *, subresource: str | None = None,
                                dry_run: bool = False) -> dict[str, Any]:
        """Read, mutate a copy, write if unchanged since the read; retry when it was."""
        for _ in range(_CAS_ATTEMPTS):
            kv = await self._read(resource, namespace, name)
            old = decode_kv(kv)
            new = mutate(copy.deepcopy(old))
            if not isinstance(new, dict):
                new = await new
            new = self._prepare_update(resource, new, old, subresource=subresource)
            if resource is r.SERVICES and self.allocator is not None and subresource is None:
                await self.allocator.allocate(new, old, dry_run=dry_run)
            value = encode_stored(new)
            if value == kv.value:
                return old
            if dry_run:
                return new
            if strategy.finished_deleting(resource, new, old):
                result = await self.store.delete(kv.key, mod_revision=kv.mod_revision)
                if result.succeeded:
                    await self._after_delete(resource, new)
                    return _with_rv(new, result.revision)
                continue
            result = await self.store.update(kv.key, value, mod_revision=kv.mod_revision)
            if result.succeeded:
                return _with_rv(new, result.revision)
            if resource is r.SERVICES and self.allocator is not None and subresource is None:
                await self.allocator.abandon(new, old)
        raise Conflict(f"too many concurrent updates of {resource.plural} \"{name}\"")

    def _prepare_update(self, resource: r.Resource, new: dict[str, Any], old: dict[str, Any],
                        *, subresource: str | None) -> dict[str, Any]:
        meta = new.setdefault("metadata", {})
        old_meta = old["metadata"]
        if meta.get("name", old_meta["name"]) != old_meta["name"]:
            raise invalid(resource.kind, old_meta["name"], [
                ("metadata.name", "FieldValueInvalid",
                 f'Invalid value: "{meta["name"]}": field is immutable')], group=resource.group)
        meta["name"] = old_meta["name"]
        if resource.namespaced:
            meta["namespace"] = old_meta.get("namespace")
        new["kind"], new["apiVersion"] = resource.kind, resource.api_version
        new = strategy.prepare_for_update(resource, new, old, subresource=subresource)
        new["metadata"].pop("resourceVersion", None)
        default_and_validate(resource, new, old)
        new["metadata"]["resourceVersion"] = old_meta["resourceVersion"]
        return new

    # -- delete ---------------------------------------------------------------------

    async def delete(self, resource: r.Resource, namespace: str | None, name: str,
                     options: DeleteOptions) -> dict[str, Any]:
        """Delete now, or mark for deletion (finalizers, graceful pods, namespaces)."""
        for _ in range(_CAS_ATTEMPTS):
            kv = await self._read(resource, namespace, name)
            old = decode_kv(kv)
            self._check_preconditions(resource, old, options.preconditions)
            finalizers = list(old["metadata"].get("finalizers") or [])
            policy_finalizer = {"Orphan": "orphan", "Foreground": "foregroundDeletion"}.get(
                options.propagation_policy or "")
            if policy_finalizer and policy_finalizer not in finalizers:
                finalizers.append(policy_finalizer)
            pending = strategy.pending_delete(resource, old, grace=options.grace_period_seconds,
                                              finalizers=finalizers)
            if options.dry_run:
                return pending or old
            if pending is not None:
                value = encode_stored(pending)
                if value == kv.value:
                    return old
                result = await self.store.update(kv.key, value, mod_revision=kv.mod_revision)
                if result.succeeded:
                    return _with_rv(pending, result.revision)
                continue
            result = await self.store.delete(kv.key, mod_revision=kv.mod_revision)
            if result.succeeded:
                await self._after_delete(resource, old)
                return _with_rv(old, result.revision)
        raise Conflict(f"too many concurrent updates of {resource.plural} \"{name}\"")

    @staticmethod
    def _check_preconditions(resource: r.Resource, obj: dict[str, Any],
                             preconditions: dict[str, Any]) -> None:
        meta = obj["metadata"]
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

    async def _after_delete(self, resource: r.Resource, obj: dict[str, Any]) -> None:
        if resource is r.SERVICES and self.allocator is not None:
            try:
                await self.allocator.release(obj)
            except Exception:  # the allocator's repair loop frees what this leaves
                log.warning("releasing a deleted service's addresses failed", exc_info=True)

