"""Kubeconfig parsing and writing."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
import yaml

from kybernetes.client.kubeconfig import KubeconfigError, load_kubeconfig, write_kubeconfig


def _doc(**user: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "one",
        "clusters": [{"name": "c1", "cluster": {"server": "https://10.0.0.1:6443/",
                                                "certificate-authority": "ca.crt"}},
                     {"name": "c2", "cluster": {"server": "http://127.0.0.1:8080",
                                                "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u1", "user": user}, {"name": "u2", "user": {"token": "t2"}}],
        "contexts": [{"name": "one", "context": {"cluster": "c1", "user": "u1",
                                                "namespace": "team"}},
                     {"name": "two", "context": {"cluster": "c2", "user": "u2"}}],
    }


def test_current_context_with_files_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(b"CA")
    (tmp_path / "tok").write_text("secret\n")
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(_doc(**{
        "client-certificate-data": base64.b64encode(b"CERT").decode(),
        "client-key-data": base64.b64encode(b"KEY").decode(), "tokenFile": "tok"})))
    cfg = load_kubeconfig(path)
    assert cfg.server == "https://10.0.0.1:6443"
    assert (cfg.ca_pem, cfg.cert_pem, cfg.key_pem) == (b"CA", b"CERT", b"KEY")
    assert cfg.token == "secret"
    assert cfg.namespace == "team"
    assert not cfg.insecure


def test_named_context(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(_doc()))
    cfg = load_kubeconfig(path, context="two")
    assert (cfg.server, cfg.token, cfg.insecure) == ("http://127.0.0.1:8080", "t2", True)
    assert cfg.ssl_context() is None


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("current-context"), "no current-context"),
    (lambda d: d.update({"current-context": "nope"}), "context 'nope' not found"),
    (lambda d: d["clusters"][0]["cluster"].pop("server"), "has no server"),
    (lambda d: d["clusters"][0]["cluster"].update({"certificate-authority": "/no/such"}),
     "cannot read certificate-authority"),
])
def test_bad_kubeconfig_is_a_clear_error(tmp_path: Path, mutate, message: str) -> None:
    doc = _doc()
    (tmp_path / "ca.crt").write_bytes(b"CA")
    mutate(doc)
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(KubeconfigError, match=message):
        load_kubeconfig(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match="cannot read kubeconfig"):
        load_kubeconfig(tmp_path / "absent")


def test_written_kubeconfig_reads_back_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "kubeconfig"
    write_kubeconfig(path, server="https://127.0.0.1:6443", ca_pem=b"CA",
                     cert_pem="CERT", key_pem=b"KEY")
    cfg = load_kubeconfig(path)
    assert (cfg.server, cfg.ca_pem, cfg.cert_pem, cfg.key_pem) == (
        "https://127.0.0.1:6443", b"CA", b"CERT", b"KEY")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = yaml.safe_load(path.read_text())
    assert doc["current-context"] == "admin@kybernetes"


def test_write_merges_and_keeps_other_entries(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(_doc()))
    write_kubeconfig(path, server="https://127.0.0.1:1", ca_pem=None, token="tok",
                     user="scheduler", cluster="c1")
    doc = yaml.safe_load(path.read_text())
    assert doc["current-context"] == "scheduler@c1"
    assert [c["name"] for c in doc["clusters"]] == ["c1", "c2"]
    assert {u["name"] for u in doc["users"]} == {"u1", "u2", "scheduler"}
    cfg = load_kubeconfig(path)
    assert (cfg.server, cfg.token) == ("https://127.0.0.1:1", "tok")
    assert load_kubeconfig(path, context="two").token == "t2"
