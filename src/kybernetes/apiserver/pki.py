"""The cluster's certificates: one CA, the API server's serving cert, client certs.

This is the only code that makes keys. Layout under ``DATA_DIR/pki/``::

    ca.crt, ca.key                          the cluster CA (10 years)
    apiserver.crt, apiserver.key            serving cert; SANs 127.0.0.1, the bind and
                                            advertise addresses, the `kubernetes`
                                            Service's ClusterIP, localhost, kubernetes,
                                            kubernetes.default, kubernetes.default.svc(...)
    admin.crt, admin.key                    CN=kubernetes-admin, O=system:masters
    apiserver-kubelet-client.crt/.key       CN=kube-apiserver-kubelet-client (API → kubelet)

Several API servers over one store share one PKI directory (``kyb apiserver
--pki-dir``, made by ``kyb up --servers N``): every function takes a :data:`Where`,
either a data dir (its ``pki/``) or a :class:`Location` naming the directory itself.

Everything is made on first start and reused after, so kubeconfigs written
earlier stay valid across restarts. The serving cert is re-issued only when an
address it must name is missing from it. Keys are ECDSA P-256: fast to make and
accepted by kubectl, client-go and Python's ssl. Client certs carry the user in
the CN and the groups in O, as Kubernetes' x509 authenticator reads them.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "kybernetes-ca"
ADMIN_USER = "kubernetes-admin"
MASTERS_GROUP = "system:masters"
KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client"
SERVING_DNS = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
               "kubernetes.default.svc.cluster.local")
_DAY = _dt.timedelta(days=1)
_TEN_YEARS = 3650 * _DAY


@dataclass(frozen=True)
class Location:
    """A PKI directory named as itself (a shared one), not as DATA_DIR/pki."""
    path: Path


Where = str | Path | Location


def pki_dir(data_dir: Where) -> Path:
    return data_dir.path if isinstance(data_dir, Location) else Path(data_dir) / "pki"


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def _name(common_name: str, organizations: tuple[str, ...] | list[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _builder(subject: x509.Name, issuer: x509.Name, public_key: object,
             *, lifetime: _dt.timedelta) -> x509.CertificateBuilder:
    now = _dt.datetime.now(_dt.UTC)
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer)
            .public_key(public_key)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            # backdated for clock skew, but by at most a tenth of a short lifetime, so a
            # kubelet's rotation deadline (70-90% of the way through) still lies ahead
            .not_valid_before(now - min(_DAY, lifetime / 10)).not_valid_after(now + lifetime))


def ensure_ca(data_dir: Where, *, common_name: str = CA_NAME) -> tuple[bytes, bytes]:
    """(ca_cert_pem, ca_key_pem), made on first use (`common_name` for another CA, such
    as etcd's own)."""
    d = pki_dir(data_dir)
    cert_path, key_path = d / "ca.crt", d / "ca.key"
    if cert_path.exists() and key_path.exists():
        return cert_path.read_bytes(), key_path.read_bytes()
    d.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    cert = (_builder(name, name, key.public_key(), lifetime=_TEN_YEARS)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path.read_bytes(), key_path.read_bytes()


def has_ca(data_dir: Where) -> bool:
    """Whether the data dir holds a cluster CA (certificate and key)."""
    d = pki_dir(data_dir)
    return (d / "ca.crt").is_file() and (d / "ca.key").is_file()


def _sign(data_dir: Where, subject: x509.Name, *, server_sans: list[x509.GeneralName] | None,
          lifetime: _dt.timedelta = _TEN_YEARS, peer: bool = False) -> tuple[bytes, bytes]:
    ca_pem, ca_key_pem = ensure_ca(data_dir)
    ca = x509.load_pem_x509_certificate(ca_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH] if peer
              else [ExtendedKeyUsageOID.SERVER_AUTH if server_sans
                    else ExtendedKeyUsageOID.CLIENT_AUTH])
    builder = (_builder(subject, ca.subject, key.public_key(), lifetime=lifetime)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage(usages), critical=False))
    if server_sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(server_sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def issue_client_cert(data_dir: Where, common_name: str,
                      organizations: tuple[str, ...] | list[str] = (), *,
                      lifetime: _dt.timedelta = _TEN_YEARS) -> tuple[bytes, bytes]:
    """A new client cert signed by the cluster CA: (cert_pem, key_pem)."""
    return _sign(data_dir, _name(common_name, organizations), server_sans=None,
                 lifetime=lifetime)


def _stored_client_cert(data_dir: Where, stem: str, common_name: str,
                        organizations: tuple[str, ...]) -> tuple[Path, Path]:
    d = pki_dir(data_dir)
    cert_path, key_path = d / f"{stem}.crt", d / f"{stem}.key"
    if not (cert_path.exists() and key_path.exists()):
        cert, key = issue_client_cert(data_dir, common_name, organizations)
        _write_private(key_path, key)
        cert_path.write_bytes(cert)
    return cert_path, key_path


def admin_cert(data_dir: Where) -> tuple[Path, Path]:
    """The admin client cert (CN=kubernetes-admin, O=system:masters) paths."""
    return _stored_client_cert(data_dir, "admin", ADMIN_USER, (MASTERS_GROUP,))


def kubelet_client_cert(data_dir: Where) -> tuple[Path, Path]:
    """The cert the API server shows to kubelets (logs, exec, port-forward)."""
    return _stored_client_cert(data_dir, "apiserver-kubelet-client", KUBELET_CLIENT_USER,
                               (MASTERS_GROUP,))


def _serving_sans(addresses: list[str]) -> set[str]:
    wanted = {"127.0.0.1", *SERVING_DNS}
    for a in addresses:
        if a and a not in ("0.0.0.0", "::"):
            wanted.add(a)
    return wanted


def _cert_sans(cert_path: Path) -> set[str]:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return set()
    return {str(v) for v in ext.get_values_for_type(x509.IPAddress)} | set(
        ext.get_values_for_type(x509.DNSName))


def _sans(values: list[str]) -> list[x509.GeneralName]:
    sans: list[x509.GeneralName] = []
    for value in values:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(value)))
        except ValueError:
            sans.append(x509.DNSName(value))
    return sans


def issue_serving_cert(data_dir: Where, common_name: str, names: list[str], *,
                       peer: bool = False) -> tuple[bytes, bytes]:
    """A new serving cert signed by the cluster CA for these addresses and DNS names
    (the dashboard's when it is served off loopback): (cert_pem, key_pem). `peer`: for
    client authentication too (an etcd member's, which dials its peers with it)."""
    return _sign(data_dir, _name(common_name), server_sans=_sans(names), peer=peer)


def write_pair(cert_path: Path, key_path: Path, pair: tuple[bytes, bytes]) -> None:
    """A cert and its key (0600) on disk."""
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    _write_private(key_path, pair[1])
    cert_path.write_bytes(pair[0])


def api_serving_names(addresses: list[str]) -> list[str]:
    """What an API server's serving cert names: these addresses, loopback and the
    `kubernetes` Service's DNS names."""
    return sorted(_serving_sans(addresses))


def serving_cert(data_dir: Where, addresses: list[str], *,
                 ca: Where | None = None) -> tuple[Path, Path]:
    """The serving cert paths (in `data_dir`'s PKI, signed by the CA of `ca`, by default
    the same); re-issued when an address it must name is missing."""
    d = pki_dir(data_dir)
    cert_path, key_path = d / "apiserver.crt", d / "apiserver.key"
    wanted = _serving_sans(addresses)
    if key_path.exists() and wanted <= _cert_sans(cert_path):
        return cert_path, key_path
    d.mkdir(parents=True, exist_ok=True)
    cert, key = _sign(data_dir if ca is None else ca, _name("kube-apiserver"),
                      server_sans=_sans(sorted(wanted)))
    _write_private(key_path, key)
    cert_path.write_bytes(cert)
    return cert_path, key_path
