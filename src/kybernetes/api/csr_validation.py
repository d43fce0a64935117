"""Validation of certificates.k8s.io/v1 CertificateSigningRequests.

Kubernetes' ``pkg/apis/certificates/validation``: the request must be a PEM
CERTIFICATE REQUEST whose signature checks, usages are known and not repeated, the
signer name is ``domain/path``, the Approved and Denied conditions exclude each
other, conditions of those types and Failed are never removed, and an issued
certificate is never replaced. Problems already present in the stored object are
tolerated on update, as Kubernetes does for compatibility. What only a subresource
may change (conditions through /approval, the certificate through /status) the
kind's strategy enforces.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from kybernetes.api import certificates as certs
from kybernetes.api import meta as names
from kybernetes.api.field_errors import ErrorList, GoSyntax, as_dict, as_list

Obj = dict[str, Any]

_TRUE_ONLY = (certs.APPROVED, certs.DENIED, certs.FAILED)
_STATUSES = ("False", "True", "Unknown")
_DOMAIN_MAX, _LABEL_MAX = 253, 63
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.S)


def go_bytes(data: bytes | None) -> GoSyntax:
    """A []byte value as Go's %#v prints it (how field.Invalid shows spec.request)."""
    if not data:
        return GoSyntax("[]byte(nil)")
    return GoSyntax("[]byte{" + ", ".join(f"0x{b:x}" for b in data) + "}")


def validate_signer_name(errs: ErrorList, path: str, signer: Any) -> None:
    """ValidateSignerName: `example.com/signer-name`, each part DNS-shaped."""
    if not signer:
        errs.required(path)
        return
    signer = str(signer)
    segments = signer.split("/")
    if len(segments) != 2:
        errs.invalid(path, signer, "must be a fully qualified domain and path of the form "
                                   "'example.com/signer-name'")
        return
    domain, rest = segments
    if len(domain) > _DOMAIN_MAX:
        errs.too_long(path, _DOMAIN_MAX)
    labels = domain.split(".")
    for label in labels:
        problems = names.is_dns1123_label(label)
        if problems:
            for problem in problems:
                errs.invalid(path, domain, f'validating label "{label}": {problem}')
            break
    if len(labels) < 2:
        errs.invalid(path, domain, "should be a domain with at least two segments separated "
                                   "by dots")
    for label in rest.split("."):
        problems = names.is_dns1123_subdomain(label)
        if problems:
            for problem in problems:
                errs.invalid(path, rest, f'validating label "{label}": {problem}')
            break
    limit = _DOMAIN_MAX + _DOMAIN_MAX + _LABEL_MAX + 2
    if len(signer) > limit:
        errs.too_long(path, limit)


def certificate_error(data: bytes) -> str:
    """validateCertificate: "" when `data` is empty or only CERTIFICATE PEM blocks."""
    if not data:
        return ""
    from cryptography import x509

    blocks = 0
    for match in _PEM_BLOCK.finditer(data):
        if match.group(1) != b"CERTIFICATE":
            return f'only CERTIFICATE PEM blocks are allowed, found "{match.group(1).decode()}"'
        try:
            x509.load_pem_x509_certificate(match.group(0))
        except ValueError as e:
            return f"x509: malformed certificate: {e}"
        blocks += 1
    return "" if blocks else "must contain at least one CERTIFICATE PEM block"


def certificate_bytes(csr: Obj) -> bytes:
    raw = as_dict(csr.get("status")).get("certificate")
    if not isinstance(raw, str):
        return b""
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return raw.encode()


def _conditions(csr: Obj | None) -> list[Obj]:
    if csr is None:
        return []
    return [c for c in as_list(as_dict(csr.get("status")).get("conditions"))
            if isinstance(c, dict)]


def _validate_conditions(errs: ErrorList, csr: Obj, old: Obj | None) -> None:
    old_types = [str(c.get("type") or "") for c in _conditions(old)]
    allow_both = certs.APPROVED in old_types and certs.DENIED in old_types
    allow_duplicates = len(set(old_types)) != len(old_types)
    allow_empty = "" in old_types
    seen: set[str] = set()
    approved = denied = False
    for i, condition in enumerate(_conditions(csr)):
        path = f"status.conditions[{i}]"
        kind, status = str(condition.get("type") or ""), condition.get("status")
        if not kind and not allow_empty:
            errs.required(f"{path}.type")
        allowed = ("True",) if kind in _TRUE_ONLY else _STATUSES
        if not status:
            errs.required(f"{path}.status")
        elif status not in allowed:
            errs.not_supported(f"{path}.status", status, allowed)
        if not allow_both:
            approved = approved or kind == certs.APPROVED
            denied = denied or kind == certs.DENIED
            if kind in (certs.APPROVED, certs.DENIED) and approved and denied:
                errs.invalid(f"{path}.type", kind,
                             "Approved and Denied conditions are mutually exclusive")
        if not allow_duplicates and kind in seen:
            errs.duplicate(f"{path}.type", kind)
        seen.add(kind)


def _validate_usages(errs: ErrorList, usages: list[Any], old: Obj | None) -> None:
    old_usages = as_list(as_dict((old or {}).get("spec")).get("usages"))
    if not usages:
        errs.required("spec.usages")
    if not any(u not in certs.USAGES for u in old_usages):
        for i, usage in enumerate(usages):
            if usage not in certs.USAGES:
                errs.not_supported(f"spec.usages[{i}]", usage, certs.USAGES)
    if len(set(map(str, old_usages))) == len(old_usages):
        seen: set[str] = set()
        for i, usage in enumerate(usages):
            if str(usage) in seen:
                errs.duplicate(f"spec.usages[{i}]", usage)
            seen.add(str(usage))


def validate_csr(errs: ErrorList, csr: Obj, old: Obj | None) -> None:
    """ValidateCertificateSigningRequestCreate/Update."""
    spec = as_dict(csr.get("spec"))
    try:
        certs.check_request(certs.request_pem(spec))
    except ValueError as e:
        try:
            value = go_bytes(certs.request_pem(spec))
        except ValueError:
            value = GoSyntax(str(spec.get("request")))
        errs.invalid("spec.request", value, str(e))
    _validate_usages(errs, as_list(spec.get("usages")), old)
    signer = spec.get("signerName")
    old_signer = as_dict((old or {}).get("spec")).get("signerName")
    if signer == certs.LEGACY_UNKNOWN and old_signer != certs.LEGACY_UNKNOWN:
        errs.invalid("spec.signerName", signer,
                     "the legacy signerName is not allowed via this API version")
    else:
        validate_signer_name(errs, "spec.signerName", signer)
    expiration = spec.get("expirationSeconds")
    if isinstance(expiration, int) and expiration < 600:
        errs.invalid("spec.expirationSeconds", expiration,
                     "may not specify a duration less than 600 seconds (10 minutes)")
    _validate_conditions(errs, csr, old)
    new_cert = certificate_bytes(csr)
    old_cert = certificate_bytes(old) if old is not None else b""
    tolerated = old is not None and (new_cert == old_cert or certificate_error(old_cert))
    if not tolerated:
        problem = certificate_error(new_cert)
        if problem:
            errs.invalid("status.certificate", "<certificate data>", problem)
    if old is None:
        return
    for kind in (certs.APPROVED, certs.DENIED, certs.FAILED):
        if certs.condition_types(csr).count(kind) < certs.condition_types(old).count(kind):
            errs.forbidden("status.conditions",
                           f'updates may not remove a condition of type "{kind}"')
    if new_cert != old_cert and old_cert:
        errs.forbidden("status.certificate", "updates may not modify existing certificate "
                                             "content")
