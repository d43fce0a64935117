"""The watch cache recovers from a failed re-list: it lists again until a list
works, then is ready and follows the store again (issue 14: once one re-list
failed with "etcdserver: leader changed", the cache watched on but stayed
not-ready until the process restarted)."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator
from pathlib import Path

from kybernetes.apiserver.watch_cache import WatchCache
from kybernetes.storage import StorageUnavailable, open_store
from kybernetes.storage.interface import Event, ListResult, Store
from tests.support.poll import eventually


class FlakyStore:
    """A real SQLite store whose watch can be broken and whose next lists fail,
    as an etcd leader change does to them."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.failing_lists = 0
        self.lists = 0
        self._broken = asyncio.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def list(self, prefix: str, **kwargs: object) -> ListResult:
        self.lists += 1
        if self.failing_lists:
            self.failing_lists -= 1
            raise StorageUnavailable("etcd /v3/kv/range: etcdserver: leader changed")
        return await self.inner.list(prefix, **kwargs)  # type: ignore[arg-type]

    def break_watch(self) -> None:
        self._broken.set()

    # builtins.list: in this class `list` is the method above
    def watch(self, prefix: str, *, start_revision: int
              ) -> AsyncIterator[builtins.list[Event]]:
        return self._watch(prefix, start_revision)

    async def _watch(self, prefix: str, start_revision: int
                     ) -> AsyncIterator[builtins.list[Event]]:
        inner = self.inner.watch(prefix, start_revision=start_revision)
        broken = asyncio.ensure_future(self._broken.wait())
        step: asyncio.Future[list[Event]] | None = None
        try:
            while True:
                step = asyncio.ensure_future(anext(aiter(inner)))
                await asyncio.wait({step, broken}, return_when=asyncio.FIRST_COMPLETED)
                if broken.done():
                    self._broken.clear()
                    raise StorageUnavailable("etcd stream broke: leader changed")
                yield step.result()
        finally:
            for task in (broken, step):
                if task is not None and not task.done():
                    task.cancel()
            await asyncio.gather(broken, *(t for t in (step,) if t), return_exceptions=True)
            await inner.aclose()


async def test_a_failed_relist_is_retried_until_the_cache_is_ready_again(tmp_path: Path
                                                                         ) -> None:
    inner = open_store(f"sqlite:///{tmp_path}/state.db")
    await inner.start()
    store = FlakyStore(inner)
    cache = WatchCache(store)  # type: ignore[arg-type]
    try:
        await inner.create("/registry/configmaps/default/a", b'{"metadata":{"name":"a"}}')
        await cache.start()
        assert cache.ready.is_set()
        lists = store.lists
        store.failing_lists = 2
        store.break_watch()
        await eventually(lambda: _async(store.lists == lists + 3 and cache.ready.is_set()),
                         within=15, what="two failed re-lists, then one that works")
        written = await inner.create("/registry/configmaps/default/b",
                                     b'{"metadata":{"name":"b"}}')
        assert await cache.wait_for(written.revision, 10)  # and it follows the store again
        configmaps = cache.for_prefix("/registry/configmaps/")
        assert sorted(configmaps.objects) == ["/registry/configmaps/default/a",
                                              "/registry/configmaps/default/b"]
    finally:
        await cache.aclose()
        await inner.aclose()


async def _async(value: bool) -> bool:
    return value
