"""What every controller shares: a queue, workers, an event recorder, a shape.

A controller is ``__init__(client, informers)`` (register handlers on the shared
informers, which only enqueue keys), ``async run(workers)`` and
``async sync(key)``. :class:`Controller` gives the queue, the worker loop (from
``client/``, so the retry decision lives in one place) and the helpers that
every handler needs, so each controller module holds only its own logic.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar, TypeVar

from kybernetes.api import errors
from kybernetes.api.labels import Selector, from_label_selector
from kybernetes.api.meta import controller_ref, object_key
from kybernetes.client import (
    ApiClient,
    EventRecorder,
    Informer,
    InformerFactory,
    WorkQueue,
    run_workers,
)

Obj = dict[str, Any]
T = TypeVar("T")


class Controller:
    """Base of every controller; subclasses set `name` and write `sync`."""

    name: ClassVar[str] = "controller"
    component: ClassVar[str] = "controller-manager"
    default_workers: ClassVar[int] = 2

    def __init__(self, client: ApiClient, informers: InformerFactory) -> None:
        self.client = client
        self.informers = informers
        self.queue = WorkQueue(self.name)
        self.recorder = EventRecorder(client, self.component)

    async def run(self, workers: int | None = None) -> None:
        """Process keys until the queue is shut down (or this task is cancelled)."""
        try:
            await run_workers(self.queue, self.sync, workers=workers or self.default_workers)
        finally:
            self.queue.shutdown()
            await self.recorder.aclose()

    async def sync(self, key: str) -> None:
        raise NotImplementedError

    def enqueue(self, obj: Obj) -> None:
        self.queue.add(object_key(obj))

    def enqueue_after(self, obj: Obj, seconds: float) -> None:
        self.queue.add_after(object_key(obj), seconds)

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.recorder.event(obj, type_, reason, message)


def deep_copy(obj: Obj) -> Obj:
    """A private copy of a cached object, safe to change."""
    return copy.deepcopy(obj)


def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def spec_selector(obj: Obj) -> Selector:
    """The object's spec.selector (a LabelSelector); an unusable one comes back empty,
    which every workload controller treats as "select nothing, do nothing"."""
    try:
        return from_label_selector((obj.get("spec") or {}).get("selector"))
    except errors.ApiError:
        return from_label_selector(None)


def live_controller(obj: Obj, kind: str, owners: Informer) -> Obj | None:
    """resolveControllerRef: the cached owner of `kind` that controls `obj`, if it is
    the very one the reference names (same uid), else None."""
    ref = controller_ref(obj)
    if ref is None or ref.get("kind") != kind:
        return None
    owner = owners.get(f"{meta(obj).get('namespace')}/{ref.get('name')}")
    return owner if owner is not None and meta(owner).get("uid") == ref.get("uid") else None


async def for_each(items: Iterable[T], fn: Callable[[T], Awaitable[Any]], *,
                   concurrency: int = 32) -> None:
    """Run `fn` on every item, `concurrency` at a time; re-raise the first failure."""
    gate = asyncio.Semaphore(concurrency)

    async def one(item: T) -> None:
        async with gate:
            await fn(item)
    results = await asyncio.gather(*(one(i) for i in items), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
