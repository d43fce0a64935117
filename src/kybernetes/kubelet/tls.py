"""TLS for the kubelet's HTTPS API.

As the Kubernetes kubelet without a serving-certificate bootstrap: a
self-signed serving certificate made once under `<root>/pki/` (the API server
does not verify kubelet serving certs by default), and client certificates
checked against the cluster CA taken from the kubelet's kubeconfig, so only
holders of certs from that CA (the API server's kubelet-client cert, admins)
get past /healthz.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _self_signed(node_name: str, addresses: list[str]) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{node_name}@kyb-kubelet")])
    sans: list[x509.GeneralName] = [x509.DNSName(node_name), x509.DNSName("localhost")]
    for address in addresses:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            continue
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def serving_context(root: Path, *, node_name: str, addresses: list[str],
                    client_ca: bytes | None) -> ssl.SSLContext:
    """The server context: our cert, and client certs verified against `client_ca`."""
    pki = root / "pki"
    cert_path, key_path = pki / "kubelet.crt", pki / "kubelet.key"
    if not (cert_path.exists() and key_path.exists()):
        pki.mkdir(parents=True, exist_ok=True)
        cert, key = _self_signed(node_name, addresses)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        cert_path.write_bytes(cert)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_path, key_path)
    if client_ca:
        ctx.load_verify_locations(cadata=client_ca.decode())
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx
