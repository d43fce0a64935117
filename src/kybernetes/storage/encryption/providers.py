"""Value transformers: the providers of an EncryptionConfiguration, in Kubernetes' format.

Each follows its namesake in k8s.io/apiserver/pkg/storage/value (the envelope
bytes are the same, so a store written by one is read by the other with the same
keys):

==============  ============================================================
``aescbc``      ``k8s:enc:aescbc:v1:<key>:`` IV (16) ‖ AES-CBC of the PKCS#7-padded value
``aesgcm``      ``k8s:enc:aesgcm:v1:<key>:`` nonce (12) ‖ AES-GCM ciphertext ‖ tag (16);
                the storage key is the additional authenticated data, so a value
                copied to another key does not open
``secretbox``   ``k8s:enc:secretbox:v1:<key>:`` nonce (24) ‖ NaCl secretbox (tag ‖ ciphertext)
``identity``    the value as is; reading a value that starts ``k8s:enc:`` fails
==============  ============================================================

A :class:`PrefixTransformers` is Kubernetes' ``prefixTransformers``: the first
entry writes; on read the first entry whose prefix the value starts with reads
it, and a read by any entry but the first is *stale* (the object should be written
again, under the first). A provider is one such list over its keys nested in the
list over providers, so a rotation ("new key first, old key after") reads both
and writes the new one. All cryptography is the ``cryptography`` package's (and
PyNaCl's for secretbox); nothing here is home-made.
"""

from __future__ import annotations

import os
import threading
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM as _AESGCM

ENCRYPTED = b"k8s:enc:"
AES_BLOCK = 16
GCM_NONCE = 12
SECRETBOX_NONCE = 24
SECRETBOX_OVERHEAD = 16
_SHORT = "the stored data was shorter than the required size"


class _Randomness:
    """IVs and nonces from the OS CSPRNG (os.urandom), read 4 KiB at a time. One
    os.urandom per write releases the GIL each time and hands it to the store's writer
    thread, which costs more than the encryption itself. Every byte is still used
    once: a lock keeps two threads from taking the same bytes, and a forked child
    throws away what its parent had read."""

    BLOCK = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer, self._used = b"", 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._buffer, self._used = b"", 0

    def __call__(self, size: int) -> bytes:
        with self._lock:
            if self._used + size > len(self._buffer):
                self._buffer, self._used = os.urandom(max(self.BLOCK, size)), 0
            start, self._used = self._used, self._used + size
            return self._buffer[start:self._used]


random_bytes = _Randomness()


class TransformError(Exception):
    """A stored value that cannot be turned back into the object's bytes."""


class Transformer(Protocol):
    """Kubernetes' value.Transformer; `context` is the storage key (authenticated data)."""

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        """(the value, stale: it should be written again under the current key)."""

    def to_storage(self, data: bytes, context: bytes) -> bytes: ...


class AESCBC:
    """aescbc: AES in CBC mode with a random IV and PKCS#7 padding (no integrity)."""

    def __init__(self, key: bytes) -> None:
        self._algorithm = algorithms.AES(key)

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        padder = padding.PKCS7(AES_BLOCK * 8).padder()
        padded = padder.update(data) + padder.finalize()
        iv = random_bytes(AES_BLOCK)
        encryptor = Cipher(self._algorithm, modes.CBC(iv)).encryptor()
        return iv + encryptor.update(padded) + encryptor.finalize()

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        if len(data) < AES_BLOCK:
            raise TransformError(_SHORT)
        body = data[AES_BLOCK:]
        if not body or len(body) % AES_BLOCK:
            raise TransformError("the stored data is not a multiple of the block size")
        decryptor = Cipher(self._algorithm, modes.CBC(data[:AES_BLOCK])).decryptor()
        padded = decryptor.update(body) + decryptor.finalize()
        unpadder = padding.PKCS7(AES_BLOCK * 8).unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize(), False
        except ValueError:
            raise TransformError("invalid padding on input") from None


class AESGCM:
    """aesgcm: AES-GCM with a random 96-bit nonce; the storage key is authenticated."""

    def __init__(self, key: bytes) -> None:
        self._aead = _AESGCM(key)

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        nonce = random_bytes(GCM_NONCE)
        return nonce + self._aead.encrypt(nonce, data, context)

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        if len(data) < GCM_NONCE:
            raise TransformError(_SHORT)
        try:
            return self._aead.decrypt(data[:GCM_NONCE], data[GCM_NONCE:], context), False
        except InvalidTag:
            raise TransformError("cipher: message authentication failed") from None


class Secretbox:
    """secretbox: XSalsa20-Poly1305 (NaCl, through PyNaCl) with a random 24-byte nonce."""

    def __init__(self, key: bytes) -> None:
        from nacl.secret import SecretBox

        self._box = SecretBox(key)

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        return bytes(self._box.encrypt(data, random_bytes(SECRETBOX_NONCE)))

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        from nacl.exceptions import CryptoError

        if len(data) < SECRETBOX_NONCE + SECRETBOX_OVERHEAD:
            raise TransformError(_SHORT)
        try:
            return self._box.decrypt(data), False
        except CryptoError:
            raise TransformError("output array was not large enough for encryption") from None


class Identity:
    """identity: no encryption; refuses to hand out a value that is encrypted."""

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        return data

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        if data.startswith(ENCRYPTED):
            raise TransformError("identity transformer tried to read encrypted data")
        return data, False


IDENTITY = Identity()


class PrefixTransformers:
    """Kubernetes' prefixTransformers: the first writes, the first matching reads."""

    def __init__(self, entries: list[tuple[bytes, Transformer]], no_match: str) -> None:
        if not entries:
            raise ValueError("at least one transformer is required")
        self.entries = entries
        self.no_match = no_match

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        errors: list[TransformError] = []
        for i, (prefix, transformer) in enumerate(self.entries):
            if not data.startswith(prefix):
                continue
            try:
                value, stale = transformer.from_storage(data[len(prefix):], context)
            except TransformError as e:
                # identity (no prefix) refusing encrypted data must not hide a later
                # provider; and overlapping prefixes (one provider listed twice while
                # its keys rotate) must each get their try.
                if prefix:
                    errors.append(e)
                continue
            return value, stale or i != 0
        if errors:
            raise errors[0] if len(errors) == 1 else TransformError(
                "[" + ", ".join(str(e) for e in errors) + "]")
        raise TransformError(self.no_match)

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        prefix, transformer = self.entries[0]
        return prefix + transformer.to_storage(data, context)


def named_key(value: bytes) -> str:
    """Which provider and key an encrypted value names (``aescbc key "key1"``), or ""."""
    if not value.startswith(ENCRYPTED):
        return ""
    parts = value[len(ENCRYPTED):len(ENCRYPTED) + 300].split(b":", 3)
    if len(parts) < 4:
        return ""
    provider, _, name = (p.decode("utf-8", "replace") for p in parts[:3])
    return f'{provider} key "{name}"'
