"""Recording core/v1 Events about objects, as client-go's event recorder.

``recorder.event(obj, "Normal", "SuccessfulCreate", "Created pod: web-x7k2p")``
never blocks and never fails the caller: events go onto a bounded queue that a
background task writes to the API server (dropped, with a debug log, when the
queue is full or the server refuses them: events are best-effort, as in
Kubernetes).

Repeats are aggregated like client-go's EventCorrelator: an event with the same
source, involved object, type, reason and message as one already written
updates that Event (count+1, lastTimestamp) instead of creating another, so
`kubectl describe` shows "(x5 over 2m)". New Events are named
`<object name>.<hex nanoseconds>` in the object's namespace (`default` for
cluster-scoped objects), as Kubernetes names them.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import OrderedDict
from typing import Any, NamedTuple, Protocol

from kybernetes.api import errors
from kybernetes.api.meta import now_rfc3339
from kybernetes.api.resources import EVENTS
from kybernetes.client.verbs import EventWriter
from kybernetes.tasks import cancel_and_wait, spawn

log = logging.getLogger("kybernetes.client.events")

NORMAL = "Normal"
WARNING = "Warning"
_CACHE_SIZE = 4096


class EventSink(Protocol):
    """Where a component's code records an Event: what it needs of an EventRecorder."""

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None: ...


def object_reference(obj: dict[str, Any]) -> dict[str, Any]:
    """The ObjectReference (involvedObject) for an object."""
    meta = obj.get("metadata") or {}
    ref = {"kind": obj.get("kind"), "apiVersion": obj.get("apiVersion"),
           "name": meta.get("name"), "namespace": meta.get("namespace"),
           "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")}
    return {k: v for k, v in ref.items() if v}


class _Pending(NamedTuple):
    """A queued event, as a tuple: a burst queues thousands (hollow nodes starting pods)
    and dicts would cost several times as much."""

    ref: tuple[tuple[str, Any], ...]  # the involvedObject's items
    type: str
    reason: str
    message: str
    at: str


class EventRecorder:
    """Writes Events for one component (source.component), aggregating repeats."""

    def __init__(self, client: EventWriter, component: str, *, host: str | None = None,
                 max_queue: int = 1000) -> None:
        self.client = client
        self.source = {"component": component}
        if host:
            self.source["host"] = host
        self._max_queue = max_queue
        # made with the sender on the first event: a recorder that never records (an
        # idle hollow node's) costs no queue
        self._queue: asyncio.Queue[_Pending] | None = None
        # (namespace, name, count) of each Event written, not the Event itself: a
        # thousand hollow kubelets' caches would otherwise hold kilobytes per pod
        self._seen: OrderedDict[tuple[Any, ...], tuple[str, str, int]] = OrderedDict()
        self._task: asyncio.Task[None] | None = None

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Record an event about `obj` (Normal or Warning); returns at once."""
        ref = tuple(object_reference(obj).items())
        if self._queue is None:
            self._queue = asyncio.Queue(self._max_queue)
        if self._task is None:
            self._task = spawn(self._send_loop(self._queue),
                               name=f"events-{self.source['component']}")
        try:
            self._queue.put_nowait(_Pending(ref, type_, reason, message, now_rfc3339()))
        except asyncio.QueueFull:
            log.debug("event dropped, queue full", extra={"reason": reason})

    async def flush(self) -> None:
        """Wait until queued events are written (bound it with `asyncio.timeout`)."""
        if self._task is not None and self._queue is not None:
            await self._queue.join()

    async def aclose(self) -> None:
        """Write what is queued (for at most 2 s), then stop."""
        try:
            async with asyncio.timeout(2.0):
                await self.flush()
        except TimeoutError:
            pass
        await cancel_and_wait(self._task)
        self._task = None

    async def _send_loop(self, queue: asyncio.Queue[_Pending]) -> None:
        while True:
            item = await queue.get()
            try:
                await self._write(item)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.debug("event not written", extra={"reason": item.reason, "error": str(e)})
            finally:
                queue.task_done()

    async def _write(self, item: _Pending) -> None:
        ref = dict(item.ref)
        key = (ref.get("kind"), ref.get("namespace"), ref.get("name"), ref.get("uid"),
               item.type, item.reason, item.message)
        previous = self._seen.get(key)
        if previous is not None:
            namespace, name, count = previous
            patch = {"count": count + 1, "lastTimestamp": item.at}
            try:
                updated = await self.client.patch(EVENTS, name, patch, namespace=namespace)
                self._remember(key, updated)
                return
            except errors.NotFound:
                pass  # expired or deleted: write a new one
        created = await self.client.create(EVENTS, self._new_event(ref, item),
                                           namespace=self._namespace(ref))
        self._remember(key, created)

    def _namespace(self, ref: dict[str, Any]) -> str:
        return ref.get("namespace") or "default"

    def _new_event(self, ref: dict[str, Any], item: _Pending) -> dict[str, Any]:
        return {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{ref.get('name')}.{time.time_ns():x}",
                         "namespace": self._namespace(ref)},
            "involvedObject": ref, "reason": item.reason, "message": item.message,
            "type": item.type, "source": self.source, "count": 1,
            "firstTimestamp": item.at, "lastTimestamp": item.at,
            "reportingComponent": self.source["component"],
            "reportingInstance": self.source.get("host") or socket.gethostname(),
        }

    def _remember(self, key: tuple[Any, ...], event: dict[str, Any]) -> None:
        meta = event.get("metadata") or {}
        self._seen[key] = (str(meta.get("namespace") or ""), str(meta.get("name") or ""),
                           int(event.get("count") or 1))
        self._seen.move_to_end(key)
        while len(self._seen) > _CACHE_SIZE:
            self._seen.popitem(last=False)
