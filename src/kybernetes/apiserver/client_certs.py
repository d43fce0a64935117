"""Kubernetes' x509 authenticator: a client certificate names its user, if it checks out.

The TLS layer accepts any client certificate (:mod:`.tls_client_certs`); here it
must be issued by the cluster CA (signature and issuer), be within its validity
period and, when it lists extended key usages, allow client auth. Then the CN is
the user and each O a group. A certificate that fails is *rejected*: the request
is 401 unless a bearer token authenticates it, and never anonymous, as in
Kubernetes. The verdict is kept per TLS connection (the certificate cannot change
on one), with the expiry checked on every request.
"""

from __future__ import annotations

import datetime as _dt
import logging
import ssl
import weakref
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger("kybernetes.apiserver.client_certs")


@dataclass(frozen=True)
class Verdict:
    """What a connection's certificate says: a user, nobody (no certificate), or rejected."""

    name: str = ""
    groups: tuple[str, ...] = ()
    not_after: _dt.datetime | None = None
    rejected: bool = False

    def expired(self) -> bool:
        return self.not_after is not None and _dt.datetime.now(_dt.UTC) > self.not_after


NO_CERTIFICATE = Verdict()
REJECTED = Verdict(rejected=True)


class ClientCertAuthenticator:
    """Verifies client certificates against the CA in `ca_file` (None: trust the TLS
    layer's verification and only read the subject)."""

    def __init__(self, ca_file: str | Path | None = None) -> None:
        self.ca = x509.load_pem_x509_certificate(Path(ca_file).read_bytes()) \
            if ca_file else None
        self._verdicts: weakref.WeakKeyDictionary[ssl.SSLObject, Verdict] = \
            weakref.WeakKeyDictionary()

    def verdict(self, request: web.Request) -> Verdict:
        transport = request.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport else None
        if ssl_object is None:
            return NO_CERTIFICATE
        verdict = self._verdicts.get(ssl_object)
        if verdict is None:
            verdict = self._verdicts[ssl_object] = self._judge(
                ssl_object.getpeercert(binary_form=True))
        return REJECTED if verdict.expired() else verdict

    def _judge(self, der: bytes | None) -> Verdict:
        if not der:
            return NO_CERTIFICATE
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            return self._reject("unparsable")
        if self.ca is not None:
            try:
                cert.verify_directly_issued_by(self.ca)
            except (ValueError, TypeError, InvalidSignature):
                return self._reject("not signed by the cluster CA")
            try:
                usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            except x509.ExtensionNotFound:
                usages = None
            if usages is not None and ExtendedKeyUsageOID.CLIENT_AUTH not in usages and \
                    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in usages:
                return self._reject("not for client auth")
        now = _dt.datetime.now(_dt.UTC)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            return self._reject("expired or not yet valid")
        names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        if not names or not names[0]:
            return self._reject("empty common name")
        groups = tuple(str(a.value) for a in
                       cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
        return Verdict(names[0], groups, cert.not_valid_after_utc)

    @staticmethod
    def _reject(why: str) -> Verdict:
        log.debug("client certificate rejected", extra={"reason": why})
        return REJECTED
