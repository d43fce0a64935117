"""The Store protocol on a real etcd v3 cluster, for several API servers or machines.

``etcd://host:port[,host:port…]`` (plain HTTP) or ``etcds://…`` (TLS; the CA and
client certificate come from ``open_store``). Every operation is one etcd RPC
through :class:`.etcd_client.EtcdClient`, written as the Kubernetes apiserver
writes them:

- create: ``txn(create_revision(key) == 0 → put, else → range)``;
- update: ``txn(mod_revision(key) == N and create_revision(key) > 0 → put with
  prev_kv, else → range)``; the second compare keeps ``N = 0`` from creating;
- delete: the same guard around ``delete_range`` with ``prev_kv``;
- list: ``range [prefix, prefix_end)`` in key order from after ``start_after``,
  with ``limit`` and ``revision``; get and count are ranges too.

etcd cannot say how far it was compacted, but a read at a revision below it
fails, so :meth:`EtcdStore.compacted_revision` finds it by bisection on a
count-only range (one short RPC per step, only when asked).
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from typing import Any

import aiohttp

from kybernetes.storage.errors import CompactedError, FutureRevisionError, StorageUnavailable
from kybernetes.storage.etcd_client import (
    EtcdClient,
    RevisionError,
    b64,
    header_revision,
    read_messages,
    to_kv,
)
from kybernetes.storage.interface import Event, KeyValue, ListResult, WriteResult
from kybernetes.storage.keys import by_revision, prefix_end_bytes

_Compares = list[dict[str, Any]]  # an alias: inside the class `list` is a method
_Items = list[tuple[str, bytes]]
_PROBE_KEY = b64(b"\0")  # a key nothing stores: ranges on it only read the header
WATCH_IDLE = 3.0  # a watch silent this long has its member probed


def _range(prefix: str) -> dict[str, str]:
    key = prefix.encode()
    if not key:
        return {"key": _PROBE_KEY, "range_end": _PROBE_KEY}  # every key
    return {"key": b64(key), "range_end": b64(prefix_end_bytes(key))}


class EtcdStore:
    """etcd behind the Store protocol (see the module docstring)."""

    def __init__(self, url: str, *, cafile: str | None = None, certfile: str | None = None,
                 keyfile: str | None = None) -> None:
        self.url = url
        self._client = EtcdClient(url, cafile=cafile, certfile=certfile, keyfile=keyfile)
        self._watches: weakref.WeakSet[EtcdWatch] = weakref.WeakSet()
        self._closed = False

    async def start(self) -> None:
        await self._client.start()
        try:
            await self.current_revision()  # fail early when no endpoint answers
        except BaseException:
            await self._client.aclose()
            raise

    async def aclose(self) -> None:
        self._closed = True
        for watch in list(self._watches):
            await watch.aclose()
        await self._client.aclose()

    async def current_revision(self) -> int:
        reply = await self._client.call("/v3/kv/range", {"key": _PROBE_KEY, "count_only": True})
        return header_revision(reply)

    async def get(self, key: str) -> tuple[int, KeyValue | None]:
        reply = await self._client.call("/v3/kv/range", {"key": b64(key)})
        kvs = reply.get("kvs") or ()
        return header_revision(reply), (to_kv(kvs[0]) if kvs else None)

    async def list(self, prefix: str, *, revision: int = 0, limit: int = 0,
                   start_after: str = "") -> ListResult:
        body: dict[str, Any] = _range(prefix)
        if start_after and start_after >= prefix:
            body["key"] = b64(start_after.encode() + b"\0")  # the first key after it
        if limit > 0:  # no sort_order: a range is in key order already, and an explicit
            body["limit"] = limit  # sort makes etcd read the whole range before the limit
        if revision > 0:
            body["revision"] = revision
        try:
            reply = await self._client.call("/v3/kv/range", body)
        except RevisionError as e:
            raise await self._revision_error(e, revision) from None
        kvs = [to_kv(item) for item in reply.get("kvs") or ()]
        return ListResult(revision or header_revision(reply), kvs, bool(reply.get("more")))

    async def count(self, prefix: str) -> tuple[int, int]:
        reply = await self._client.call("/v3/kv/range", {**_range(prefix), "count_only": True})
        return header_revision(reply), int(reply.get("count", 0))

    async def create(self, key: str, value: bytes) -> WriteResult:
        k = b64(key)
        reply = await self._txn(
            [{"key": k, "target": "CREATE", "result": "EQUAL", "create_revision": 0}],
            {"request_put": {"key": k, "value": b64(value)}}, k)
        revision = header_revision(reply)
        if not reply.get("succeeded"):
            return WriteResult(revision, False, _failure_kv(reply))
        return WriteResult(revision, True, KeyValue(key, bytes(value), revision, revision))

    async def update(self, key: str, value: bytes, *, mod_revision: int) -> WriteResult:
        k = b64(key)
        reply = await self._txn(
            _guard(k, mod_revision),
            {"request_put": {"key": k, "value": b64(value), "prev_kv": True}}, k)
        revision = header_revision(reply)
        if not reply.get("succeeded"):
            return WriteResult(revision, False, _failure_kv(reply))
        prev = to_kv(reply["responses"][0]["response_put"]["prev_kv"])
        return WriteResult(revision, True,
                           KeyValue(key, bytes(value), prev.create_revision, revision))

    async def delete(self, key: str, *, mod_revision: int = 0) -> WriteResult:
        k = b64(key)
        reply = await self._txn(
            _guard(k, mod_revision),
            {"request_delete_range": {"key": k, "prev_kv": True}}, k)
        revision = header_revision(reply)
        if not reply.get("succeeded"):
            return WriteResult(revision, False, _failure_kv(reply))
        prev_kvs = reply["responses"][0]["response_delete_range"].get("prev_kvs") or ()
        if not prev_kvs:  # gone between the compare and the delete: cannot happen in a txn
            return WriteResult(revision, False, None)
        prev = to_kv(prev_kvs[0])
        return WriteResult(revision, True,
                           KeyValue(key, prev.value, prev.create_revision, revision))

    async def create_all(self, items: _Items) -> bool:
        """Create every key in one txn (one revision for all), or none when any of
        them exists; for bulk loads (moving a SQLite store over). Keep a batch within
        etcd's --max-txn-ops (128) and request size (1.5 MiB, values base64'd)."""
        keys = [b64(key) for key, _ in items]
        reply = await self._client.call("/v3/kv/txn", {
            "compare": [{"key": k, "target": "CREATE", "result": "EQUAL",
                         "create_revision": 0} for k in keys],
            "success": [{"request_put": {"key": k, "value": b64(value)}}
                        for k, (_, value) in zip(keys, items, strict=True)],
        })
        return bool(reply.get("succeeded"))

    async def _txn(self, compare: _Compares, success: dict[str, Any], key: str
                   ) -> dict[str, Any]:
        return await self._client.call("/v3/kv/txn", {
            "compare": compare, "success": [success],
            "failure": [{"request_range": {"key": key}}],
        })

    async def compact(self, revision: int) -> None:
        try:
            await self._client.call("/v3/kv/compaction", {"revision": revision})
        except RevisionError as e:
            if not e.compacted:  # compacting again at or below: already done
                raise FutureRevisionError(revision, await self.current_revision()) from None

    async def compacted_revision(self) -> int:
        """The oldest readable revision (0 if never compacted), by bisection."""
        lo, hi = 1, await self.current_revision()
        if hi <= 1 or await self._readable(lo):
            return 0
        while lo < hi:  # lo is not readable, hi is
            mid = (lo + hi) // 2
            if await self._readable(mid):
                hi = mid
            else:
                lo = mid + 1
        return lo

    async def _readable(self, revision: int) -> bool:
        try:
            await self._client.call("/v3/kv/range",
                                    {"key": _PROBE_KEY, "count_only": True, "revision": revision})
        except RevisionError as e:
            if e.compacted:
                return False
            raise
        return True

    async def _revision_error(self, e: RevisionError, revision: int) -> Exception:
        if e.compacted:
            return CompactedError(revision, await self.compacted_revision())
        return FutureRevisionError(revision, await self.current_revision())

    def watch(self, prefix: str, *, start_revision: int) -> EtcdWatch:
        watch = EtcdWatch(self._client, prefix, start_revision)
        if self._closed:  # the store is closed: the watch ends at once
            watch.close()
        self._watches.add(watch)
        return watch


def _guard(key: str, mod_revision: int) -> list[dict[str, Any]]:
    """The compares of a guarded write: the key exists (and is unchanged)."""
    compare: list[dict[str, Any]] = [
        {"key": key, "target": "CREATE", "result": "GREATER", "create_revision": 0}]
    if mod_revision > 0:
        compare.append({"key": key, "target": "MOD", "result": "EQUAL",
                        "mod_revision": mod_revision})
    return compare


def _failure_kv(reply: dict[str, Any]) -> KeyValue | None:
    """The current value from a failed txn's range, or None when the key is absent."""
    kvs = reply["responses"][0]["response_range"].get("kvs") or ()
    return to_kv(kvs[0]) if kvs else None


class EtcdWatch:
    """One etcd watch stream, as batches of events that share a revision.

    A plain iterator object (not an async generator), so a cancelled
    ``__anext__`` leaves the stream usable and loses no event.

    The stream survives its member: when it breaks, ends, or stays silent for
    ``WATCH_IDLE`` seconds while the member does not answer a probe (a stopped
    process keeps its sockets open), it is opened again on another member from
    the revision after the last one delivered, so no event is lost or repeated.
    Only when no member takes it, or a fresh stream ends before its first
    message, does the watch raise ``StorageUnavailable``.
    """

    def __init__(self, client: EtcdClient, prefix: str, start_revision: int) -> None:
        self._client = client
        self._prefix = prefix
        self._start = start_revision
        self._next = start_revision  # where a reopened stream starts (0: not known yet)
        self._response: aiohttp.ClientResponse | None = None
        self._member = 0
        self._fresh = True  # no message on the current stream yet
        self._opening: asyncio.Task[tuple[aiohttp.ClientResponse, int]] | None = None
        self._pending = bytearray()
        self._ready: deque[list[Event]] = deque()
        self._closed = False

    def __aiter__(self) -> EtcdWatch:
        return self

    async def __anext__(self) -> list[Event]:
        try:
            return await self._next_batch()
        except StorageUnavailable:
            if self._closed:  # the stream broke because we closed it
                raise StopAsyncIteration from None
            raise
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._closed and task is not None and task.cancelling() == 0:
                raise StopAsyncIteration from None  # our own opening was cancelled
            raise

    async def _next_batch(self) -> list[Event]:
        while not self._closed:
            if self._ready:
                return self._ready.popleft()
            if self._response is None:
                self._response, self._member = await self._open()
                self._fresh = True
                continue
            messages = await self._read()
            if messages is None:
                continue  # silent but alive
            if not messages:
                if self._closed:
                    break
                if self._fresh:
                    raise StorageUnavailable("etcd ended the watch stream")
                self._reopen()
                continue
            for message in messages:
                try:
                    self._take(message)
                except StorageUnavailable:  # cancelled (no leader) or failed: elsewhere
                    if self._fresh:
                        raise
                    self._client.stalled(self._member)
                    self._reopen()
                    break
            self._fresh = False
        raise StopAsyncIteration

    async def _read(self) -> list[dict[str, Any]] | None:
        """The next messages; [] when the stream is gone or its member stalled,
        None when it was only silent."""
        assert self._response is not None
        try:
            async with asyncio.timeout(WATCH_IDLE):
                return await read_messages(self._response, self._pending)
        except TimeoutError:
            if await self._client.probe(self._member):
                return None
            self._client.stalled(self._member)
            return []
        except StorageUnavailable:  # the stream broke
            return []

    def _take(self, message: dict[str, Any]) -> None:
        if not self._next:  # a watch from now: the stream's start revision
            self._next = header_revision(message.get("result", {})) + 1
        for batch in by_revision(_events(message, self._next or self._start)):
            self._ready.append(batch)
            self._next = batch[-1].kv.mod_revision + 1

    def _reopen(self) -> None:
        """Drop the current stream; the next read opens one from `_next`."""
        if self._response is not None:
            self._response.close()
        self._response, self._opening = None, None
        self._pending.clear()

    async def _open(self) -> tuple[aiohttp.ClientResponse, int]:
        """Send the create request (once, even if a caller is cancelled meanwhile)."""
        if self._opening is None:
            request: dict[str, Any] = {**_range(self._prefix), "prev_kv": True}
            if self._next > 0:
                request["start_revision"] = self._next
            self._opening = asyncio.ensure_future(
                self._client.open_stream("/v3/watch", {"create_request": request}))
        return await asyncio.shield(self._opening)

    def close(self) -> None:
        """Stop the watch without waiting; :meth:`aclose` also frees the stream."""
        self._closed = True

    async def aclose(self) -> None:
        self._closed = True
        opening = self._opening
        if opening is None:
            return
        if not opening.done():
            opening.cancel()
        elif not opening.cancelled() and opening.exception() is None:
            opening.result()[0].close()  # the stream's response, read or not


def _events(message: dict[str, Any], start: int) -> list[Event]:
    """The events of one watch response; raises for a compacted or cancelled watch."""
    if "error" in message:
        raise StorageUnavailable(f"etcd watch: {message['error']}")
    result = message.get("result", {})
    if int(result.get("compact_revision", 0)):
        raise CompactedError(start, int(result["compact_revision"]))
    if result.get("canceled"):
        raise StorageUnavailable(f"etcd cancelled the watch: {result.get('cancel_reason', '')}")
    return [_event(item) for item in result.get("events") or ()]


def _event(item: dict[str, Any]) -> Event:
    kv = to_kv(item["kv"])
    prev = to_kv(item["prev_kv"]) if "prev_kv" in item else None
    if item.get("type") == "DELETE":
        deleted = KeyValue(kv.key, prev.value if prev else b"",
                           prev.create_revision if prev else 0, kv.mod_revision)
        return Event("DELETE", deleted, prev)
    return Event("PUT", kv, prev)
