"""Informer re-list logic, with a scripted fake client (no network)."""

from __future__ import annotations

import asyncio
from typing import Any

from kybernetes.api import errors
from kybernetes.api.resources import CONFIGMAPS
from kybernetes.client import Informer, WatchEvent


def obj(name: str, rv: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": rv}}


class ScriptedWatch:
    def __init__(self, events: list[WatchEvent], end: BaseException | None) -> None:
        self.events, self.end = list(events), end

    async def __aenter__(self) -> ScriptedWatch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __aiter__(self) -> ScriptedWatch:
        return self

    async def __anext__(self) -> WatchEvent:
        if self.events:
            return self.events.pop(0)
        if self.end is not None:
            end, self.end = self.end, None
            raise end
        await asyncio.Event().wait()  # stays open
        raise StopAsyncIteration


class FakeClient:
    """First list a+b at rv 10; the watch sends one update then 410 Gone;
    the re-list shows b changed, a gone, c new."""

    def __init__(self) -> None:
        self.lists = [
            {"metadata": {"resourceVersion": "10"}, "items": [obj("a", "1"), obj("b", "2")]},
            {"metadata": {"resourceVersion": "20"}, "items": [obj("b", "15"), obj("c", "16")]},
        ]
        self.watch_rvs: list[str | None] = []

    async def list_all(self, resource: Any, **kwargs: Any) -> dict[str, Any]:
        return self.lists.pop(0)

    def watch(self, resource: Any, **kwargs: Any) -> ScriptedWatch:
        self.watch_rvs.append(kwargs.get("resource_version"))
        if len(self.watch_rvs) == 1:
            return ScriptedWatch([WatchEvent("MODIFIED", obj("a", "11")),
                                  WatchEvent("BOOKMARK", {"metadata": {"resourceVersion": "12"}})],
                                 errors.Gone("too old resource version"))
        return ScriptedWatch([], None)


async def run_through_relist(informer: Informer, client: FakeClient
                             ) -> list[tuple[str, str, str]]:
    """What the handlers saw, as (event, name, resourceVersion), once it watches again."""
    log: list[tuple[str, str, str]] = []
    informer.add_handler(
        on_add=lambda o: log.append(("add", o["metadata"]["name"],
                                     o["metadata"]["resourceVersion"])),
        on_update=lambda a, b: log.append(("update", b["metadata"]["name"],
                                           b["metadata"]["resourceVersion"])),
        on_delete=lambda o: log.append(("delete", o["metadata"]["name"],
                                        o["metadata"]["resourceVersion"])))
    await informer.start()
    try:
        async with asyncio.timeout(5):
            while len(client.watch_rvs) < 2:  # noqa: ASYNC110 - polling a plain list
                await asyncio.sleep(0.01)
    finally:
        await informer.aclose()
    return log


async def test_relists_after_gone_and_reconciles_the_cache() -> None:
    client = FakeClient()
    informer = Informer(client, CONFIGMAPS)  # type: ignore[arg-type]
    log = await run_through_relist(informer, client)
    assert client.watch_rvs == ["10", "20"]  # watched from each list's resourceVersion
    assert log == [("add", "a", "1"), ("add", "b", "2"), ("update", "a", "11"),
                   ("delete", "a", "11"), ("update", "b", "15"), ("add", "c", "16")]
    assert sorted(informer.keys()) == ["ns/b", "ns/c"]
    b = informer.get("ns/b")
    assert b is not None
    assert b["kind"] == "ConfigMap"
    assert informer.resource_version == "20"


async def test_an_object_not_kept_is_neither_cached_nor_handed_on() -> None:
    """`keep` refuses c always and a once it changes: a leaves as a delete."""
    client = FakeClient()
    informer = Informer(client, CONFIGMAPS,  # type: ignore[arg-type]
                        keep=lambda o: o["metadata"]["name"] != "c" and
                        o["metadata"]["resourceVersion"] != "11")
    log = await run_through_relist(informer, client)
    assert log == [("add", "a", "1"), ("add", "b", "2"), ("delete", "a", "1"),
                   ("update", "b", "15")]
    assert informer.keys() == ["ns/b"]


async def test_late_handler_is_replayed_the_cache() -> None:
    client = FakeClient()
    informer = Informer(client, CONFIGMAPS)  # type: ignore[arg-type]
    await informer.start()
    try:
        async with asyncio.timeout(5):
            await informer.wait_synced()
        seen: list[str] = []
        informer.add_handler(on_add=lambda o: seen.append(o["metadata"]["name"]))
        assert sorted(seen) == sorted(k.split("/")[1] for k in informer.keys())
    finally:
        await informer.aclose()
