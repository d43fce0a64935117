"""What only the etcd store does: endpoint failover, TLS, an unreachable cluster."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from kybernetes.storage import StorageUnavailable, open_store
from tests.support.etcd import Etcd, EtcdCluster, etcd_available
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
            waiting = asyncio.ensure_future(anext(aiter(watch)))
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


async def test_a_stalled_member_is_left_for_another_and_watches_follow(tmp_path: Path) -> None:
    """SIGSTOP the member in use: it keeps its sockets open but answers nothing.
    Reads, writes and a watch move to the other members within seconds."""
    cluster = EtcdCluster(tmp_path, 3).start()
    store = open_store(cluster.url)
    try:
        await store.start()
        first = await store.create("/stall/a", b"1")
        watch = store.watch("/stall/", start_revision=first.revision + 1)
        cluster.members[0].pause()  # the first endpoint: where the store talks
        started = time.monotonic()
        written = None
        while written is None:
            assert time.monotonic() - started < 20, "no write went through"
            try:
                written = await store.create("/stall/b", b"2")
            except StorageUnavailable:  # the write that met the stall, or an election
                continue
        # a write that timed out may still have been applied (as with any etcd client):
        # then the retry finds it, our value
        assert written.succeeded or (written.kv is not None and written.kv.value == b"2")
        assert time.monotonic() - started < 12  # a few seconds, not the whole stall
        batch = await asyncio.wait_for(anext(aiter(watch)), 15)
        assert [ev.kv.key for ev in batch] == ["/stall/b"]  # nothing lost, nothing twice
        assert (await store.get("/stall/a"))[1] == first.kv
        cluster.members[0].resume()
        third = await store.create("/stall/c", b"3")
        assert [ev.kv for ev in await asyncio.wait_for(anext(aiter(watch)), 15)] == [third.kv]
        await watch.aclose()
    finally:
        await store.aclose()
        cluster.stop()


def _leader(cluster: EtcdCluster) -> Etcd:
    """The member the members call leader (from one member's maintenance status)."""
    import json
    import urllib.request

    statuses = {}
    for member in cluster.members:
        request = urllib.request.Request(f"http://{member.endpoint}/v3/maintenance/status",
                                         data=b"{}", method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            statuses[member.name] = json.loads(response.read())
    leader_id = next(iter(statuses.values()))["leader"]
    return next(m for m in cluster.members
                if statuses[m.name]["header"]["member_id"] == leader_id)


async def test_a_stopped_leader_costs_the_follower_in_use_one_write(tmp_path: Path) -> None:
    """SIGSTOP the leader while the store writes through a follower: the write in
    flight is lost with the leader (it may or may not apply) and times out; the
    follower has a new leader by then, so the next writes go through it, not on to
    the next endpoint in the list, which is the stopped leader."""
    cluster = EtcdCluster(tmp_path, 3).start()
    leader = _leader(cluster)
    followers = [m for m in cluster.members if m is not leader]
    store = open_store("etcd://" + ",".join(m.endpoint for m in
                                            (followers[0], leader, followers[1])))
    try:
        await store.start()
        await store.create("/leader/a", b"1")
        leader.pause()
        started, failures, written = time.monotonic(), 0, 0
        while written < 3:
            assert time.monotonic() - started < 20, "no write went through"
            try:
                await store.create(f"/leader/b{failures}-{written}", b"2")
                written += 1
            except StorageUnavailable:  # the write that met the lost leader
                failures += 1
                await asyncio.sleep(0.1)
        assert failures <= 1, f"{failures} writes failed"
        assert time.monotonic() - started < 9  # one request deadline and an election
    finally:
        await store.aclose()
        cluster.stop()


async def test_a_watch_on_a_member_without_a_leader_fails_instead_of_going_silent(
        tmp_path: Path) -> None:
    """Two of three members gone: the last one has no leader and cancels our watch
    (we ask for `hasleader`, as Kubernetes' client does), so the watcher re-lists
    later instead of waiting forever on a stream that will never carry an event."""
    cluster = EtcdCluster(tmp_path, 3).start()
    store = open_store(cluster.url)
    try:
        await store.start()
        watch = store.watch("/noleader/", start_revision=0)
        waiting = asyncio.ensure_future(anext(aiter(watch)))
        await asyncio.sleep(0.5)
        cluster.members[1].stop()
        cluster.members[2].stop()
        with pytest.raises(StorageUnavailable):
            await asyncio.wait_for(waiting, 30)
        await watch.aclose()
    finally:
        await store.aclose()
        cluster.stop()
