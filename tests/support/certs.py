"""Keys, certificate requests and certificates for tests (cryptography, no openssl CLI)."""

from __future__ import annotations

import base64
import datetime as _dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def subject(cn: str, *orgs: str) -> x509.Name:
    return x509.Name([*(x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def csr_pem(key: ec.EllipticCurvePrivateKey, cn: str, *orgs: str) -> bytes:
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject(cn, *orgs)).sign(
        key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def tampered(pem: bytes) -> bytes:
    """The same request with one byte of its signature flipped."""
    der = bytearray(x509.load_pem_x509_csr(pem).public_bytes(serialization.Encoding.DER))
    der[-3] ^= 0x01
    body = base64.encodebytes(bytes(der)).replace(b"\n", b"")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return b"-----BEGIN CERTIFICATE REQUEST-----\n" + b"\n".join(lines) + \
        b"\n-----END CERTIFICATE REQUEST-----\n"


def csr_object(name: str, pem: bytes, *, signer: str = "kubernetes.io/kube-apiserver-client",
               usages: tuple[str, ...] = ("client auth",), **spec: object) -> dict:
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": name},
            "spec": {"request": base64.b64encode(pem).decode(), "signerName": signer,
                     "usages": list(usages), **spec}}


def client_cert(key: ec.EllipticCurvePrivateKey, cn: str, *orgs: str,
                ca_dir: Path | None = None, days: float = 1.0, offset_days: float = 0.0,
                ) -> bytes:
    """A client certificate for `key`, signed by the CA in `ca_dir` (data dir's pki/), or
    self-signed (a foreign CA) when None; valid from now+offset for `days`."""
    now = _dt.datetime.now(_dt.UTC) + _dt.timedelta(days=offset_days)
    if ca_dir is not None:
        ca = x509.load_pem_x509_certificate((ca_dir / "ca.crt").read_bytes())
        signer = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), None)
        issuer = ca.subject
    else:
        signer, issuer = key, subject(cn, *orgs)
    cert = (x509.CertificateBuilder().subject_name(subject(cn, *orgs)).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(hours=1))
            .not_valid_after(now + _dt.timedelta(days=days))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .sign(signer, hashes.SHA256()))  # type: ignore[arg-type]
    return cert.public_bytes(serialization.Encoding.PEM)
