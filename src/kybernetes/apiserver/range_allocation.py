"""A bitmap of allocated offsets kept in the store, changed only by compare-and-swap.

This is Kubernetes' RangeAllocation: one key per range (``/registry/ranges/serviceips``,
``/registry/ranges/servicenodeports``) holds a ``RangeAllocation`` object whose
``data`` is the bitmap (bit *i* set = offset *i* taken, big-endian bytes, base64 in
JSON, deflated: a sparse bitmap of a /12 is 128 KiB raw) and whose ``range`` names
what the offsets mean. Every change reads the
bitmap, flips bits and writes it back with ``update(..., mod_revision=…)``; a lost
compare-and-swap hands back the current value, and the change is recomputed on
it. So two API servers (or two racing requests) can never take the same offset.

The last value seen is cached, so a change costs one store write; inside one
process changes are serialised by a lock, and those that queue up behind a write
in flight go together into the next one (group commit: each still succeeds or
fails on its own), so racing requests neither waste round trips on each other's
CAS failures nor wait for one write each.

Dynamic picks follow KEP-3070/3668: a random free offset from the upper band
first, then the lower band, which stays mostly free for user-requested values.
"""

from __future__ import annotations

import asyncio
import base64
import random
import zlib
from collections.abc import Callable, Iterable

import orjson

from kybernetes.api.errors import InternalError
from kybernetes.storage.interface import KeyValue, Store

MAX_CAS_ATTEMPTS = 64


class AllocationError(Exception):
    """Base of the range errors; the service allocator turns them into Status."""


class AlreadyAllocated(AllocationError):
    def __init__(self, offset: int) -> None:
        super().__init__(f"offset {offset} is already allocated")
        self.offset = offset


class RangeFull(AllocationError):
    def __init__(self) -> None:
        super().__init__("range is full")


def _encode(range_text: str, bits: int, revision: int) -> bytes:
    data = bits.to_bytes((bits.bit_length() + 7) // 8, "big") if bits else b""
    return orjson.dumps({
        "apiVersion": "v1",
        "kind": "RangeAllocation",
        "metadata": {"resourceVersion": str(revision)} if revision else {},
        "range": range_text,
        "dataEncoding": "zlib",  # a sparse /12 bitmap is 128 KiB raw, a few KiB deflated
        "data": base64.b64encode(zlib.compress(data, 1)).decode(),
    })


def _decode(kv: KeyValue | None, range_text: str) -> int:
    """The bitmap in `kv`; an absent key or one for another range is empty."""
    if kv is None:
        return 0
    obj = orjson.loads(kv.value)
    if obj.get("range") != range_text:
        return 0  # the range flag changed: the repair pass rebuilds it from Services
    data = base64.b64decode(obj.get("data") or "")
    if obj.get("dataEncoding") == "zlib":
        data = zlib.decompress(data)
    return int.from_bytes(data, "big")


def lowest_free(bits: int, start: int, stop: int) -> int | None:
    """The lowest clear bit in [start, stop), or None."""
    if stop <= start:
        return None
    window = ((1 << (stop - start)) - 1) & ~(bits >> start)
    if not window:
        return None
    return start + (window & -window).bit_length() - 1


def pick_free(bits: int, *, size: int, band: int, rng: random.Random) -> int | None:
    """A random free offset, from [band, size) first, then [0, band)."""
    band = min(band, size)
    for low, high in ((band, size), (0, band)):
        if high <= low:
            continue
        start = rng.randrange(low, high)
        found = lowest_free(bits, start, high)
        if found is None:
            found = lowest_free(bits, low, start)
        if found is not None:
            return found
    return None


class _Change:
    """One queued change of a bitmap and its outcome."""

    __slots__ = ("bits", "done", "error", "fn")

    def __init__(self, fn: Callable[[int], int]) -> None:
        self.fn = fn
        self.bits = 0
        self.done = False
        self.error: BaseException | None = None

    def run(self, bits: int) -> int:
        """Apply on `bits`; on an AllocationError keep `bits` and remember the error."""
        self.error = None
        try:
            self.bits = self.fn(bits)
        except AllocationError as e:
            self.error, self.bits = e, bits
        return self.bits


class RangeAllocation:
    """Offsets 0..size-1 of one range, persisted under `key`.

    `reserved` offsets are never handed out dynamically (the first service IP is
    kept for the `kubernetes` Service) but can be asked for by value.
    """

    def __init__(self, store: Store, key: str, *, range_text: str, size: int,
                 band: int, reserved: Iterable[int] = ()) -> None:
        self.store = store
        self.key = key
        self.range_text = range_text
        self.size = size
        self.band = band
        self._reserved_mask = sum(1 << r for r in reserved)
        self._bits = 0
        self._mod_revision = 0  # 0: not loaded, or the key does not exist
        self._loaded = False
        self._lock = asyncio.Lock()
        self._queue: list[_Change] = []
        self._rng = random.Random()

    async def load(self) -> int:
        """Read the stored bitmap (fresh, not cached)."""
        _, kv = await self.store.get(self.key)
        self._take(kv)
        return self._bits

    def _take(self, kv: KeyValue | None) -> None:
        self._bits = _decode(kv, self.range_text)
        self._mod_revision = kv.mod_revision if kv else 0
        self._loaded = True

    async def change(self, fn: Callable[[int], int], *, dry_run: bool = False) -> int:
        """Apply `fn(bits) -> new bits` with compare-and-swap; returns the bits written.

        `fn` may raise an AllocationError, which passes through; nothing of it is
        written then, nor when `dry_run`. Changes that queue up while a write is in
        flight are applied together, in order, in the next single write (group
        commit), each failing or succeeding on its own.
        """
        if dry_run:
            async with self._lock:
                return fn(await self.load())
        change = _Change(fn)
        self._queue.append(change)
        async with self._lock:
            if not change.done:
                batch, self._queue = self._queue, []
                await self._apply(batch, own=change)
        if change.error is not None:
            raise change.error
        return change.bits

    async def _apply(self, batch: list[_Change], *, own: _Change) -> None:
        """Run `batch` and write its result once; mark every change done."""
        try:
            await self._write(batch)
        except asyncio.CancelledError:
            # only this caller was cancelled: the others go back for the next writer
            self._queue[:0] = [c for c in batch if c is not own]
            raise
        except BaseException as e:
            for change in batch:
                change.error = change.error or e
                change.done = True
            raise
        for change in batch:
            change.done = True

    async def _write(self, batch: list[_Change]) -> None:
        if not self._loaded:
            await self.load()
        for _ in range(MAX_CAS_ATTEMPTS):
            new = self._bits
            for change in batch:  # each on the result of the ones before it
                new = change.run(new)
            if new == self._bits:
                return
            value = _encode(self.range_text, new, self._mod_revision)
            if self._mod_revision:
                result = await self.store.update(self.key, value,
                                                 mod_revision=self._mod_revision)
            else:
                result = await self.store.create(self.key, value)
            if result.succeeded:
                assert result.kv is not None
                self._bits, self._mod_revision = new, result.kv.mod_revision
                return
            self._take(result.kv)  # lost the race: recompute on the current value
        raise InternalError(f"failed to update {self.key}: too many conflicting writers")

    async def allocate(self, requested: Iterable[int], count: int, *,
                       dry_run: bool = False) -> list[int]:
        """Take every offset in `requested` and `count` free ones, all or none."""
        wanted = sorted(set(requested))
        picked: list[int] = []

        def take(bits: int) -> int:
            picked.clear()
            for offset in wanted:
                if bits >> offset & 1:
                    raise AlreadyAllocated(offset)
                bits |= 1 << offset
            for _ in range(count):
                found = pick_free(bits | self._reserved_mask, size=self.size, band=self.band,
                                  rng=self._rng)
                if found is None:
                    raise RangeFull()
                picked.append(found)
                bits |= 1 << found
            return bits

        await self.change(take, dry_run=dry_run)
        return picked

    async def release(self, offsets: Iterable[int]) -> None:
        """Clear `offsets` (already clear ones are fine)."""
        mask = sum(1 << o for o in set(offsets) if 0 <= o < self.size)
        if mask:
            await self.change(lambda bits: bits & ~mask)

    def allocated(self) -> int:
        """The cached bitmap (as of the last change or load)."""
        return self._bits
