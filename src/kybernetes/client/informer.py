"""Informers: a local, indexed, always-current cache of one resource.

As client-go's reflector + indexer + shared informer: list (page by page), then
watch from the list's resourceVersion with bookmarks on, and keep a cache keyed
`namespace/name` (or `name` for cluster-scoped resources) with named indexes.

- A watch that ends (server timeout, closed connection) is re-opened from the
  last resourceVersion seen, bookmarks included, so nothing is missed.
- ``410 Gone`` (the resourceVersion was compacted) or any other watch failure
  means re-list: the new list replaces the cache, and handlers see the adds,
  updates and deletes that bring them to it, so a consumer is level-correct even
  across a gap.
- Failures back off (0.1 s doubling to 10 s) and never end the loop.

Handlers are plain callables that should only enqueue keys; a handler that
raises is logged and the others still run. Objects in the cache are shared:
callers must copy before changing one.

A `transform` (client-go's SetTransform) trims each object before it is cached
and handed to the handlers (:mod:`.transforms`). `keep` is a selector the server
cannot express: an object it refuses is neither cached nor handed on (one that
stops being kept is deleted), as `kyb hollow-nodes` keeps only its own nodes' pods.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kybernetes.api import errors
from kybernetes.api.meta import object_key
from kybernetes.api.resources import Resource
from kybernetes.client.verbs import ListerWatcher
from kybernetes.tasks import cancel_and_wait, spawn

log = logging.getLogger("kybernetes.client.informer")

Obj = dict[str, Any]
IndexFn = Callable[[Obj], list[str]]


def namespace_index(obj: Obj) -> list[str]:
    return [(obj.get("metadata") or {}).get("namespace") or ""]


@dataclass
class _Handler:
    on_add: Callable[[Obj], None] | None
    on_update: Callable[[Obj, Obj], None] | None
    on_delete: Callable[[Obj], None] | None


class Informer:
    """List-then-watch cache of one resource, with handlers and indexes."""

    def __init__(self, client: ListerWatcher, resource: Resource, *, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None,
                 page_size: int = 500, transform: Callable[[Obj], Obj] | None = None,
                 keep: Callable[[Obj], bool] | None = None) -> None:
        self.client = client
        self.transform = transform
        self.keep = keep
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.page_size = page_size
        self.resource_version = ""
        self._items: dict[str, Obj] = {}
        self._index_fns: dict[str, IndexFn] = {"namespace": namespace_index}
        self._indexes: dict[str, dict[str, set[str]]] = {"namespace": {}}
        self._handlers: list[_Handler] = []
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flowing = asyncio.Event()  # cleared by pause(): a slow watch, for tests
        self._flowing.set()

    # -- configuration ---------------------------------------------------------

    def add_handler(self, *, on_add: Callable[[Obj], None] | None = None,
                    on_update: Callable[[Obj, Obj], None] | None = None,
                    on_delete: Callable[[Obj], None] | None = None) -> None:
        """Register callbacks; a handler added late is replayed the current cache."""
        handler = _Handler(on_add, on_update, on_delete)
        self._handlers.append(handler)
        if on_add is not None:
            for obj in list(self._items.values()):
                self._call(on_add, obj)

    def add_index(self, name: str, fn: IndexFn) -> None:
        """Index the cache by `fn(obj)` values; query with :meth:`by_index`."""
        self._index_fns[name] = fn
        index: dict[str, set[str]] = {}
        for key, obj in self._items.items():
            for value in fn(obj):
                index.setdefault(value, set()).add(key)
        self._indexes[name] = index

    # -- reading ---------------------------------------------------------------

    def get(self, key: str) -> Obj | None:
        return self._items.get(key)

    def list(self, namespace: str | None = None) -> list[Obj]:
        if namespace is None:
            return list(self._items.values())
        return self.by_index("namespace", namespace)

    def keys(self) -> builtins.list[str]:
        return list(self._items)

    def by_index(self, name: str, value: str) -> builtins.list[Obj]:
        keys = self._indexes[name].get(value, ())
        return [self._items[k] for k in keys if k in self._items]

    def pause(self) -> None:
        """Hold events back (they queue up in the stream), as a slow watch would."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        """Wait for the first list (bound it with `asyncio.timeout`)."""
        await self._synced.wait()

    # -- life cycle --------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._task = spawn(self._run(), name=f"informer-{self.resource.plural}")

    async def aclose(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        delay = 0.1
        need_list = True
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                await self._watch()
                delay = 0.1
            except asyncio.CancelledError:
                raise
            except errors.Gone:
                log.debug("resourceVersion expired, re-listing",
                          extra={"resource": self.resource.plural})
                need_list = True
            except Exception as e:
                log.warning("list/watch failed", extra={
                    "resource": self.resource.plural, "error": str(e) or type(e).__name__})
                need_list = True
                await asyncio.sleep(delay * (1 + random.random() / 2))
                delay = min(delay * 2, 10.0)

    async def _list(self) -> None:
        result = await self.client.list_all(
            self.resource, namespace=self.namespace, label_selector=self.label_selector,
            field_selector=self.field_selector, page_size=self.page_size)
        await self._flowing.wait()
        self._replace(result.get("items") or [])
        self.resource_version = (result.get("metadata") or {}).get("resourceVersion", "")
        self._synced.set()

    async def _watch(self) -> None:
        watch = self.client.watch(
            self.resource, namespace=self.namespace, resource_version=self.resource_version,
            label_selector=self.label_selector, field_selector=self.field_selector,
            allow_bookmarks=True, timeout_seconds=random.randint(300, 600))
        async with watch:
            async for event in watch:
                await self._flowing.wait()
                rv = (event.object.get("metadata") or {}).get("resourceVersion")
                if event.type == "ADDED" or event.type == "MODIFIED":
                    self._store(event.object)
                elif event.type == "DELETED":
                    last = event.object if self.transform is None else \
                        self.transform(event.object)
                    self._remove(object_key(last), last)
                if rv:
                    self.resource_version = rv

    # -- cache mutation and notification -------------------------------------------

    def _replace(self, items: builtins.list[Obj]) -> None:
        fresh = {object_key(o): o for o in items}
        for key in [k for k in self._items if k not in fresh]:
            self._remove(key, self._items[key])
        for obj in fresh.values():
            self._store(obj)

    def _store(self, obj: Obj) -> None:
        if self.keep is not None and not self.keep(obj):
            key = object_key(obj)
            if key in self._items:
                self._remove(key, self._items[key])
            return
        if self.transform is not None:
            obj = self.transform(obj)
        if "kind" not in obj and self.resource.kind:
            obj["kind"] = self.resource.kind
            obj["apiVersion"] = self.resource.api_version
        key = object_key(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        self._index(key, obj)
        for h in self._handlers:
            if old is None and h.on_add is not None:
                self._call(h.on_add, obj)
            elif old is not None and h.on_update is not None:
                self._call(h.on_update, old, obj)

    def _remove(self, key: str, last: Obj) -> None:
        old = self._items.pop(key, None)
        if old is None:
            return
        self._unindex(key, old)
        for h in self._handlers:
            if h.on_delete is not None:
                self._call(h.on_delete, last)

    def _index(self, key: str, obj: Obj) -> None:
        for name, fn in self._index_fns.items():
            for value in fn(obj):
                self._indexes[name].setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: Obj) -> None:
        for name, fn in self._index_fns.items():
            index = self._indexes[name]
            for value in fn(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]

    def _call(self, fn: Callable[..., None], *args: Obj) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("informer handler failed", extra={"resource": self.resource.plural})


class InformerFactory:
    """Shared informers: one per resource, started once, for every controller."""

    def __init__(self, client: ListerWatcher, *,
                 transform: Callable[[Obj], Obj] | None = None) -> None:
        self.client = client
        self.transform = transform
        self._informers: dict[Resource, Informer] = {}

    def get(self, resource: Resource) -> Informer:
        """The informer of `resource`, created (not started) on first use."""
        informer = self._informers.get(resource)
        if informer is None:
            informer = self._informers[resource] = Informer(self.client, resource,
                                                            transform=self.transform)
        return informer

    def __getitem__(self, resource: Resource) -> Informer:
        return self.get(resource)

    async def discard(self, resource: Resource) -> None:
        """Stop and forget the informer of a resource the server no longer serves."""
        informer = self._informers.pop(resource, None)
        if informer is not None:
            await informer.aclose()

    async def start(self) -> None:
        for informer in list(self._informers.values()):
            await informer.start()

    async def wait_synced(self) -> None:
        await asyncio.gather(*(i.wait_synced() for i in self._informers.values()))

    async def aclose(self) -> None:
        await asyncio.gather(*(i.aclose() for i in self._informers.values()))
