"""Encryption at rest, the pure parts: Kubernetes' envelope bytes, the provider chain
(first writes, all read, stale), the EncryptionConfiguration checks, key lookup."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.secret import SecretBox

from kybernetes.api.errors import InternalError
from kybernetes.apiserver.codec import decode_stored
from kybernetes.apiserver.watch_cache import Entry
from kybernetes.storage.encryption import (
    ConfigError,
    TransformError,
    TransformingStore,
    Unreadable,
    ensure_default_config,
    load_config,
    parse_config,
)
from kybernetes.storage.interface import KeyValue

KEY_A, KEY_B = bytes(range(32)), bytes(range(100, 132))
SECRET_KEY = "/registry/secrets/default/s"
VALUE = orjson.dumps({"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s"},
                      "data": {"password": base64.b64encode(b"hunter2").decode()}})
AAD = SECRET_KEY.encode()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def config(*providers: str, resources: str = "[secrets]") -> str:
    return ("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
            f"resources:\n  - resources: {resources}\n    providers:\n"
            + "".join(f"      - {p}\n" for p in providers))


def entries(*pairs: tuple[str, str]) -> str:
    """A configuration of several entries, each (resources, one provider)."""
    return ("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
            "resources:\n" + "".join(f"  - resources: {r}\n    providers: [{{{p}}}]\n"
                                      for r, p in pairs))


def keyed(provider: str, name: str, key: bytes) -> str:
    return f"{provider}: {{keys: [{{name: {name}, secret: '{b64(key)}'}}]}}"


def secrets_transformer(*providers: str):  # type: ignore[no-untyped-def]
    found = parse_config(config(*providers)).for_resource("", "secrets")
    assert found is not None
    return found


# -- the stored bytes are Kubernetes' ----------------------------------------------------

def test_aescbc_stores_prefix_iv_and_pkcs7_padded_cbc_ciphertext() -> None:
    stored = secrets_transformer(keyed("aescbc", "key1", KEY_A)).to_storage(VALUE, AAD)

    prefix = b"k8s:enc:aescbc:v1:key1:"
    assert stored.startswith(prefix) and b"hunter2" not in stored
    iv, body = stored[len(prefix):len(prefix) + 16], stored[len(prefix) + 16:]
    assert len(body) % 16 == 0 and len(body) > len(VALUE)  # padded, always
    decryptor = Cipher(algorithms.AES(KEY_A), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    padded = decryptor.update(body) + decryptor.finalize()
    assert unpadder.update(padded) + unpadder.finalize() == VALUE


def test_aesgcm_stores_prefix_nonce_and_ciphertext_with_tag_bound_to_the_storage_key() -> None:
    transformer = secrets_transformer(keyed("aesgcm", "gcm", KEY_B))
    stored = transformer.to_storage(VALUE, AAD)

    prefix = b"k8s:enc:aesgcm:v1:gcm:"
    body = stored[len(prefix):]
    assert stored.startswith(prefix) and len(body) == 12 + len(VALUE) + 16
    assert AESGCM(KEY_B).decrypt(body[:12], body[12:], AAD) == VALUE
    with pytest.raises(TransformError, match="message authentication failed"):
        transformer.from_storage(stored, b"/registry/secrets/default/other")  # moved value


def test_secretbox_stores_prefix_nonce_and_nacl_box() -> None:
    stored = secrets_transformer(keyed("secretbox", "box", KEY_A)).to_storage(VALUE, AAD)

    prefix = b"k8s:enc:secretbox:v1:box:"
    body = stored[len(prefix):]
    assert stored.startswith(prefix) and len(body) == 24 + 16 + len(VALUE)
    assert SecretBox(KEY_A).decrypt(body[24:], body[:24]) == VALUE


def test_each_write_uses_a_fresh_iv() -> None:
    transformer = secrets_transformer(keyed("aescbc", "key1", KEY_A))
    assert transformer.to_storage(VALUE, AAD) != transformer.to_storage(VALUE, AAD)


def test_a_value_kubernetes_wrote_with_aescbc_reads() -> None:
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(KEY_A), modes.CBC(iv)).encryptor()
    body = encryptor.update(padder.update(VALUE) + padder.finalize()) + encryptor.finalize()
    stored = b"k8s:enc:aescbc:v1:key1:" + iv + body

    transformer = secrets_transformer(keyed("aescbc", "key1", KEY_A))

    assert transformer.from_storage(stored, AAD) == (VALUE, False)


# -- the provider chain ------------------------------------------------------------------

def test_the_first_provider_writes_and_every_provider_reads() -> None:
    old = secrets_transformer(keyed("aescbc", "a", KEY_A))
    rotated = secrets_transformer(keyed("aescbc", "b", KEY_B), keyed("aescbc", "a", KEY_A))
    by_a = old.to_storage(VALUE, AAD)

    assert rotated.from_storage(by_a, AAD) == (VALUE, True)  # stale: not the writer's key
    by_b = rotated.to_storage(VALUE, AAD)
    assert by_b.startswith(b"k8s:enc:aescbc:v1:b:")
    assert rotated.from_storage(by_b, AAD) == (VALUE, False)


def test_a_second_key_of_one_provider_reads_as_stale() -> None:
    both = secrets_transformer(
        f"aesgcm: {{keys: [{{name: b, secret: '{b64(KEY_B)}'}}, "
        f"{{name: a, secret: '{b64(KEY_A)}'}}]}}")
    by_a = secrets_transformer(keyed("aesgcm", "a", KEY_A)).to_storage(VALUE, AAD)

    assert both.from_storage(by_a, AAD) == (VALUE, True)
    assert both.to_storage(VALUE, AAD).startswith(b"k8s:enc:aesgcm:v1:b:")


def test_identity_last_reads_plain_values_as_stale_and_never_encrypted_ones() -> None:
    transformer = secrets_transformer(keyed("aescbc", "key1", KEY_A), "identity: {}")

    assert transformer.from_storage(VALUE, AAD) == (VALUE, True)
    by_other_key = secrets_transformer(keyed("aescbc", "gone", KEY_B)).to_storage(VALUE, AAD)
    with pytest.raises(TransformError, match="no matching key was found"):
        transformer.from_storage(by_other_key, AAD)


def test_identity_first_writes_plain_and_still_reads_encrypted_values() -> None:
    transformer = secrets_transformer("identity: {}", keyed("aescbc", "key1", KEY_A))
    encrypted = secrets_transformer(keyed("aescbc", "key1", KEY_A)).to_storage(VALUE, AAD)

    assert transformer.to_storage(VALUE, AAD) == VALUE
    assert transformer.from_storage(encrypted, AAD) == (VALUE, True)


def test_without_identity_a_plain_value_does_not_read() -> None:
    with pytest.raises(TransformError, match="no matching prefix found"):
        secrets_transformer(keyed("aescbc", "key1", KEY_A)).from_storage(VALUE, AAD)


@pytest.mark.parametrize("provider", ["aesgcm", "secretbox"])
def test_a_wrong_secret_under_the_same_key_name_fails_cleanly(provider: str) -> None:
    """Authenticated providers always notice (aescbc is not authenticated: a wrong key
    yields valid-looking padding about once in 256 tries, as in Kubernetes)."""
    stored = secrets_transformer(keyed(provider, "key1", KEY_A)).to_storage(VALUE, AAD)
    with pytest.raises(TransformError):
        secrets_transformer(keyed(provider, "key1", KEY_B)).from_storage(stored, AAD)


# -- the configuration -------------------------------------------------------------------

def test_resources_are_looked_up_exactly_then_by_group_wildcard_then_everything() -> None:
    transformers = parse_config(entries(
        ("[secrets, deployments.apps]", keyed("aescbc", "a", KEY_A)),
        ("['*.']", keyed("aesgcm", "b", KEY_B)),
        ("['*.*']", keyed("secretbox", "c", KEY_A))))

    def writer(group: str, resource: str) -> bytes:
        found = transformers.for_resource(group, resource)
        assert found is not None
        return found.to_storage(b"{}", b"k")[:len("k8s:enc:secretbox:v1:c:")]

    assert writer("", "secrets").startswith(b"k8s:enc:aescbc:v1:a:")
    assert writer("apps", "deployments").startswith(b"k8s:enc:aescbc:v1:a:")
    assert writer("", "configmaps").startswith(b"k8s:enc:aesgcm:v1:b:")
    assert writer("example.com", "widgets").startswith(b"k8s:enc:secretbox:v1:")


def test_an_unnamed_resource_is_not_transformed() -> None:
    assert parse_config(config(keyed("aescbc", "a", KEY_A))).for_resource("", "pods") is None


def test_storage_keys_map_to_their_resources() -> None:
    transformers = parse_config(config(keyed("aescbc", "a", KEY_A),
                                       resources="[secrets, deployments.apps, widgets.ex.com]"))
    lookup = transformers.for_keys({"secrets": "", "deployments": "apps", "pods": ""})

    for key in ("/registry/secrets/ns/a", "/registry/deployments/ns/d",
                "/registry/ex.com/widgets/ns/w"):
        assert lookup(key) is not None, key
    for key in ("/registry/pods/ns/p", "/registry/ranges/serviceips", "/registry/ex.com/x",
                "/other/secrets/ns/a", "/registry/secrets"):
        assert lookup(key) is None, key


@pytest.mark.parametrize(("text", "problem"), [
    (config(keyed("aescbc", "a", b"short")),
     "resources[0].providers[0].aescbc.keys[0].secret: Invalid value: \"REDACTED\": secret is "
     "not of the expected length, got 5, expected one of [16 24 32]"),
    (config(keyed("secretbox", "a", bytes(16))), "expected one of [32]"),
    (config("aescbc: {keys: [{name: a, secret: 'not base64!'}]}"),
     "resources[0].providers[0].aescbc.keys[0].secret: Invalid value: \"REDACTED\": secrets "
     "must be base64 encoded"),
    (config(f"aescbc: {{keys: [{{secret: '{b64(KEY_A)}'}}]}}"),
     "resources[0].providers[0].aescbc.keys[0].name: Required value"),
    (config("aescbc: {keys: []}"), "resources[0].providers[0].aescbc.keys: Required value"),
    (config("aesgcb: {keys: []}"), 'resources[0].providers[0].aesgcb: unknown field'),
    (config("kms: {name: x, endpoint: 'unix:///k.sock'}"),
     "resources[0].providers[0].kms: KMS providers are not supported"),
    (config(f"{{identity: {{}}, {keyed('aescbc', 'a', KEY_A)}}}"),
     "resources[0].providers[0]: more than one provider specified in a single element"),
    (config("identity: {}", resources="['*']"),
     "resources[0].resources[0]: Invalid value: '*': use '*.' to encrypt all the resources"),
    (config("identity: {}", resources="[Secrets]"), "should not contain capital letters"),
    (config("identity: {}", resources="['secrets.*']"),
     "encrypting the same resource across groups is not supported"),
    (config("identity: {}", resources="[secrets, secrets]"),
     "the same resource cannot be specified multiple times"),
    (config("identity: {}", resources="[secrets, '*.']"), "overlapping resources"),
    (config("identity: {}", resources="[]"), "resources[0].resources: Required value"),
    (config("identity: {}").replace("apiserver.config.k8s.io/v1", "v1"),
     "apiVersion: Unsupported value: 'v1'"),
    (config("identity: {}").replace("EncryptionConfiguration", "EncryptionConfig"),
     "kind: Unsupported value: 'EncryptionConfig'"),
    ("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n",
     "resources: Required value"),
    ("resources: [", "not YAML or JSON"),
    ("- a\n- b\n", "(top level): must be an EncryptionConfiguration object"),
    ("", "is empty"),
])
def test_a_bad_configuration_is_one_line_naming_the_field(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    message = str(caught.value)
    assert problem in message
    assert "\n" not in message and KEY_A.hex() not in message


def test_a_resource_masked_by_an_earlier_wildcard_is_refused() -> None:
    text = entries(("['*.*']", "identity: {}"), ("[secrets]", "identity: {}"))
    with pytest.raises(ConfigError, match='resource "secrets" is masked by earlier rule "'
                                          r'\*\.\*"'):
        parse_config(text)


def test_a_resource_named_in_two_entries_reads_with_both() -> None:
    text = entries(("[secrets]", keyed("aescbc", "b", KEY_B)),
                   ("[secrets]", keyed("aescbc", "a", KEY_A)))
    both = parse_config(text).for_resource("", "secrets")
    by_a = secrets_transformer(keyed("aescbc", "a", KEY_A)).to_storage(VALUE, AAD)
    assert both is not None and both.from_storage(by_a, AAD) == (VALUE, True)


def test_json_configuration_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "enc.json"
    path.write_text(orjson.dumps({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
        "resources": [{"resources": ["secrets"],
                       "providers": [{"aesgcm": {"keys": [{"name": "k", "secret": b64(KEY_A)}]}},
                                     {"identity": {}}]}]}).decode())
    assert load_config(path).for_resource("", "secrets") is not None


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="error opening encryption provider configuration"):
        load_config(tmp_path / "nope.yaml")


def test_the_default_configuration_is_made_once_private_and_encrypts_secrets(
        tmp_path: Path) -> None:
    path = ensure_default_config(tmp_path / "pki" / "encryption-config.yaml")
    first = path.read_text()

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_default_config(path).read_text() == first  # reused, never rewritten
    secrets = load_config(path).for_resource("", "secrets")
    assert secrets is not None
    assert secrets.to_storage(VALUE, AAD).startswith(b"k8s:enc:aescbc:v1:key1:")
    assert secrets.from_storage(VALUE, AAD) == (VALUE, True)  # identity reads old values
    assert list(tmp_path.joinpath("pki").iterdir()) == [path]  # no temporary file left


# -- what an unreadable value becomes ----------------------------------------------------

def test_an_undecryptable_value_is_an_internal_error_naming_both_keys() -> None:
    stored = secrets_transformer(keyed("aescbc", "keyA", KEY_A)).to_storage(VALUE, AAD)
    store = TransformingStore(None, parse_config(config(  # type: ignore[arg-type]
        keyed("aescbc", "keyB", KEY_B), "identity: {}")).for_keys({"secrets": ""}))

    kv = store.read(KeyValue(SECRET_KEY, stored, 3, 4))

    assert isinstance(kv.value, Unreadable) and kv.value == stored
    with pytest.raises(InternalError) as caught:
        decode_stored(kv.value, kv.mod_revision)
    assert caught.value.message == (
        f'Internal error occurred: unable to transform key "{SECRET_KEY}": no matching key was '
        'found for the provided AES transformer (the value is stored with aescbc key "keyA")')
    with pytest.raises(InternalError):
        _ = Entry.of(kv).obj  # the watch cache's lazy decode fails the same way


def test_an_encrypted_value_of_a_resource_no_longer_configured_does_not_read() -> None:
    stored = secrets_transformer(keyed("aescbc", "keyA", KEY_A)).to_storage(VALUE, AAD)
    store = TransformingStore(None, parse_config(config(  # type: ignore[arg-type]
        "identity: {}", resources="[configmaps]")).for_keys({"secrets": ""}))

    kv = store.read(KeyValue(SECRET_KEY, stored, 3, 4))

    assert isinstance(kv.value, Unreadable)
    assert "identity transformer tried to read encrypted data" in kv.value.message
    plain = KeyValue(SECRET_KEY, VALUE, 3, 4)
    assert store.read(plain) is plain  # untouched, not copied


def test_ivs_and_nonces_are_never_handed_out_twice() -> None:
    from kybernetes.storage.encryption.providers import random_bytes

    taken = [random_bytes(12) for _ in range(2000)]  # several 4 KiB reads of the OS CSPRNG
    assert len(set(taken)) == len(taken) and {len(t) for t in taken} == {12}
    assert len(random_bytes(10000)) == 10000
