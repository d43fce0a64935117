"""Compact JWS with RS256, just what service-account tokens need.

Signing and verifying are `cryptography`'s (PKCS#1 v1.5 over SHA-256); this
module only frames them as RFC 7515 compact serialization. Verification refuses
any header algorithm but RS256 (no `none`, no HMAC confusion) and any key id but
ours; the claims' meaning is checked by the caller (:mod:`.tokens`).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from kybernetes.apiserver.serviceaccount.keys import SigningKey, b64url

ALGORITHM = "RS256"


class InvalidToken(Exception):
    """Not a token we signed; the message says why (for logs, never the token)."""


def _json_part(data: dict[str, Any]) -> str:
    return b64url(json.dumps(data, separators=(",", ":")).encode())


def _decode_part(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as e:
        raise InvalidToken("malformed base64url") from e


def _json_of(part: str) -> dict[str, Any]:
    try:
        value = json.loads(_decode_part(part))
    except ValueError as e:
        raise InvalidToken("malformed JSON") from e
    if not isinstance(value, dict):
        raise InvalidToken("not a JSON object")
    return value


def sign(claims: dict[str, Any], key: SigningKey) -> str:
    signing_input = f"{_json_part({'alg': ALGORITHM, 'kid': key.key_id})}.{_json_part(claims)}"
    signature = key.private.sign(signing_input.encode("ascii"), padding.PKCS1v15(),
                                 hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated parts, the header naming a signing algorithm (Kubernetes'
    authenticator passes other bearer tokens on to the next authenticator)."""
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        return "alg" in _json_of(parts[0])
    except InvalidToken:
        return False


def verify(token: str, key: SigningKey) -> dict[str, Any]:
    """The claims of a token signed by `key`; InvalidToken otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("not a compact JWS")
    header = _json_of(parts[0])
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"unexpected algorithm {header.get('alg')!r}")
    if header.get("kid", key.key_id) != key.key_id:
        raise InvalidToken("signed by an unknown key")
    try:
        key.public.verify(_decode_part(parts[2]), f"{parts[0]}.{parts[1]}".encode("ascii"),
                          padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as e:
        raise InvalidToken("invalid signature") from e
    return _json_of(parts[1])
