"""Bootstrap tokens and the CA pin, as kubeadm makes them."""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import subprocess
from pathlib import Path

from kybernetes.api import bootstrap_tokens as bt
from kybernetes.apiserver import pki


def test_tokens_have_kubernetes_format() -> None:
    tokens = {bt.new_token() for _ in range(50)}
    assert len(tokens) == 50 and all(bt.TOKEN_RE.match(t) for t in tokens)


def test_the_secret_is_kubeadms() -> None:
    now = _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC)
    secret = bt.secret_for("abcdef.0123456789abcdef", ttl=_dt.timedelta(hours=24),
                           description="d", now=now)
    assert secret["type"] == "bootstrap.kubernetes.io/token"
    assert secret["metadata"] == {"name": "bootstrap-token-abcdef", "namespace": "kube-system"}
    assert bt.secret_data(secret) == {
        "token-id": "abcdef", "token-secret": "0123456789abcdef", "description": "d",
        "expiration": "2026-01-02T00:00:00Z", "usage-bootstrap-authentication": "true",
        "usage-bootstrap-signing": "true",
        "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token"}
    assert bt.expiration(bt.secret_data(secret)) == now + _dt.timedelta(hours=24)
    forever = bt.secret_data(bt.secret_for("abcdef.0123456789abcdef", ttl=None))
    assert "expiration" not in forever


def test_the_ca_hash_is_the_public_keys_as_kubeadm_documents(tmp_path: Path) -> None:
    ca_pem, _ = pki.ensure_ca(tmp_path)
    # kubeadm's docs: openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout"], input=ca_pem,
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         capture_output=True, check=True).stdout
    assert bt.ca_cert_hash(ca_pem) == "sha256:" + hashlib.sha256(der).hexdigest()
    info = bt.cluster_info("https://10.0.0.1:6443", ca_pem)
    assert base64.b64encode(ca_pem).decode() in info["data"]["kubeconfig"]
