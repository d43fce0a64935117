"""certificates.k8s.io: parsing a CSR's request and the built-in signers' rules.

Kubernetes' ``pkg/apis/certificates/helpers.go`` and the signer checks of
``pkg/controller/certificates/signer``: the API server parses every request (and
checks its signature) on create, and the signer controller checks that an approved
request is one its signer may issue. Messages are Kubernetes' own, because they end
up in Status causes and Failed conditions that users read.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
KUBE_APISERVER_CLIENT_KUBELET = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
LEGACY_UNKNOWN = "kubernetes.io/legacy-unknown"

APPROVED, DENIED, FAILED = "Approved", "Denied", "Failed"

# Every KeyUsage value Kubernetes knows (sorted, as its error lists them).
USAGES = tuple(sorted((
    "signing", "digital signature", "content commitment", "key encipherment",
    "key agreement", "data encipherment", "cert sign", "crl sign", "encipher only",
    "decipher only", "any", "server auth", "client auth", "code signing",
    "email protection", "s/mime", "ipsec end system", "ipsec tunnel", "ipsec user",
    "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc")))

_KUBELET_CLIENT_USAGES = ({"digital signature", "key encipherment", "client auth"},
                          {"digital signature", "client auth"})
_NODE_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"


class SignerError(ValueError):
    """The request is not one the signer may issue (a Failed condition's message)."""


def request_pem(spec: Any) -> bytes:
    """spec.request (base64 in JSON) as PEM bytes; ValueError when not base64."""
    raw = spec.get("request") if isinstance(spec, dict) else None
    if not isinstance(raw, str):
        return b""
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("illegal base64 data") from None


def parse_csr(pem: bytes) -> x509.CertificateSigningRequest:
    """ParseCSR: the first PEM block must be a CERTIFICATE REQUEST; ValueError otherwise."""
    start = pem.find(b"-----BEGIN ")
    if start < 0 or not pem[start:].startswith(b"-----BEGIN CERTIFICATE REQUEST-----"):
        raise ValueError("PEM block type must be CERTIFICATE REQUEST")
    try:
        return x509.load_pem_x509_csr(pem[start:])
    except ValueError:
        raise ValueError("x509: malformed certificate request") from None


def check_request(pem: bytes) -> x509.CertificateSigningRequest:
    """The parsed request, with its signature checked (validateCSR)."""
    csr = parse_csr(pem)
    if not csr.is_signature_valid:
        raise ValueError("x509: ECDSA verification failure"
                         if isinstance(csr.public_key(), ec.EllipticCurvePublicKey)
                         else "crypto/rsa: verification error")
    return csr


def _names(csr: x509.CertificateSigningRequest, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in csr.subject.get_attributes_for_oid(oid)]


def _sans(csr: x509.CertificateSigningRequest) -> x509.SubjectAlternativeName | None:
    try:
        return csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def validate_kubelet_client(csr: x509.CertificateSigningRequest, usages: Iterable[str]) -> None:
    """ValidateKubeletClientCSR: O=[system:nodes], CN=system:node:<name>, no SANs, usages."""
    if _names(csr, NameOID.ORGANIZATION_NAME) != [NODES_GROUP]:
        raise SignerError("subject organization is not system:nodes")
    sans = _sans(csr)
    if sans is not None:
        for kind, what in ((x509.DNSName, "DNS"), (x509.RFC822Name, "Email"),
                           (x509.IPAddress, "IP"), (x509.UniformResourceIdentifier, "URI")):
            if sans.get_values_for_type(kind):  # type: ignore[type-var]
                raise SignerError(f"{what} subjectAltNames are not allowed")
    common_names = _names(csr, NameOID.COMMON_NAME)
    if not common_names or not common_names[0].startswith(_NODE_PREFIX):
        raise SignerError("subject common name does not begin with system:node:")
    if set(usages) not in _KUBELET_CLIENT_USAGES:
        wanted = " ".join(sorted(_KUBELET_CLIENT_USAGES[0]))
        raise SignerError(f"usages did not match [{wanted}]")


def is_kubelet_client(csr: x509.CertificateSigningRequest, usages: Iterable[str]) -> bool:
    """IsKubeletClientCSR: a request the kubelet client signer would issue."""
    try:
        validate_kubelet_client(csr, usages)
    except SignerError:
        return False
    return True


def common_name(csr: x509.CertificateSigningRequest) -> str:
    """The subject's first common name ('' when it has none), as Go's Subject.CommonName."""
    names = _names(csr, NameOID.COMMON_NAME)
    return names[0] if names else ""


def validate_apiserver_client(usages: Iterable[str]) -> None:
    """validAPIServerClientUsages: client auth required, digital signature and key
    encipherment allowed, nothing else."""
    has_client_auth = False
    for usage in usages:
        if usage == "client auth":
            has_client_auth = True
        elif usage not in ("digital signature", "key encipherment"):
            raise SignerError(f"invalid usage for client certificate: {usage}")
    if not has_client_auth:
        raise SignerError("missing required usage for client certificate: client auth")


def condition_types(csr: Any) -> list[str]:
    status = csr.get("status") if isinstance(csr, dict) else None
    conditions = status.get("conditions") if isinstance(status, dict) else None
    return [str(c.get("type", "")) for c in conditions or [] if isinstance(c, dict)]


def status_text(csr: dict[str, Any]) -> str:
    """kubectl's CONDITION column: Approved/Denied/Pending, then ,Failed and ,Issued."""
    types = condition_types(csr)
    text = DENIED if DENIED in types else APPROVED if APPROVED in types else "Pending"
    if FAILED in types:
        text += ",Failed"
    if (csr.get("status") or {}).get("certificate"):
        text += ",Issued"
    return text
