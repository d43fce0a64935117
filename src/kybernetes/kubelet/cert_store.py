"""Where a kubelet keeps its client certificate between rotations.

As the Kubernetes kubelet's certificate FileStore (``--cert-dir``, by default
``<root-dir>/pki``): each certificate and its key go into one new PEM file
``kubelet-client-<YYYY-MM-DD-HH-MM-SS>.pem`` (mode 0600), and the symlink
``kubelet-client-current.pem`` is then pointed at it by renaming a new link over
the old one, so a reader (a restarted kubelet, an admin's kubeconfig that names the
link) sees the old pair or the new pair, never a half-written one.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

PREFIX = "kubelet-client"
CURRENT = f"{PREFIX}-current.pem"


@dataclass(frozen=True)
class ClientCert:
    """A client certificate with its key, and the parsed certificate."""

    cert_pem: bytes
    key_pem: bytes
    cert: x509.Certificate

    @classmethod
    def load(cls, cert_pem: bytes, key_pem: bytes) -> ClientCert:
        """ValueError when the PEM is not a certificate and its matching private key."""
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
        if key.public_key() != cert.public_key():
            raise ValueError("the private key does not match the certificate")
        return cls(cert_pem, key_pem, cert)

    @property
    def not_before(self) -> _dt.datetime:
        return self.cert.not_valid_before_utc

    @property
    def not_after(self) -> _dt.datetime:
        return self.cert.not_valid_after_utc

    @property
    def serial(self) -> str:
        return format(self.cert.serial_number, "x")


def _split(pem: bytes) -> tuple[bytes, bytes]:
    """The CERTIFICATE block(s) and the PRIVATE KEY block of one PEM file."""
    cert: list[bytes] = []
    key: list[bytes] = []
    for block in pem.split(b"-----END ")[:-1]:
        start = block.find(b"-----BEGIN ")
        if start < 0:
            continue
        body = block[start:]
        kind = body[len(b"-----BEGIN "):body.find(b"-----", len(b"-----BEGIN "))]
        full = body + b"-----END " + kind + b"-----\n"
        (key if kind.endswith(b"PRIVATE KEY") else cert).append(full)
    return b"".join(cert), b"".join(key)


class CertStore:
    """The certificate directory of one kubelet."""

    def __init__(self, cert_dir: Path) -> None:
        self.cert_dir = cert_dir

    @property
    def current_path(self) -> Path:
        return self.cert_dir / CURRENT

    def current(self) -> ClientCert | None:
        """The stored pair, or None when there is none; ValueError when it is unreadable."""
        try:
            pem = self.current_path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise ValueError(f"{self.current_path}: {e.strerror}") from None
        cert_pem, key_pem = _split(pem)
        try:
            return ClientCert.load(cert_pem, key_pem)
        except ValueError as e:
            raise ValueError(f"{self.current_path}: {e}") from None

    def update(self, pair: ClientCert, now: _dt.datetime | None = None) -> Path:
        """Write `pair` to a new timestamped file and point the current link at it."""
        self.cert_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = (now or _dt.datetime.now(_dt.UTC)).strftime("%Y-%m-%d-%H-%M-%S")
        path = self.cert_dir / f"{PREFIX}-{stamp}.pem"
        tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pair.cert_pem.rstrip(b"\n") + b"\n" + pair.key_pem)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        link = self.cert_dir / f".{CURRENT}.tmp"
        link.unlink(missing_ok=True)
        os.symlink(path.name, link)
        os.replace(link, self.current_path)
        return path
