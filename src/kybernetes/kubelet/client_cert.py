"""The kubelet's client certificate manager: renew it before it expires.

As the Kubernetes kubelet with ``--rotate-certificates``
(k8s.io/client-go/util/certificate): at a jittered point 70-90% of the way through
the current certificate's lifetime (at once when its subject is not the node's),
make a new ECDSA P-256 key, ask for a certificate with a CertificateSigningRequest
(signer ``kubernetes.io/kube-apiserver-client-kubelet``, usages ``digital
signature`` and ``client auth``, CN ``system:node:<name>``, O ``system:nodes``), wait
until it is issued (the csrapproving controller approves a node's renewal of its
own certificate, the signer issues it), store it (cert_store.py) and hand it to
`on_rotated`, which switches the API client to it. A denied, failed or unanswered
request is retried with back-off (2 s doubling to 32 s) and logged; the manager
never gives up and never stops the kubelet.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as _dt
import logging
import random
from collections.abc import Callable
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kybernetes.api import certificates as certs
from kybernetes.api.errors import ApiError
from kybernetes.api.resources import CERTIFICATE_SIGNING_REQUESTS
from kybernetes.client.verbs import Creator, Getter
from kybernetes.kubelet.cert_store import CertStore, ClientCert

log = logging.getLogger("kybernetes.kubelet.client_cert")

USAGES = ("digital signature", "client auth")  # an ECDSA key: no key encipherment
WAIT_TIMEOUT = 15 * 60.0  # certificateWaitTimeout
RETRY_BASE, RETRY_CAP = 2.0, 32.0


class CsrClient(Creator, Getter, Protocol):
    """What the manager needs of the API: create a CSR, read it back."""


class RotationFailed(Exception):
    """The request was denied or failed, or the certificate it gave is unusable."""


def rotation_deadline(not_before: _dt.datetime, not_after: _dt.datetime,
                      jitter: float) -> _dt.datetime:
    """notBefore + 70% of the lifetime + `jitter` (in [0, 1)) × 20% of it."""
    return not_before + (not_after - not_before) * (0.7 + 0.2 * jitter)


def node_subject(node_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, certs.NODES_GROUP),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{node_name}")])


def satisfies_template(cert: x509.Certificate, node_name: str) -> bool:
    """Whether the certificate names this node (else it is replaced at once)."""
    return cert.subject == node_subject(node_name)


def new_request(node_name: str) -> tuple[bytes, bytes]:
    """(request PEM, key PEM) for a fresh key."""
    key = ec.generate_private_key(ec.SECP256R1())
    request = (x509.CertificateSigningRequestBuilder().subject_name(node_subject(node_name))
               .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return request.public_bytes(serialization.Encoding.PEM), key_pem


def csr_object(request_pem: bytes) -> dict[str, object]:
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"generateName": "csr-"},
            "spec": {"request": base64.b64encode(request_pem).decode(),
                     "signerName": certs.KUBE_APISERVER_CLIENT_KUBELET,
                     "usages": list(USAGES)}}


def issued(csr: dict[str, object]) -> bytes | None:
    """The certificate once issued; RotationFailed when denied or failed."""
    status = csr.get("status")
    if not isinstance(status, dict):
        return None
    for condition in status.get("conditions") or []:
        if not isinstance(condition, dict):
            continue
        verdict = {certs.DENIED: "is denied", certs.FAILED: "failed"}.get(
            str(condition.get("type")))
        if verdict:
            raise RotationFailed(f"certificate signing request {verdict}, reason: "
                                 f"{condition.get('reason', '')}, message: "
                                 f"{condition.get('message', '')}")
    raw = status.get("certificate")
    return base64.b64decode(raw) if isinstance(raw, str) and raw else None


class ClientCertManager:
    """Keeps one node's client certificate fresh for as long as `run` runs."""

    def __init__(self, client: CsrClient, node_name: str, store: CertStore,
                 current: ClientCert, on_rotated: Callable[[ClientCert], None], *,
                 wait_timeout: float = WAIT_TIMEOUT, retry_base: float = RETRY_BASE,
                 retry_cap: float = RETRY_CAP,
                 jitter: Callable[[], float] = random.random) -> None:
        self.client = client
        self.node_name = node_name
        self.store = store
        self.current = current
        self.on_rotated = on_rotated
        self.wait_timeout = wait_timeout
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.jitter = jitter

    def next_deadline(self) -> _dt.datetime:
        if not satisfies_template(self.current.cert, self.node_name):
            return _dt.datetime.now(_dt.UTC)
        return rotation_deadline(self.current.not_before, self.current.not_after,
                                 self.jitter())

    async def run(self) -> None:
        """Rotate at every deadline, until cancelled."""
        while True:
            deadline = self.next_deadline()
            log.info("waiting for the client certificate rotation deadline",
                     extra={"node": self.node_name, "serial": self.current.serial,
                            "not_after": self.current.not_after.isoformat(),
                            "deadline": deadline.isoformat()})
            wait = (deadline - _dt.datetime.now(_dt.UTC)).total_seconds()
            if wait > 0:
                await asyncio.sleep(wait)
            await self._rotate_until_done()

    async def _rotate_until_done(self) -> None:
        delay = self.retry_base
        while True:
            try:
                await self.rotate()
                return
            except (ApiError, RotationFailed, TimeoutError, ValueError, OSError) as e:
                log.warning("client certificate rotation failed; retrying",
                            extra={"node": self.node_name, "error": str(e) or type(e).__name__,
                                   "retry_in": delay})
            await asyncio.sleep(delay * (1 + 0.1 * self.jitter()))
            delay = min(delay * 2, self.retry_cap)

    async def rotate(self) -> ClientCert:
        """Request, wait for, store and switch to one new certificate."""
        request_pem, key_pem = new_request(self.node_name)
        created = await self.client.create(CERTIFICATE_SIGNING_REQUESTS,
                                           csr_object(request_pem))
        name = created["metadata"]["name"]
        log.info("requested a new client certificate",
                 extra={"node": self.node_name, "csr": name})
        async with asyncio.timeout(self.wait_timeout):
            cert_pem = await self._wait_issued(name)
        try:
            pair = ClientCert.load(cert_pem, key_pem)
        except ValueError as e:
            raise RotationFailed(f"csr {name}: unusable certificate: {e}") from None
        self.store.update(pair)
        self.on_rotated(pair)
        old, self.current = self.current, pair
        log.info("client certificate rotated",
                 extra={"node": self.node_name, "csr": name, "old_serial": old.serial,
                        "serial": pair.serial, "not_after": pair.not_after.isoformat()})
        return pair

    async def _wait_issued(self, name: str) -> bytes:
        delay = 0.2
        while True:
            cert = issued(await self.client.get(CERTIFICATE_SIGNING_REQUESTS, name))
            if cert is not None:
                return cert
            await asyncio.sleep(delay)
            delay = min(delay * 2, 4.0)


def initial_cert(store: CertStore, configured: ClientCert | None) -> ClientCert | None:
    """The pair to start from: the later-expiring of the stored one and the kubeconfig's
    (a stored pair that is unreadable is logged and skipped)."""
    try:
        stored = store.current()
    except ValueError as e:
        log.warning("ignoring the stored client certificate", extra={"error": str(e)})
        stored = None
    candidates = [c for c in (stored, configured) if c is not None]
    return max(candidates, key=lambda c: c.not_after) if candidates else None
