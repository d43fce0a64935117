"""A Store that transforms values on their way in and out: the one seam of encryption.

:class:`TransformingStore` wraps a backend (SQLite or etcd) and is the store the
API server is given, so every path to stored bytes passes it: get, list (the
watch cache's load included), watch events (their ``prev_kv`` too), and the
values that create, update and delete return. As Kubernetes' etcd3 store does
around its transformer:

- a write is encrypted by the key's transformer (the first provider), with the
  storage key as authenticated data;
- a read is decrypted by whichever provider the value's prefix names; one read
  by a provider other than the first comes back with ``KeyValue.stale`` set, so
  an update writes it again even when nothing changed (``kubectl replace``
  moves it to the current key);
- a value no provider can read (its key is gone from the configuration) comes
  back as :class:`Unreadable`: the stored bytes, carrying the message of the
  InternalError that decoding it raises. One such object fails its own reads,
  not the server's start nor the watch cache's load.

Keys the lookup gives no transformer (resources the configuration does not name,
and non-objects such as the allocator's ranges) pass through untouched, except
that an encrypted value under them is Unreadable, as Kubernetes' identity check.
"""

from __future__ import annotations

from collections.abc import Callable

from kybernetes.storage.encryption.providers import (
    ENCRYPTED,
    IDENTITY,
    Transformer,
    TransformError,
    named_key,
)
from kybernetes.storage.interface import Event, KeyValue, ListResult, Store, Watch, WriteResult

Lookup = Callable[[str], Transformer | None]


class Unreadable(bytes):
    """A stored value that could not be transformed back; decoding it must fail with
    :attr:`message` (an InternalError, as Kubernetes answers)."""

    message: str

    @classmethod
    def of(cls, kv: KeyValue, error: Exception) -> Unreadable:
        value = cls(kv.value)
        named = named_key(kv.value)
        value.message = (f'Internal error occurred: unable to transform key "{kv.key}": '
                         f'{error}' + (f" (the value is stored with {named})" if named else ""))
        return value


class TransformingStore:
    """The Store protocol over `store`, transforming values by `lookup(key)`."""

    def __init__(self, store: Store, lookup: Lookup) -> None:
        self.inner = store
        self._lookup = lookup

    # -- values ----------------------------------------------------------------------

    def read(self, kv: KeyValue) -> KeyValue:
        """`kv` with its value as the object's bytes (decrypted), or Unreadable."""
        transformer = self._lookup(kv.key)
        if transformer is None:
            if not kv.value.startswith(ENCRYPTED):
                return kv
            transformer = IDENTITY
        try:
            value, stale = transformer.from_storage(kv.value, kv.key.encode())
        except TransformError as e:
            return KeyValue(kv.key, Unreadable.of(kv, e), kv.create_revision, kv.mod_revision)
        return KeyValue(kv.key, value, kv.create_revision, kv.mod_revision, stale)

    def _event(self, event: Event) -> Event:
        kv, prev = self.read(event.kv), event.prev_kv
        if prev is not None:
            prev = self.read(prev)
        if kv is event.kv and prev is event.prev_kv:
            return event
        return Event(event.type, kv, prev)

    def _result(self, result: WriteResult, written: bytes | None) -> WriteResult:
        """A write's result with its value as the caller sees it: the bytes it wrote
        when it succeeded, else (and for a delete) the stored value read back."""
        kv = result.kv
        if kv is None:
            return result
        if result.succeeded and written is not None:
            if kv.value is written:
                return result
            kv = KeyValue(kv.key, written, kv.create_revision, kv.mod_revision)
        else:
            kv = self.read(kv)
        return WriteResult(result.revision, result.succeeded, kv)

    def _encode(self, key: str, value: bytes) -> bytes:
        transformer = self._lookup(key)
        return value if transformer is None else transformer.to_storage(value, key.encode())

    # -- the Store protocol ----------------------------------------------------------

    async def start(self) -> None:
        await self.inner.start()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def current_revision(self) -> int:
        return await self.inner.current_revision()

    async def get(self, key: str) -> tuple[int, KeyValue | None]:
        revision, kv = await self.inner.get(key)
        return revision, (None if kv is None else self.read(kv))

    async def list(self, prefix: str, *, revision: int = 0, limit: int = 0,
                   start_after: str = "") -> ListResult:
        result = await self.inner.list(prefix, revision=revision, limit=limit,
                                       start_after=start_after)
        return ListResult(result.revision, [self.read(kv) for kv in result.kvs], result.more)

    async def count(self, prefix: str) -> tuple[int, int]:
        return await self.inner.count(prefix)

    async def create(self, key: str, value: bytes) -> WriteResult:
        return self._result(await self.inner.create(key, self._encode(key, value)), value)

    async def update(self, key: str, value: bytes, *, mod_revision: int) -> WriteResult:
        result = await self.inner.update(key, self._encode(key, value),
                                         mod_revision=mod_revision)
        return self._result(result, value)

    async def delete(self, key: str, *, mod_revision: int = 0) -> WriteResult:
        return self._result(await self.inner.delete(key, mod_revision=mod_revision), None)

    def watch(self, prefix: str, *, start_revision: int) -> Watch:
        return _TransformingWatch(self.inner.watch(prefix, start_revision=start_revision),
                                  self._event)

    async def compact(self, revision: int) -> None:
        await self.inner.compact(revision)

    async def compacted_revision(self) -> int:
        return await self.inner.compacted_revision()


class _TransformingWatch:
    """The backend's watch with each event read through the transformer. A plain
    class, not an async generator: a cancelled ``__anext__`` must leave it usable."""

    def __init__(self, watch: Watch, event: Callable[[Event], Event]) -> None:
        self._watch = watch
        self._iter = watch.__aiter__()
        self._event = event

    def __aiter__(self) -> _TransformingWatch:
        return self

    async def __anext__(self) -> list[Event]:
        batch = await self._iter.__anext__()
        return [self._event(event) for event in batch]

    async def aclose(self) -> None:
        await self._watch.aclose()
