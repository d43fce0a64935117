"""The CSR signing controller: issues approved requests with the cluster CA.

Follows Kubernetes' ``pkg/controller/certificates/signer`` for the signers
``kubernetes.io/kube-apiserver-client`` and ``kubernetes.io/kube-apiserver-client-kubelet``:
a request that is Approved (not Denied, not Failed), has no certificate yet and
names one of these signers is checked against the signer's rules. A violation adds
a ``Failed`` condition (reason ``SignerValidationFailure``, the rule's message); a
request that passes gets a certificate valid for its ``expirationSeconds`` (at
least 10 minutes, at most the configured maximum, never past the CA) written
through ``/status``. Other signers, ``kubernetes.io/legacy-unknown`` included, are
left alone. The CA key is read once, from the files kube-controller-manager's
``--cluster-signing-cert-file``/``--cluster-signing-key-file`` name.
"""

from __future__ import annotations

import base64
import datetime as _dt
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from kybernetes.api import certificates as certs
from kybernetes.api.meta import now_rfc3339
from kybernetes.api.resources import CERTIFICATE_SIGNING_REQUESTS
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers.base import Controller, Obj, deep_copy

log = logging.getLogger("kybernetes.controllers.csr_signing")

DEFAULT_MAX_LIFETIME = _dt.timedelta(days=365)  # --cluster-signing-duration 8760h
_MIN_LIFETIME = _dt.timedelta(minutes=10)
_BACKDATE = _dt.timedelta(minutes=5)
_SHORT = _dt.timedelta(hours=8)

# The signers issued here, and the rule each applies to a request.
Rule = Callable[[x509.CertificateSigningRequest, list[str]], None]
SIGNERS: dict[str, Rule] = {
    certs.KUBE_APISERVER_CLIENT: lambda csr, usages: certs.validate_apiserver_client(usages),
    certs.KUBE_APISERVER_CLIENT_KUBELET: certs.validate_kubelet_client,
}

_EXTENDED = {
    "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "s/mime": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "any": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
}
_KEY_USAGE = {  # usage → x509.KeyUsage argument
    "signing": "digital_signature", "digital signature": "digital_signature",
    "content commitment": "content_commitment", "key encipherment": "key_encipherment",
    "key agreement": "key_agreement", "data encipherment": "data_encipherment",
    "cert sign": "key_cert_sign", "crl sign": "crl_sign",
    "encipher only": "encipher_only", "decipher only": "decipher_only",
}


class CertificateAuthority:
    """The CA certificate and key that sign, loaded from PEM files."""

    def __init__(self, cert_file: str | Path, key_file: str | Path) -> None:
        self.cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
        key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise ValueError(f"{key_file}: the CA key must be ECDSA or RSA")
        self.key = key

    def sign(self, csr: x509.CertificateSigningRequest, usages: Iterable[str],
             lifetime: _dt.timedelta) -> bytes:
        """A PEM certificate for the request's subject, key and SANs, with `usages`."""
        usages = list(usages)
        now = _dt.datetime.now(_dt.UTC)
        not_before, not_after = validity(now, lifetime)
        not_after = min(not_after, self.cert.not_valid_after_utc)
        flags = {arg: False for arg in set(_KEY_USAGE.values())}
        for usage in usages:
            if usage in _KEY_USAGE:
                flags[_KEY_USAGE[usage]] = True
        builder = (x509.CertificateBuilder()
                   .subject_name(csr.subject).issuer_name(self.cert.subject)
                   .public_key(csr.public_key())  # type: ignore[arg-type]
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(not_before).not_valid_after(not_after)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                                  critical=True)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       self.key.public_key()), critical=False))
        if any(flags.values()):
            builder = builder.add_extension(x509.KeyUsage(**flags), critical=True)
        extended = list(dict.fromkeys(_EXTENDED[u] for u in usages if u in _EXTENDED))
        if extended:
            builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=False)
        try:
            sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            builder = builder.add_extension(sans.value, critical=False)
        except x509.ExtensionNotFound:
            pass
        cert = builder.sign(self.key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM)


def lifetime(expiration_seconds: object, maximum: _dt.timedelta) -> _dt.timedelta:
    """signer.duration: the configured maximum, or the requested duration when shorter
    (never under 10 minutes)."""
    if not isinstance(expiration_seconds, int) or isinstance(expiration_seconds, bool):
        return maximum
    requested = _dt.timedelta(seconds=expiration_seconds)
    if requested > maximum:
        return maximum
    return max(_MIN_LIFETIME, requested)


def validity(now: _dt.datetime, ttl: _dt.timedelta) -> tuple[_dt.datetime, _dt.datetime]:
    """(notBefore, notAfter) as PermissiveSigningPolicy: backdated 5 minutes for clock
    skew; a short (< 8 h) certificate keeps its whole ttl from now, a longer one ends
    ttl after notBefore. A ttl under 10 minutes (only a --cluster-signing-duration below
    Kubernetes' own minimum gives one, as tests do) is backdated a tenth of itself, so
    a kubelet's 70-90% rotation deadline still lies ahead of it."""
    backdate = _BACKDATE if ttl >= _MIN_LIFETIME else ttl / 10
    if ttl < _SHORT:
        return now - backdate, now + ttl
    return now - backdate, now + ttl - backdate


def wants_signing(csr: Obj) -> bool:
    """Approved, not Denied or Failed, not yet issued, for a signer issued here."""
    types = certs.condition_types(csr)
    spec = csr.get("spec") or {}
    return (certs.APPROVED in types and certs.DENIED not in types
            and certs.FAILED not in types and not (csr.get("status") or {}).get("certificate")
            and spec.get("signerName") in SIGNERS)


class CsrSigningController(Controller):
    name = "csrsigning"
    component = "csrsigning-controller"
    default_workers = 1

    def __init__(self, client: ApiClient, informers: InformerFactory,
                 authority: CertificateAuthority,
                 max_lifetime: _dt.timedelta = DEFAULT_MAX_LIFETIME) -> None:
        super().__init__(client, informers)
        self.authority = authority
        self.max_lifetime = max_lifetime
        self.csrs = informers.get(CERTIFICATE_SIGNING_REQUESTS)
        self.csrs.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new))

    async def sync(self, key: str) -> None:
        cached = self.csrs.get(key)
        if cached is None or not wants_signing(cached):
            return
        csr = deep_copy(cached)
        spec = csr.get("spec") or {}
        usages = [str(u) for u in spec.get("usages") or []]
        try:
            request = certs.parse_csr(certs.request_pem(spec))
        except ValueError as e:  # the API server checked it; only a stored oddity gets here
            log.warning("unparsable request", extra={"csr": key, "error": str(e)})
            return
        status = csr.setdefault("status", {})
        try:
            SIGNERS[spec["signerName"]](request, usages)
        except certs.SignerError as e:
            status.setdefault("conditions", []).append({
                "type": certs.FAILED, "status": "True", "reason": "SignerValidationFailure",
                "message": str(e), "lastUpdateTime": now_rfc3339()})
            await self.client.update_status(CERTIFICATE_SIGNING_REQUESTS, csr)
            log.info("refused to sign", extra={"csr": key, "reason": str(e)})
            return
        pem = self.authority.sign(request, usages,
                                  lifetime(spec.get("expirationSeconds"), self.max_lifetime))
        status["certificate"] = base64.b64encode(pem).decode()
        await self.client.update_status(CERTIFICATE_SIGNING_REQUESTS, csr)
        log.info("signed", extra={"csr": key, "signer": spec["signerName"]})
