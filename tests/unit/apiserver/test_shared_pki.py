"""A PKI shared by several API servers (`--pki-dir`): one CA signs each server's own
serving cert, and etcd members get certs for both ends of a TLS connection."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from kybernetes.apiserver import pki


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_a_server_signs_its_serving_cert_with_the_shared_ca(tmp_path: Path) -> None:
    shared = pki.Location(tmp_path / "shared")
    ca_pem, _ = pki.ensure_ca(shared)
    assert (tmp_path / "shared" / "ca.crt").read_bytes() == ca_pem
    cert_path, _ = pki.serving_cert(tmp_path / "server1", ["10.0.0.2"], ca=shared)
    assert cert_path == tmp_path / "server1" / "pki" / "apiserver.crt"
    assert not (tmp_path / "server1" / "pki" / "ca.key").exists()  # no CA of its own
    cert = _load(cert_path)
    assert cert.issuer == x509.load_pem_x509_certificate(ca_pem).subject
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "10.0.0.2" in {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}


def test_a_peer_cert_serves_and_dials(tmp_path: Path) -> None:
    cert, key = pki.issue_serving_cert(tmp_path, "etcd-1", ["127.0.0.1"], peer=True)
    pki.write_pair(tmp_path / "etcd" / "m.crt", tmp_path / "etcd" / "m.key", (cert, key))
    usages = _load(tmp_path / "etcd" / "m.crt").extensions.get_extension_for_class(
        x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert (tmp_path / "etcd" / "m.key").stat().st_mode & 0o777 == 0o600
