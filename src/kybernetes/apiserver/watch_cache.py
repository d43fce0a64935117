"""The watch cache: lists and watches served from memory, as Kubernetes' cacher does.

One store watch on every key feeds every resource's cache, so the cache has one
revision for all resources (an event anywhere advances it), and a consistent read
only has to wait until that revision reaches the store's current one. Keys outside
``/registry/`` (the API servers' ``/masterleases/``) are watched only to move that
revision: kube's cacher asks etcd for progress notifications instead. Watching
``/registry/`` alone, a lease renewal that was the newest write held every
consistent LIST for the whole wait (1 s) until some object changed.

A resource's cache is keyed by the store prefix its objects live under
(``/registry/pods/``, or ``/registry/<group>/<plural>/`` for custom resources)
and made on first sight of that prefix, so a kind registered while serving (a
CustomResourceDefinition) finds its objects already cached, and a removed one
leaves an empty cache behind.

Per resource the cache keeps
  * the current objects: the stored bytes until first read, then their JSON bytes
    (made once, shared by every list and watcher) and the few fields selectors ask
    about; the decoded dict (treated as immutable) only while it is among the most
    recently read (`DecodedObjects`), because a decoded pod costs about twice its
    JSON and at Kubernetes' 150,000 pods the dicts alone would not fit, and
  * a ring of recent events, to resume a watch from a resourceVersion. A watch
    from before the ring's oldest revision is ``410 Gone`` (`too old resource
    version`), and the client re-lists.

Events fan out synchronously to watchers, each with a bounded buffer; a watcher
that falls behind is closed (its client re-watches), so one slow reader never
holds up the others or grows memory without bound. Because registering a watcher
and dispatching an event never await, a watcher sees every event after its
starting revision exactly once.

Per-watcher filtering follows the cacher: an object that stops matching the
watcher's selectors is sent as DELETED, one that starts matching as ADDED.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from bisect import bisect_left, bisect_right
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

import orjson

from kybernetes.api.errors import ApiError, Gone, ServiceUnavailable, Timeout
from kybernetes.api.fields import Getter, field_getter
from kybernetes.apiserver.codec import decode_stored, tight
from kybernetes.apiserver.kinds.definition import KindDefinition
from kybernetes.apiserver.list_snapshots import ListSnapshot, ListSnapshots
from kybernetes.storage.errors import StorageError
from kybernetes.storage.interface import Event, KeyValue, Store
from kybernetes.storage.keys import prefix_end

log = logging.getLogger("kybernetes.apiserver.watch_cache")

REGISTRY = "/registry/"
EVERY_KEY = "/"
RING_CAPACITY = 20000
WATCHER_BUFFER = 4096
# Decoded objects kept at once: enough for everything read on every request (RBAC
# rules, namespaces, ServiceAccounts, webhook configurations) to stay decoded.
DECODED_CAPACITY = 4096

Matcher = Callable[["Entry"], bool]
# Store state under /registry/ that is not API objects (the Service allocator's bitmaps).
_NOT_OBJECTS = frozenset({"ranges"})


_api_version = field_getter("apiVersion")


class DecodedObjects:
    """The entries whose decoded dicts are kept, least recently read first: a bounded
    set, so memory is the objects' JSON bytes, not their dicts."""

    def __init__(self, capacity: int = DECODED_CAPACITY) -> None:
        self.capacity = capacity
        self._order: OrderedDict[Entry, None] = OrderedDict()

    def touch(self, entry: Entry) -> None:
        self._order.move_to_end(entry)

    def keep(self, entry: Entry) -> None:
        self._order[entry] = None
        if len(self._order) > self.capacity:
            oldest, _ = self._order.popitem(last=False)
            oldest._obj = None


class Entry:
    """One object at one revision; its JSON bytes are made once and shared by every
    list and watcher, and the fields selectors match on are kept beside them."""

    __slots__ = ("_decoded", "_fields", "_labels", "_obj", "_raw", "_stored",
                 "_versions", "key", "rv")

    def __init__(self, key: str, obj: dict[str, Any] | None, rv: int,
                 stored: bytes | None = None, decoded: DecodedObjects | None = None) -> None:
        self.key, self._obj, self.rv, self._stored = key, obj, rv, stored
        self._decoded = decoded  # None: the entry keeps its dict for good
        self._raw: bytes | None = None
        self._versions: dict[str, bytes] | None = None
        self._labels: dict[str, str] | None = None
        self._fields: dict[str, str] | None = None

    @classmethod
    def of(cls, kv: KeyValue, decoded: DecodedObjects | None = None) -> Entry:
        """A stored value, decoded on first read: most writes are never read from the
        cache, and bytes are cheaper to hold than dicts the garbage collector walks."""
        return cls(kv.key, None, kv.mod_revision, kv.value, decoded)

    @property
    def obj(self) -> dict[str, Any]:
        obj = self._obj
        if obj is not None:
            if self._decoded is not None:
                self._decoded.touch(self)
            return obj
        if self._stored is not None:
            obj = decode_stored(self._stored, self.rv)
            self._raw = tight(orjson.dumps(obj))
            self._stored = None
        else:
            assert self._raw is not None, "an entry holds an object or its bytes"
            obj = orjson.loads(self._raw)
        self._obj = obj
        if self._decoded is not None:
            self._decoded.keep(self)
        return obj

    @property
    def raw(self) -> bytes:
        if self._raw is None:
            obj = self.obj  # decoding the stored bytes makes these bytes on the way
            if self._raw is None:
                self._raw = tight(orjson.dumps(obj))
        return self._raw

    @property
    def labels(self) -> dict[str, str]:
        """metadata.labels, kept for label selectors."""
        if self._labels is None:
            self._labels = (self.obj.get("metadata") or {}).get("labels") or {}
        return self._labels

    def field(self, name: str, getter: Getter) -> str:
        """The field selector value `name` (derived by `getter`), kept once derived."""
        fields = self._fields
        if fields is None:
            fields = self._fields = {}
        value = fields.get(name)
        if value is None:
            value = fields[name] = getter(self.obj)
        return value

    def raw_as(self, api_version: str,
               present: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> bytes:
        """The JSON bytes under `api_version`: a custom resource stored in one version is
        served in every version of its CRD (conversion None changes only apiVersion);
        `present` converts fields too (a built-in kind's other version)."""
        raw = self.raw
        if self.field("apiVersion", _api_version) in ("", api_version):
            return raw
        if self._versions is None:
            self._versions = {}
        found = self._versions.get(api_version)
        if found is None:
            found = self._versions[api_version] = tight(orjson.dumps(
                present(self.obj) if present is not None
                else {**self.obj, "apiVersion": api_version}))
        return found

    def event_line(self, type_: str, api_version: str = "",
                   present: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> bytes:
        """``{"type":…,"object":…}\n`` for a watch stream (in `api_version` if given);
        made per watcher, not kept: kept lines would hold a second copy of every
        object that was ever watched."""
        raw = self.raw_as(api_version, present) if api_version else self.raw
        return b"".join((b'{"type":"', type_.encode(), b'","object":', raw, b"}\n"))


class CacheEvent:
    __slots__ = ("entry", "prev", "rv", "type")

    def __init__(self, type_: str, entry: Entry, prev: Entry | None) -> None:
        self.type, self.entry, self.prev, self.rv = type_, entry, prev, entry.rv


class Watcher:
    """A client watch: a bounded buffer of (type, entry) and a wake-up event."""

    def __init__(self, cache: ResourceCache, prefix: str, matcher: Matcher | None) -> None:
        self.cache, self.prefix, self.matcher = cache, prefix, matcher
        self.items: deque[tuple[str, Entry]] = deque()
        self.wake = asyncio.Event()
        self.closed = False
        self.dropped = False
        # Set once the stream is live: writes an event now; False when it cannot
        # (the connection is backed up), and the event is queued instead.
        self.direct: Callable[[str, Entry], bool] | None = None

    def _matches(self, entry: Entry | None) -> bool:
        if entry is None or not entry.key.startswith(self.prefix):
            return False
        try:
            return self.matcher is None or self.matcher(entry)
        except ApiError:  # an object the store cannot decrypt: the watcher gets its error
            return True

    def offer(self, ev: CacheEvent) -> None:
        """Queue `ev` as this watcher sees it (selectors turn it into ADDED/DELETED)."""
        now, before = self._matches(ev.entry), self._matches(ev.prev)
        if ev.type == "DELETED":
            if now:
                self._push("DELETED", ev.entry)
        elif now and before:
            self._push("MODIFIED", ev.entry)
        elif now:
            self._push("ADDED", ev.entry)
        elif before and ev.prev is not None:
            try:
                gone = {**ev.prev.obj, "metadata": {**ev.prev.obj.get("metadata", {}),
                                                    "resourceVersion": str(ev.rv)}}
            except ApiError:
                self._push("DELETED", ev.prev)  # unreadable: sent as its error
                return
            self._push("DELETED", Entry(ev.entry.key, gone, ev.rv))

    def _push(self, type_: str, entry: Entry) -> None:
        if self.closed:
            return
        if self.direct is not None and not self.items and self.direct(type_, entry):
            return
        if len(self.items) >= WATCHER_BUFFER:
            self.dropped = True
            log.info("dropping slow watcher", extra={"prefix": self.cache.prefix})
            self.close()
            return
        self.items.append((type_, entry))
        self.wake.set()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.cache.watchers.discard(self)
            self.wake.set()

    async def next_batch(self, wait: float) -> list[tuple[str, Entry]]:
        """Everything queued, waiting up to `wait` seconds; [] on timeout or close."""
        if not self.items and not self.closed:
            try:
                async with asyncio.timeout(wait):  # no task per wait, unlike wait_for
                    await self.wake.wait()
            except TimeoutError:
                return []
        self.wake.clear()
        batch = list(self.items)
        self.items.clear()
        return batch


_WAITERS_BEFORE_CLEANUP = 1_000
_RESORT_AFTER = 1_000  # changes since the last sort past which it is sorted again


class ResourceCache:
    """Current objects and recent events of one resource."""

    def __init__(self, prefix: str, parent: WatchCache) -> None:
        self.prefix = prefix
        self.parent = parent
        self.objects: dict[str, Entry] = {}
        self.ring: deque[CacheEvent] = deque()
        self.capacity = parent.capacity
        self.oldest_rv = 0
        self.watchers: set[Watcher] = set()
        # The keys in order, for lists and remainingItemCount: kept up to date lazily
        # from the keys added and removed since (a few insertions cost microseconds; a
        # full sort of 150,000 keys ~25 ms, which every page of a paged list paid while
        # pods were being created).
        self._sorted: list[str] | None = None
        self._added: list[str] = []
        self._removed: list[str] = []
        self.snapshots = ListSnapshots()

    def reset(self, revision: int) -> None:
        for w in list(self.watchers):
            w.close()
        self.objects.clear()
        self.ring.clear()
        self._sorted = None
        self._added.clear()
        self._removed.clear()
        self.snapshots.clear()
        self.oldest_rv = revision

    def apply(self, ev: Event) -> None:
        key = ev.kv.key
        prev = self.objects.get(key)
        entry = Entry.of(ev.kv, self.parent.decoded)
        if ev.type == "DELETE":
            self.objects.pop(key, None)
            self._pending(self._removed, key)
            cev = CacheEvent("DELETED", entry, prev)
        else:
            if prev is None:
                self._pending(self._added, key)
            self.objects[key] = entry
            cev = CacheEvent("MODIFIED" if prev is not None else "ADDED", entry, prev)
        self.ring.append(cev)
        if len(self.ring) > self.capacity:
            self.oldest_rv = self.ring.popleft().rv
            self.snapshots.forget_before(self.oldest_rv)
        for w in list(self.watchers):
            w.offer(cev)

    def last_change(self) -> int:
        """The revision of the newest change seen (or of the last full load): it moves
        whenever anything under this prefix changes."""
        return self.ring[-1].rv if self.ring else self.oldest_rv

    def _pending(self, changes: list[str], key: str) -> None:
        """Note a key added or removed since the last sort; past _RESORT_AFTER of them
        the sorted keys are dropped instead (sorting again is cheaper, and a resource
        nobody lists must not collect its changes forever)."""
        if self._sorted is None:
            return
        if len(self._added) + len(self._removed) >= _RESORT_AFTER:
            self._sorted = None
            self._added.clear()
            self._removed.clear()
        else:
            changes.append(key)

    def _keys(self) -> list[str]:
        keys = self._sorted
        if keys is None:
            keys = self._sorted = sorted(self.objects)
        else:  # the final state decides: a key may have come and gone since
            for key in self._removed:
                i = bisect_left(keys, key)
                if key not in self.objects and i < len(keys) and keys[i] == key:
                    del keys[i]
            for key in self._added:
                i = bisect_left(keys, key)
                if key in self.objects and (i == len(keys) or keys[i] != key):
                    keys.insert(i, key)
        self._added.clear()
        self._removed.clear()
        return keys

    def _span(self, prefix: str) -> tuple[list[str], int, int]:
        """The sorted keys, and where those under `prefix` are in them."""
        keys = self._keys()
        if prefix == self.prefix:
            return keys, 0, len(keys)
        end = prefix_end(prefix)
        return keys, bisect_left(keys, prefix), \
            len(keys) if end is None else bisect_left(keys, end)

    def entries(self, prefix: str) -> list[Entry]:
        """Current objects under `prefix`, in key order."""
        keys, lo, hi = self._span(prefix)
        objects = self.objects
        return [objects[k] for k in keys[lo:hi]]

    def snapshot(self, prefix: str, revision: int) -> ListSnapshot:
        """The entries under `prefix` now, as of `revision` (the cache's own), for the
        pages of one list."""
        return ListSnapshot(prefix, revision, self.entries(prefix))

    def count_after(self, prefix: str, key: str) -> int:
        """How many current objects under `prefix` sort after `key`: a page's
        remainingItemCount, which Kubernetes documents as an estimate."""
        keys, lo, hi = self._span(prefix)
        return max(hi - max(bisect_right(keys, key), lo), 0)

    def watch(self, prefix: str, matcher: Matcher | None, *, from_rv: int | None,
              ) -> tuple[Watcher, list[tuple[str, Entry]], int]:
        """Register a watcher. from_rv None: initial ADDED for the current state;
        else replay the events after from_rv (410 if the ring no longer has them).
        Returns the watcher, its initial events and the revision they reach."""
        w = Watcher(self, prefix, matcher)
        if from_rv is None:
            initial = [("ADDED", e) for e in self.entries(prefix) if w._matches(e)]
        else:
            if from_rv < self.oldest_rv:
                raise Gone(f"too old resource version: {from_rv} ({self.oldest_rv + 1})")
            initial = []
            for cev in self.ring:
                if cev.rv > from_rv:
                    w.offer(cev)
            initial, w.items = list(w.items), deque()
            w.wake.clear()
        self.watchers.add(w)
        return w, initial, self.parent.revision


class WatchCache:
    """All resources' caches, fed by one store watch."""

    def __init__(self, store: Store, *, capacity: int = RING_CAPACITY) -> None:
        self.store = store
        self.capacity = capacity
        self.revision = 0
        self._loaded = 0  # the revision of the last full load
        self.ready = asyncio.Event()
        self.caches: dict[str, ResourceCache] = {}
        self.decoded = DecodedObjects()
        # Readers waiting for a revision, by revision: woken as the cache passes it.
        # (An asyncio.Condition made every waiter take its lock in turn on each batch,
        # and a timed-out waiter wait for the lock again: with the loop saturated, a
        # consistent LIST that should fall back to the store after 1 s took up to 60.)
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._waiter_ids = itertools.count()
        self._task: asyncio.Task[None] | None = None

    def cached(self, kind: KindDefinition, namespace: str | None, name: str
               ) -> dict[str, Any] | None:
        """One object as the cache holds it now (which may trail the store), or None."""
        entry = self.for_prefix(kind.key_prefix).objects.get(kind.key(namespace, name))
        return entry.obj if entry is not None else None

    def cached_list(self, kind: KindDefinition, namespace: str | None = None
                    ) -> list[dict[str, Any]]:
        """Every object of `kind` (in `namespace`, or all) as the cache holds it now:
        what admission plugins read (quotas, limit ranges, default classes)."""
        return [e.obj for e in self.for_prefix(kind.key_prefix).entries(kind.prefix(namespace))]

    def encoded(self, kind: KindDefinition, kv: KeyValue) -> bytes | None:
        """The JSON bytes of stored `kv` as `kind`'s version shows it, when the cache
        holds that very revision (made once, shared with lists and watch events);
        None otherwise. The same bytes as encoding `decode_kv(kv)` presented."""
        cache = self.caches.get(kind.key_prefix)
        entry = cache.objects.get(kv.key) if cache is not None else None
        if entry is None or entry.rv != kv.mod_revision:
            return None
        return entry.raw_as(kind.resource.api_version, kind.present if kind.convert else None)

    def for_prefix(self, prefix: str) -> ResourceCache:
        """The cache of the objects under `prefix` (a kind's key prefix), made if new."""
        cache = self.caches.get(prefix)
        if cache is None:
            cache = self.caches[prefix] = ResourceCache(prefix, self)
            # Nothing happened under a prefix not seen since the last load: history
            # reaches back to that load, as for every other prefix.
            cache.oldest_rv = self._loaded
        return cache

    async def start(self) -> None:
        from kybernetes.tasks import spawn

        await self._load()
        self._task = spawn(self._run(), name="watch-cache")

    async def aclose(self) -> None:
        from kybernetes.tasks import cancel_and_wait

        await cancel_and_wait(self._task)
        for cache in self.caches.values():
            cache.reset(self.revision)

    async def _load(self) -> None:
        result = await self.store.list(REGISTRY)
        self.revision = self._loaded = result.revision
        for cache in self.caches.values():
            cache.reset(result.revision)
        for kv in result.kvs:
            found = self._cache_of(kv.key)
            if found is not None:
                found.objects[kv.key] = Entry.of(kv, self.decoded)
        self.ready.set()
        self._notify()

    def _cache_of(self, key: str) -> ResourceCache | None:
        """The cache for a key: /registry/<plural>/… for built-in kinds,
        /registry/<group>/<plural>/… for custom resources (a group has a dot); None
        for a key that is not an API object."""
        if not key.startswith(REGISTRY):
            return None
        parts = key[len(REGISTRY):].split("/", 2)
        if parts[0] in _NOT_OBJECTS or len(parts) < 2:
            return None
        if "." in parts[0] and len(parts) == 3:
            return self.for_prefix(f"{REGISTRY}{parts[0]}/{parts[1]}/")
        return self.for_prefix(f"{REGISTRY}{parts[0]}/")

    async def _run(self) -> None:
        """Watch from the last load; when the watch fails, re-list until a list
        succeeds (not-ready meanwhile) and watch again from there - never watch on
        from a state that a failed re-list left behind."""
        delay = 0.1
        while True:
            try:
                watch = self.store.watch(EVERY_KEY, start_revision=self.revision + 1)
                try:
                    async for batch in watch:
                        self._apply(batch)
                        delay = 0.1
                finally:
                    await watch.aclose()
                log.warning("store watch ended; re-listing")
            except asyncio.CancelledError:
                raise
            except Exception as e:  # any store failure: re-list and go on
                log.warning("store watch failed; re-listing", extra={"error": repr(e)})
            self.ready.clear()
            delay = await self._relist(delay)

    async def _relist(self, delay: float) -> float:
        """Load again until it works, pausing `delay` seconds first and twice as long
        (up to 2 s) after each failure; returns the next pause."""
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
            try:
                await self._load()
                return delay
            except StorageError as e:
                log.warning("re-list failed; trying again", extra={"error": repr(e)})

    def _apply(self, batch: list[Event]) -> None:
        for ev in batch:
            cache = self._cache_of(ev.kv.key)
            if cache is not None:
                cache.apply(ev)
            self.revision = max(self.revision, ev.kv.mod_revision)
        self._notify()

    def _notify(self) -> None:
        waiters = self._waiters
        while waiters and waiters[0][0] <= self.revision:
            _, _, reached = heapq.heappop(waiters)
            if not reached.done():
                reached.set_result(None)

    async def wait_for(self, revision: int, wait: float) -> bool:
        """Wait until the cache has seen `revision`; False on timeout."""
        if self.revision >= revision:
            return True
        reached = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (revision, next(self._waiter_ids), reached))
        try:
            await asyncio.wait_for(reached, wait)
            return True
        except TimeoutError:
            if len(self._waiters) > _WAITERS_BEFORE_CLEANUP:  # timed-out ones pile up
                self._waiters = [w for w in self._waiters if not w[2].done()]
                heapq.heapify(self._waiters)
            return False

    async def wait_fresh(self, wait: float = 1.0) -> bool:
        """Consistent read: wait until the cache reaches the store's current revision."""
        if not self.ready.is_set():
            raise ServiceUnavailable("the watch cache is not ready yet")
        current = await self.store.current_revision()
        return await self.wait_for(current, wait)

    async def wait_not_older(self, revision: int, wait: float = 3.0) -> None:
        """For rv=X reads and watches: wait until the cache reaches X (else 504)."""
        if not await self.wait_for(revision, wait):
            raise Timeout(f"Too large resource version: {revision}, current: {self.revision}",
                          details={"causes": [{"reason": "ResourceVersionTooLarge",
                                               "message": "Too large resource version"}],
                                   "retryAfterSeconds": 1})
