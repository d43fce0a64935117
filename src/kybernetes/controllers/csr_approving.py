"""The CSR approving controller: auto-approves kubelets' client certificate requests.

Kubernetes' ``pkg/controller/certificates/approver`` (kube-controller-manager's
``csrapproving``). A pending request (no certificate, neither Approved nor Denied)
for the signer ``kubernetes.io/kube-apiserver-client-kubelet`` that the signer
would issue (CN ``system:node:<name>``, O ``[system:nodes]``, no SANs, the kubelet
usages) is recognized as:

- ``selfnodeclient`` when the requester is the node it names (username == CN): a
  kubelet renewing its own certificate;
- ``nodeclient``: any node client request (a bootstrap with a join token).

For each recognized kind, in that order, a SubjectAccessReview asks whether the
requester (the CSR's spec.username, uid, groups, extra) may ``create``
``certificatesigningrequests/<kind>`` in ``certificates.k8s.io``; the first yes adds
the Approved condition (reason ``AutoApproved``) through ``/approval``. When every
review says no, the request is left pending and retried with back-off, as Kubernetes
does, so a later RoleBinding still takes effect. Other requests are left for a human.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509

from kybernetes.api import certificates as certs
from kybernetes.api.errors import Forbidden
from kybernetes.api.meta import now_rfc3339
from kybernetes.api.resources import CERTIFICATE_SIGNING_REQUESTS, SUBJECT_ACCESS_REVIEWS
from kybernetes.client import ApiClient, InformerFactory
from kybernetes.controllers.base import Controller, Obj, deep_copy

log = logging.getLogger("kybernetes.controllers.csr_approving")


@dataclass(frozen=True)
class Recognizer:
    """A kind of request, the permission that approves it, and the condition message."""

    subresource: str
    recognize: Callable[[Obj, x509.CertificateSigningRequest], bool]
    message: str


def is_node_client(csr: Obj, request: x509.CertificateSigningRequest) -> bool:
    """A request the kubelet client signer would issue (isNodeClientCert)."""
    spec = csr.get("spec") or {}
    if spec.get("signerName") != certs.KUBE_APISERVER_CLIENT_KUBELET:
        return False
    return certs.is_kubelet_client(request, [str(u) for u in spec.get("usages") or []])


def is_self_node_client(csr: Obj, request: x509.CertificateSigningRequest) -> bool:
    """A node client request made by the node it names (isSelfNodeClientCert)."""
    if (csr.get("spec") or {}).get("username") != certs.common_name(request):
        return False
    return is_node_client(csr, request)


RECOGNIZERS = (
    Recognizer("selfnodeclient", is_self_node_client,
               "Auto approving self kubelet client certificate after SubjectAccessReview."),
    Recognizer("nodeclient", is_node_client,
               "Auto approving kubelet client certificate after SubjectAccessReview."),
)


def wants_approval(csr: Obj) -> bool:
    """Not yet issued, approved or denied."""
    types = certs.condition_types(csr)
    return not ((csr.get("status") or {}).get("certificate")
                or certs.APPROVED in types or certs.DENIED in types)


def access_review(csr: Obj, subresource: str) -> Obj:
    """The SubjectAccessReview asking whether the requester may create `subresource`."""
    spec = csr.get("spec") or {}
    review_spec: Obj = {
        "user": spec.get("username") or "",
        "groups": list(spec.get("groups") or []),
        "resourceAttributes": {"group": "certificates.k8s.io", "verb": "create",
                               "resource": "certificatesigningrequests",
                               "subresource": subresource}}
    if spec.get("uid"):
        review_spec["uid"] = spec["uid"]
    if spec.get("extra"):
        review_spec["extra"] = spec["extra"]
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": review_spec}


class CsrApprovingController(Controller):
    name = "csrapproving"
    component = "csrapproving-controller"
    default_workers = 1

    def __init__(self, client: ApiClient, informers: InformerFactory) -> None:
        super().__init__(client, informers)
        self.csrs = informers.get(CERTIFICATE_SIGNING_REQUESTS)
        self.csrs.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new))

    async def sync(self, key: str) -> None:
        cached = self.csrs.get(key)
        if cached is None or not wants_approval(cached):
            return
        try:
            request = certs.parse_csr(certs.request_pem(cached.get("spec")))
        except ValueError as e:  # the API server checked it; only a stored oddity gets here
            log.warning("unparsable request", extra={"csr": key, "error": str(e)})
            return
        tried: list[str] = []
        for recognizer in RECOGNIZERS:
            if not recognizer.recognize(cached, request):
                continue
            tried.append(recognizer.subresource)
            review = await self.client.create(SUBJECT_ACCESS_REVIEWS,
                                              access_review(cached, recognizer.subresource))
            if (review.get("status") or {}).get("allowed") is True:
                await self._approve(cached, recognizer.message)
                log.info("approved", extra={"csr": key, "as": recognizer.subresource})
                return
        if tried:  # retried with back-off (the worker logs it), as Kubernetes' IgnorableError
            raise Forbidden(f"recognized csr {key!r} as [{' '.join(tried)}] but subject "
                            "access review was not approved")

    async def _approve(self, cached: Obj, message: str) -> None:
        csr = deep_copy(cached)
        csr.setdefault("status", {}).setdefault("conditions", []).append({
            "type": certs.APPROVED, "status": "True", "reason": "AutoApproved",
            "message": message, "lastUpdateTime": now_rfc3339()})
        await self.client.update_subresource(CERTIFICATE_SIGNING_REQUESTS, csr, "approval")
