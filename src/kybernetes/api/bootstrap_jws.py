"""Detached JWS over cluster-info, as k8s.io/cluster-bootstrap/token/jws makes them.

The bootstrap-signer controller signs the kube-public ``cluster-info`` ConfigMap's
``kubeconfig`` with every signing bootstrap token and stores each signature as
``jws-kubeconfig-<token-id>``; a joining machine that holds the token recomputes it,
which proves the server that answered knows the token (the CA pin proves the CA).
The format is RFC 7515's compact serialization with the payload elided
(Appendix F): ``BASE64URL(header)..BASE64URL(HMAC-SHA256)``, the protected header
``{"alg":"HS256","kid":"<token-id>"}``, keyed by the token secret zero-padded to
32 bytes (go-jose refuses shorter HS256 keys; kube pads).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

SIGNATURE_PREFIX = "jws-kubeconfig-"  # bootstrapapi.JWSSignatureKeyPrefix
KUBECONFIG_KEY = "kubeconfig"  # bootstrapapi.KubeConfigKey
_MIN_KEY_BYTES = 32


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def detached_signature(content: str, token_id: str, token_secret: str) -> str:
    """ComputeDetachedSignature: the JWS of `content` without its payload part."""
    key = token_secret.encode().ljust(_MIN_KEY_BYTES, b"\0")
    header = _b64url(json.dumps({"alg": "HS256", "kid": token_id},
                                separators=(",", ":")).encode())
    signing_input = f"{header}.{_b64url(content.encode())}".encode()
    return f"{header}..{_b64url(hmac.new(key, signing_input, hashlib.sha256).digest())}"


def signature_is_valid(signature: str, content: str, token_id: str, token_secret: str) -> bool:
    """DetachedTokenIsValid, compared in constant time."""
    return hmac.compare_digest(signature.encode(),
                               detached_signature(content, token_id, token_secret).encode())
