"""The one storage interface every backend implements (SQLite, etcd).

Modelled on etcd v3 and kine: a flat key space of bytes values; every write bumps
one global revision; every call returns the revision it observed; a lost
compare-and-swap is a *result* (``succeeded=False`` with the current value), not an
exception. Only the API server uses this layer.

Errors (see :mod:`kybernetes.storage.errors`): ``CompactedError`` when a list or
watch asks for a revision older than the last compaction, ``FutureRevisionError``
for one newer than the store has, ``StorageUnavailable`` when the backend cannot be
reached.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One key's value at one revision. ``stale``: the value was read through a
    transformer other than the one that writes (an older encryption key, or identity
    while encryption is on), so an update should write it again even if unchanged."""

    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    stale: bool = False


@dataclass(frozen=True, slots=True)
class Event:
    """One change. For DELETE, ``kv.mod_revision`` is the delete's revision and
    ``kv.value`` the last value the key held (as ``prev_kv`` in etcd)."""

    type: Literal["PUT", "DELETE"]
    kv: KeyValue
    prev_kv: KeyValue | None = None


@dataclass(frozen=True, slots=True)
class ListResult:
    revision: int
    kvs: list[KeyValue]
    more: bool  # true when limit cut the result short


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The outcome of create/update/delete.

    succeeded: the write happened; ``kv`` is the new value (for delete: the value
    deleted, with ``mod_revision`` the delete's revision, as in its DELETE event).
    Not succeeded: ``kv`` is the current value, or None when the key does not
    exist; ``revision`` is then the store's revision, unchanged by the attempt.
    """

    revision: int
    succeeded: bool
    kv: KeyValue | None


@runtime_checkable
class Watch(Protocol):
    """An ordered stream of event batches; each batch shares one revision."""

    def __aiter__(self) -> AsyncIterator[list[Event]]: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Store(Protocol):
    async def start(self) -> None:
        """Open the backend (create tables, connect)."""

    async def aclose(self) -> None:
        """Release everything; pending watches end."""

    async def current_revision(self) -> int: ...

    async def get(self, key: str) -> tuple[int, KeyValue | None]:
        """(store revision, the key's value or None)."""

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = ""
    ) -> ListResult:
        """Keys under prefix in key order, as of `revision` (0 = now), after
        `start_after`, at most `limit` (0 = all). Raises CompactedError for a
        compacted revision and FutureRevisionError for one not reached yet."""

    async def count(self, prefix: str) -> tuple[int, int]:
        """(store revision, number of keys under prefix)."""

    async def create(self, key: str, value: bytes) -> WriteResult:
        """Fails (succeeded=False, kv=current) when the key exists."""

    async def update(self, key: str, value: bytes, *, mod_revision: int) -> WriteResult:
        """Succeeds only if the key's mod_revision still equals `mod_revision`."""

    async def delete(self, key: str, *, mod_revision: int = 0) -> WriteResult:
        """Deletes the key; with mod_revision > 0 only if it is unchanged."""

    def watch(self, prefix: str, *, start_revision: int) -> Watch:
        """Events under prefix from `start_revision` (inclusive) on, in revision order;
        ``start_revision=0`` means from now. Iterating raises CompactedError if
        `start_revision` is compacted, and StorageUnavailable if the stream breaks
        (watch again from the next revision); it ends when the store closes. A
        cancelled ``__anext__`` (a timeout) loses nothing: iterate on."""

    async def compact(self, revision: int) -> None:
        """Forget history older than `revision` (the newest value of a key stays)."""

    async def compacted_revision(self) -> int: ...


StoreKind = Literal["sqlite", "etcd"]
