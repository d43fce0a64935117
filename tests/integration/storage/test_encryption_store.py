"""The encryption-at-rest wrapper on each real backend: the backend holds only
ciphertext, every read path gets the object's bytes back, old keys read as stale."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kybernetes.storage import Store, open_store
from kybernetes.storage.encryption import (
    ResourceTransformers,
    TransformingStore,
    Unreadable,
    parse_config,
)
from tests.integration.storage.conftest import collect

KEY_A, KEY_B = bytes(range(32)), bytes(range(1, 33))


def transformers(*keys: tuple[str, bytes], identity: bool = True) -> ResourceTransformers:
    providers = "".join(
        f"      - aesgcm: {{keys: [{{name: {name}, secret: '{base64.b64encode(key).decode()}'"
        "}]}\n" for name, key in keys) + ("      - identity: {}\n" if identity else "")
    return parse_config("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
                        f"resources:\n  - resources: [secrets]\n    providers:\n{providers}")


@pytest.fixture(params=["sqlite", pytest.param("etcd", marks=pytest.mark.etcd)])
async def raw(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    url = f"sqlite://{tmp_path}/state.db" if request.param == "sqlite" else \
        request.getfixturevalue("etcd_url")
    s = open_store(url)
    await s.start()
    try:
        yield s
    finally:
        await s.aclose()


def wrapped(raw: Store, *keys: tuple[str, bytes], identity: bool = True) -> TransformingStore:
    return TransformingStore(raw, transformers(*keys, identity=identity).for_keys(
        {"secrets": "", "configmaps": ""}))


async def test_the_backend_holds_ciphertext_and_every_read_gets_the_value(raw: Store) -> None:
    store = wrapped(raw, ("a", KEY_A))
    ns = f"ns{id(raw)}"
    key = f"/registry/secrets/{ns}/s"
    watch = store.watch(f"/registry/secrets/{ns}/",
                        start_revision=await store.current_revision() + 1)
    try:
        created = await store.create(key, b'{"v":1}')
        updated = await store.update(key, b'{"v":2}', mod_revision=created.revision)
        assert created.kv is not None and created.kv.value == b'{"v":1}'
        assert updated.kv is not None and updated.kv.value == b'{"v":2}'

        _, held = await raw.get(key)
        assert held is not None and held.value.startswith(b"k8s:enc:aesgcm:v1:a:")
        assert b'"v"' not in held.value
        assert (await store.get(key))[1] == updated.kv
        listed = await store.list(f"/registry/secrets/{ns}/")
        assert [kv.value for kv in listed.kvs] == [b'{"v":2}']

        deleted = await store.delete(key)
        assert deleted.kv is not None and deleted.kv.value == b'{"v":2}'
        events = await collect(watch, 3)
        assert [(e.type, e.kv.value) for e in events] == [
            ("PUT", b'{"v":1}'), ("PUT", b'{"v":2}'), ("DELETE", b'{"v":2}')]
        assert events[1].prev_kv is not None and events[1].prev_kv.value == b'{"v":1}'
    finally:
        await watch.aclose()


async def test_unconfigured_resources_pass_through_untouched(raw: Store) -> None:
    store = wrapped(raw, ("a", KEY_A))
    key = f"/registry/configmaps/ns{id(raw)}/c"
    await store.create(key, b'{"plain":true}')
    assert (await raw.get(key))[1].value == b'{"plain":true}'  # type: ignore[union-attr]


async def test_values_of_an_older_key_read_as_stale_until_written_again(raw: Store) -> None:
    key = f"/registry/secrets/ns{id(raw)}/s"
    plain = f"/registry/secrets/ns{id(raw)}/plain"
    await raw.create(plain, b'{"before":"encryption"}')
    old = await wrapped(raw, ("a", KEY_A)).create(key, b'{"v":1}')
    rotated = wrapped(raw, ("b", KEY_B), ("a", KEY_A))

    _, kv = await rotated.get(key)
    assert kv is not None and kv.value == b'{"v":1}' and kv.stale
    _, before = await rotated.get(plain)
    assert before is not None and before.value == b'{"before":"encryption"}' and before.stale
    again = await rotated.update(key, kv.value, mod_revision=old.revision)
    assert again.succeeded
    _, kv = await rotated.get(key)
    assert kv is not None and not kv.stale
    assert (await raw.get(key))[1].value.startswith(b"k8s:enc:aesgcm:v1:b:")  # type: ignore[union-attr]


async def test_a_value_whose_key_is_gone_fails_alone(raw: Store) -> None:
    ns = f"/registry/secrets/ns{id(raw)}/"
    await wrapped(raw, ("a", KEY_A)).create(f"{ns}lost", b'{"v":1}')
    store = wrapped(raw, ("b", KEY_B))
    await store.create(f"{ns}kept", b'{"v":2}')

    listed = await store.list(ns)

    kept, lost = listed.kvs
    assert isinstance(lost.value, Unreadable) and 'key "a"' in lost.value.message
    assert kept.value == b'{"v":2}'
    failed = await store.create(f"{ns}lost", b"{}")  # the current value comes back as is
    assert not failed.succeeded and isinstance(failed.kv.value, Unreadable)  # type: ignore[union-attr]
