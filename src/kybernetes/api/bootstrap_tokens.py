"""Bootstrap tokens, as Kubernetes and kubeadm shape them (k8s.io/cluster-bootstrap).

A token is ``<id>.<secret>`` (``[a-z0-9]{6}.[a-z0-9]{16}``), kept as the Secret
``bootstrap-token-<id>`` in kube-system of type ``bootstrap.kubernetes.io/token``.
A joining machine learns the cluster CA from the ``cluster-info`` ConfigMap in
kube-public (readable anonymously) and trusts it only when the SHA-256 of its
public key (DER SubjectPublicKeyInfo) is the ``--ca-cert-hash`` it was given.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import re
import secrets
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

TOKEN_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
EXTRA_GROUP_RE = re.compile(r"^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$")
SECRET_TYPE = "bootstrap.kubernetes.io/token"
SECRET_PREFIX = "bootstrap-token-"
NAMESPACE = "kube-system"
BOOTSTRAPPERS = "system:bootstrappers"
USER_PREFIX = "system:bootstrap:"
DEFAULT_NODE_GROUP = "system:bootstrappers:kubeadm:default-node-token"
CLUSTER_INFO = "cluster-info"
PUBLIC_NAMESPACE = "kube-public"
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_token() -> str:
    pick = lambda n: "".join(secrets.choice(_ALPHABET) for _ in range(n))  # noqa: E731
    return f"{pick(6)}.{pick(16)}"


def secret_for(token: str, *, ttl: _dt.timedelta | None, description: str = "",
               groups: tuple[str, ...] = (DEFAULT_NODE_GROUP,),
               now: _dt.datetime | None = None) -> dict[str, Any]:
    """The Secret kubeadm stores for `token` (no expiration when `ttl` is None or 0)."""
    match = TOKEN_RE.match(token)
    if match is None:
        raise ValueError(f"the token {token!r} is not of the form [a-z0-9]{{6}}.[a-z0-9]{{16}}")
    token_id, token_secret = match.groups()
    data = {"token-id": token_id, "token-secret": token_secret,
            "usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true",
            "auth-extra-groups": ",".join(groups)}
    if description:
        data["description"] = description
    if ttl:
        expires = (now or _dt.datetime.now(_dt.UTC)) + ttl
        data["expiration"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
            "metadata": {"name": SECRET_PREFIX + token_id, "namespace": NAMESPACE},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def secret_data(secret: dict[str, Any]) -> dict[str, str]:
    """A Secret's data decoded (undecodable values are left out)."""
    out: dict[str, str] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            out[key] = base64.b64decode(value).decode()
        except (ValueError, TypeError):
            continue
    return out


def expiration(data: dict[str, str]) -> _dt.datetime | None:
    """When the token expires; ValueError for an unparsable value."""
    raw = data.get("expiration")
    if not raw:
        return None
    return _dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))


def time_left(data: dict[str, str], now: _dt.datetime) -> float | None:
    """GetExpiration: seconds until the token expires (<= 0: expired, as is an unparsable
    expiration); None when it never does."""
    try:
        expires = expiration(data)
    except ValueError:
        return 0.0
    return None if expires is None else (expires - now).total_seconds()


def signing_token(secret: dict[str, Any], now: _dt.datetime) -> tuple[str, str] | None:
    """(id, secret) of a bootstrap token Secret fit to sign cluster-info (the
    bootstrap-signer's validateSecretForSigning): named after its id, unexpired,
    marked usage-bootstrap-signing."""
    name = (secret.get("metadata") or {}).get("name", "")
    data = secret_data(secret)
    token_id, token_secret = data.get("token-id", ""), data.get("token-secret", "")
    if (secret.get("type") != SECRET_TYPE or not token_id or not token_secret
            or name != SECRET_PREFIX + token_id or not re.fullmatch("[a-z0-9]{6}", token_id)):
        return None
    left = time_left(data, now)
    if left is not None and left <= 0:
        return None
    if data.get("usage-bootstrap-signing") != "true":
        return None
    return token_id, token_secret


def ca_cert_hash(ca_pem: bytes) -> str:
    """kubeadm's `sha256:<hex>` pin: the hash of the CA's SubjectPublicKeyInfo."""
    cert = x509.load_pem_x509_certificate(ca_pem)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()


def cluster_info(server: str, ca_pem: bytes) -> dict[str, Any]:
    """The kube-public `cluster-info` ConfigMap: a kubeconfig with the server and CA only."""
    kubeconfig = (
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n"
        f"    certificate-authority-data: {base64.b64encode(ca_pem).decode()}\n"
        f"    server: {server}\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\n"
        "preferences: {}\nusers: null\n")
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": CLUSTER_INFO, "namespace": PUBLIC_NAMESPACE},
            "data": {"kubeconfig": kubeconfig}}
