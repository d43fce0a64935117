"""What only the etcd store does: endpoint failover, TLS, an unreachable cluster."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kybernetes.storage import StorageUnavailable, open_store
from tests.support.etcd import Etcd, etcd_available
from tests.support.net import free_port

pytestmark = [pytest.mark.etcd,
              pytest.mark.skipif(not etcd_available(), reason="etcd is not installed")]


async def test_a_dead_endpoint_is_skipped_for_the_next_one(etcd_url: str) -> None:
    live = etcd_url.removeprefix("etcd://")
    store = open_store(f"etcd://127.0.0.1:{free_port()},{live}")
    await store.start()
    try:
        created = await store.create("/failover/a", b"v")
        assert created.succeeded
        assert (await store.get("/failover/a"))[1] == created.kv
    finally:
        await store.aclose()


async def test_no_live_endpoint_is_storage_unavailable() -> None:
    store = open_store(f"etcd://127.0.0.1:{free_port()},127.0.0.1:{free_port()}")
    with pytest.raises(StorageUnavailable, match="no etcd endpoint answered"):
        await store.start()
    await store.aclose()


async def test_tls_with_a_client_certificate(tmp_path: Path) -> None:
    etcd = Etcd(tmp_path, tls=True).start()
    try:
        store = open_store(etcd.url, cafile=etcd.cafile, certfile=etcd.certfile,
                           keyfile=etcd.keyfile)
        await store.start()
        try:
            created = await store.create("/tls/a", b"secret")
            watch = store.watch("/tls/", start_revision=created.revision)
            batch = await anext(aiter(watch))
            await watch.aclose()
            assert batch[0].kv == created.kv
        finally:
            await store.aclose()
        anonymous = open_store(etcd.url, cafile=etcd.cafile)  # no client certificate
        with pytest.raises(StorageUnavailable):
            await anonymous.start()
        await anonymous.aclose()
    finally:
        etcd.stop()


async def test_an_etcd_outage_breaks_watches_and_the_store_recovers(tmp_path: Path) -> None:
    etcd = Etcd(tmp_path).start()
    try:
        store = open_store(etcd.url)
        await store.start()
        try:
            created = await store.create("/outage/a", b"v")
            watch = store.watch("/outage/", start_revision=created.revision + 1)
            waiting = asyncio.create_task(anext(aiter(watch)))
            await asyncio.sleep(0.1)
            etcd.stop()
            with pytest.raises(StorageUnavailable):
                await asyncio.wait_for(waiting, 10)
            with pytest.raises(StorageUnavailable):
                await store.get("/outage/a")
            etcd.start()  # same ports, same data
            assert (await store.get("/outage/a"))[1] == created.kv
            watch = store.watch("/outage/", start_revision=created.revision)
            assert (await anext(aiter(watch)))[0].kv == created.kv
            await watch.aclose()
        finally:
            await store.aclose()
    finally:
        etcd.stop()
