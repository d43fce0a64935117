"""The service-account signing key: RSA, made once beside the CA as ``pki/sa.key``.

Every API server of a cluster shares the data directory, so all of them sign and
verify with the same key, and tokens survive a restart. The key id (`kid`) is
Kubernetes' own: the unpadded base64url SHA-256 of the public key's PKIX DER, so
a verifier can pick the key from the JWKS document.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kybernetes.apiserver.pki import Where, pki_dir

KEY_FILE = "sa.key"
KEY_BITS = 2048


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE writes every binary field."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_bytes(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


@dataclass(frozen=True)
class SigningKey:
    private: rsa.RSAPrivateKey
    key_id: str

    @classmethod
    def of(cls, private: rsa.RSAPrivateKey) -> SigningKey:
        der = private.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
        return cls(private, b64url(hashlib.sha256(der).digest()))

    @property
    def public(self) -> rsa.RSAPublicKey:
        return self.private.public_key()

    def jwk(self) -> dict[str, Any]:
        """The public key as the JWKS document lists it."""
        numbers = self.public.public_numbers()
        return {"use": "sig", "kty": "RSA", "kid": self.key_id, "alg": "RS256",
                "n": b64url(_int_bytes(numbers.n)), "e": b64url(_int_bytes(numbers.e))}


def ensure_signing_key(data_dir: Where) -> SigningKey:
    """The cluster's key, made on first use (0600, never overwritten)."""
    path = pki_dir(data_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        pem = private.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption())
        # Written whole beside it, then linked in: a server starting at the same time
        # never reads half a key, and the first link wins.
        tmp = path.with_name(f"{KEY_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another server made it first: use theirs
        finally:
            tmp.unlink()
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path}: not an RSA private key")
    return SigningKey.of(loaded)
