"""Both store backends behind one fixture, so every conformance test runs on each."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kybernetes.storage import Event, Store, Watch, open_store
from kybernetes.storage.encryption import TransformingStore
from kybernetes.storage.encryption.providers import AESGCM, PrefixTransformers

EVERY_KEY = PrefixTransformers([(b"k8s:enc:aesgcm:v1:k:", AESGCM(bytes(32)))], "no match")


@pytest.fixture(params=["sqlite", pytest.param("etcd", marks=pytest.mark.etcd),
                        "sqlite+aesgcm"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A started store: a fresh SQLite file, or the session's etcd; and SQLite behind the
    encryption-at-rest wrapper with every key encrypted (it must keep the contract)."""
    if request.param == "etcd":
        url = request.getfixturevalue("etcd_url")
    else:
        url = f"sqlite://{tmp_path}/state.db"
    s = open_store(url)
    if request.param == "sqlite+aesgcm":
        s = TransformingStore(s, lambda key: EVERY_KEY)
    await s.start()
    try:
        yield s
    finally:
        await s.aclose()


@pytest.fixture
def p() -> str:
    """A key prefix of the test's own (etcd is shared by the tests of a worker)."""
    return f"/t{uuid.uuid4().hex[:12]}/"


async def collect(watch: Watch, count: int, *, within: float = 10.0) -> list[Event]:
    """The first `count` events of `watch` (each batch checked to share a revision)."""
    events: list[Event] = []
    async with asyncio.timeout(within):
        async for batch in watch:
            assert len({e.kv.mod_revision for e in batch}) == 1
            events.extend(batch)
            if len(events) >= count:
                break
    return events


async def quiet(watch: Watch, seconds: float = 0.3) -> list[Event]:
    """Events that arrive on `watch` within `seconds` (to check there are none)."""
    events: list[Event] = []
    try:
        async with asyncio.timeout(seconds):
            async for batch in watch:
                events.extend(batch)
    except TimeoutError:
        pass
    return events
