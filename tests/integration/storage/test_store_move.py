"""The SQLite -> etcd move of `kyb up --servers N` (cli/store_move.py) on a real SQLite
file and a real etcd (TLS): every live key arrives byte for byte in txn-sized batches
(many keys, one large value), above SQLite's revision, with etcd's history compacted;
`state.db` goes only after success; a non-empty etcd or too large a revision gap is
refused with `state.db` untouched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kybernetes.cli import store_move
from kybernetes.cli.errors import CliError
from kybernetes.cli.servers import EtcdTls
from kybernetes.storage import CompactedError
from kybernetes.storage.etcd import EtcdStore
from kybernetes.storage.sqlite import SqliteStore
from tests.support.etcd import Etcd, etcd_available

pytestmark = [pytest.mark.etcd,
              pytest.mark.skipif(not etcd_available(), reason="etcd is not installed")]


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[Etcd]:
    member = Etcd(tmp_path / "etcd", tls=True).start()
    try:
        yield member
    finally:
        member.stop()


def _tls(etcd: Etcd) -> EtcdTls:
    return EtcdTls(Path(etcd.cafile), Path(etcd.certfile), Path(etcd.keyfile))


async def _one_server_store(root: Path) -> tuple[dict[str, bytes], int]:
    """A state.db with 300 keys (one of 600 KiB), updates and deletes: its live keys
    and its revision (well above the key count)."""
    store = SqliteStore(root / "state.db")
    await store.start()
    live: dict[str, bytes] = {}
    try:
        for i in range(300):
            key, value = f"/registry/configmaps/ns/cm-{i:03d}", b'{"n": %d}' % i
            assert (await store.create(key, value)).succeeded
            live[key] = value
        big = "/registry/secrets/ns/big"
        live[big] = b"k8s:enc:aesgcm:v1:key1:" + bytes(range(256)) * 2400
        assert (await store.create(big, live[big])).succeeded
        for i in range(0, 300, 3):
            key = f"/registry/configmaps/ns/cm-{i:03d}"
            _, kv = await store.get(key)
            assert kv is not None
            live[key] = b'{"n": "updated"}'
            assert (await store.update(key, live[key], mod_revision=kv.mod_revision)).succeeded
        for i in range(1, 300, 10):
            key = f"/registry/configmaps/ns/cm-{i:03d}"
            assert (await store.delete(key)).succeeded
            del live[key]
        return live, await store.current_revision()
    finally:
        await store.aclose()


async def test_every_key_moves_above_sqlites_revision(tmp_path: Path, etcd: Etcd) -> None:
    live, revision = await _one_server_store(tmp_path)
    moved = await store_move.sqlite_to_etcd(tmp_path, etcd.url, _tls(etcd))
    assert moved.keys == len(live) and moved.sqlite_revision == revision
    assert not (tmp_path / "state.db").exists() and not store_move.pending(tmp_path)
    assert (tmp_path / store_move.KEPT_COPY).exists()
    store = EtcdStore(etcd.url, cafile=etcd.cafile, certfile=etcd.certfile,
                      keyfile=etcd.keyfile)
    await store.start()
    try:
        found = await store.list("")
        assert {kv.key: kv.value for kv in found.kvs} == live
        assert min(kv.mod_revision for kv in found.kvs) > revision
        assert found.revision == moved.etcd_revision
        with pytest.raises(CompactedError):  # an old resourceVersion: 410, list again
            await store.list("/registry/", revision=revision)
    finally:
        await store.aclose()
    kept = SqliteStore(tmp_path / store_move.KEPT_COPY)  # the way back by hand
    await kept.start()
    try:
        assert await kept.current_revision() == revision
    finally:
        await kept.aclose()


async def test_a_refused_move_leaves_state_db(tmp_path: Path, etcd: Etcd,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    await _one_server_store(tmp_path)
    monkeypatch.setattr(store_move, "MAX_REVISION_GAP", 100)
    with pytest.raises(CliError, match="more than 100 is refused"):
        await store_move.sqlite_to_etcd(tmp_path, etcd.url, _tls(etcd))
    assert store_move.pending(tmp_path)
    monkeypatch.undo()
    store = EtcdStore(etcd.url, cafile=etcd.cafile, certfile=etcd.certfile,
                      keyfile=etcd.keyfile)
    await store.start()
    try:
        assert (await store.create("/other", b"x")).succeeded
    finally:
        await store.aclose()
    with pytest.raises(CliError, match="already holds 1 keys"):
        await store_move.sqlite_to_etcd(tmp_path, etcd.url, _tls(etcd))
    assert store_move.pending(tmp_path)
    assert not list(tmp_path.glob(f"{store_move.KEPT_COPY}*"))  # nor its .tmp
