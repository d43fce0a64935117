"""The csrapproving controller's rules: which requests it recognizes, what it asks the
authorizer, and the condition it adds."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kybernetes.api import certificates as certs
from kybernetes.api.errors import Forbidden
from kybernetes.api.resources import CERTIFICATE_SIGNING_REQUESTS, SUBJECT_ACCESS_REVIEWS
from kybernetes.controllers.csr_approving import (
    CsrApprovingController,
    access_review,
    is_node_client,
    is_self_node_client,
    wants_approval,
)
from tests.support.certs import csr_object, csr_pem, new_key

KEY = new_key()
KUBELET = "kubernetes.io/kube-apiserver-client-kubelet"
NODE_USAGES = ("digital signature", "client auth")


def node_csr(cn: str = "system:node:n1", *orgs: str, username: str = "system:node:n1",
             signer: str = KUBELET, usages: tuple[str, ...] = NODE_USAGES) -> dict[str, Any]:
    obj = csr_object("c1", csr_pem(KEY, cn, *(orgs or ("system:nodes",))), signer=signer,
                     usages=usages)
    obj["spec"].update({"username": username, "uid": "u-1",
                        "groups": ["system:nodes", "system:authenticated"],
                        "extra": {"k": ["v"]}})
    return obj


def parsed(obj: dict[str, Any]) -> Any:
    return certs.parse_csr(base64.b64decode(obj["spec"]["request"]))


def recognized(obj: dict[str, Any]) -> tuple[bool, bool]:
    request = parsed(obj)
    return is_self_node_client(obj, request), is_node_client(obj, request)


def test_a_node_renewing_its_own_certificate_is_self_node_client() -> None:
    assert recognized(node_csr()) == (True, True)
    # kube's kubelet asks for key encipherment too when its key is RSA
    assert recognized(node_csr(usages=("digital signature", "key encipherment",
                                       "client auth"))) == (True, True)


def test_a_request_for_another_nodes_name_is_only_a_node_client_request() -> None:
    assert recognized(node_csr("system:node:n2")) == (False, True)
    assert recognized(node_csr(username="system:bootstrap:abcdef")) == (False, True)


@pytest.mark.parametrize("obj", [
    node_csr(signer="kubernetes.io/kube-apiserver-client"),
    node_csr(usages=("client auth",)),
    node_csr(usages=("digital signature", "client auth", "server auth")),
    node_csr("system:node:n1", "system:masters"),
    node_csr("n1", username="n1"),
], ids=["other signer", "usages", "server auth", "organization", "common name"])
def test_anything_else_is_not_recognized(obj: dict[str, Any]) -> None:
    assert recognized(obj) == (False, False)


def test_the_review_asks_about_the_requester() -> None:
    assert access_review(node_csr(), "selfnodeclient") == {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": "system:node:n1", "uid": "u-1",
                 "groups": ["system:nodes", "system:authenticated"], "extra": {"k": ["v"]},
                 "resourceAttributes": {"group": "certificates.k8s.io", "verb": "create",
                                        "resource": "certificatesigningrequests",
                                        "subresource": "selfnodeclient"}}}


def test_only_pending_requests_are_considered() -> None:
    obj = node_csr()
    assert wants_approval(obj)
    for status in ({"conditions": [{"type": "Approved"}]},
                   {"conditions": [{"type": "Denied"}]}, {"certificate": "eA=="}):
        assert not wants_approval({**obj, "status": status})


class FakeCsrs:
    def __init__(self, obj: dict[str, Any]) -> None:
        self.obj = obj

    def get(self, key: str) -> dict[str, Any] | None:
        return self.obj if key == "c1" else None


class FakeClient:
    """Answers SubjectAccessReviews from `allowed` and records approvals."""

    def __init__(self, allowed: set[str]) -> None:
        self.allowed = allowed
        self.asked: list[str] = []
        self.approved: list[dict[str, Any]] = []

    async def create(self, resource: Any, obj: dict[str, Any], **_: Any) -> dict[str, Any]:
        assert resource is SUBJECT_ACCESS_REVIEWS
        sub = obj["spec"]["resourceAttributes"]["subresource"]
        self.asked.append(sub)
        return {**obj, "status": {"allowed": sub in self.allowed}}

    async def update_subresource(self, resource: Any, obj: dict[str, Any],
                                 subresource: str | None) -> dict[str, Any]:
        assert (resource, subresource) == (CERTIFICATE_SIGNING_REQUESTS, "approval")
        self.approved.append(obj)
        return obj


def controller(obj: dict[str, Any], allowed: set[str]) -> tuple[Any, FakeClient]:
    ctl = CsrApprovingController.__new__(CsrApprovingController)
    fake = FakeClient(allowed)
    ctl.client, ctl.csrs = fake, FakeCsrs(obj)  # type: ignore[assignment]
    return ctl, fake


async def test_renewal_is_approved_when_the_review_allows_selfnodeclient() -> None:
    ctl, fake = controller(node_csr(), {"selfnodeclient"})
    await ctl.sync("c1")
    assert fake.asked == ["selfnodeclient"]
    [approved] = fake.approved
    condition = approved["status"]["conditions"][-1]
    assert {k: condition[k] for k in ("type", "status", "reason", "message")} == {
        "type": "Approved", "status": "True", "reason": "AutoApproved",
        "message": "Auto approving self kubelet client certificate after "
                   "SubjectAccessReview."}


async def test_bootstrap_is_approved_through_nodeclient() -> None:
    ctl, fake = controller(node_csr(username="system:bootstrap:abc"), {"nodeclient"})
    await ctl.sync("c1")
    assert fake.asked == ["nodeclient"]
    assert fake.approved[0]["status"]["conditions"][-1]["message"] == (
        "Auto approving kubelet client certificate after SubjectAccessReview.")


async def test_a_node_asking_for_another_nodes_name_is_left_pending() -> None:
    ctl, fake = controller(node_csr("system:node:n2"), {"selfnodeclient"})
    with pytest.raises(Forbidden, match=r"recognized csr 'c1' as \[nodeclient\] but subject "
                                        "access review was not approved"):
        await ctl.sync("c1")
    assert fake.asked == ["nodeclient"] and fake.approved == []


async def test_unrecognized_requests_are_not_reviewed() -> None:
    ctl, fake = controller(node_csr(signer="kubernetes.io/kube-apiserver-client"), set())
    await ctl.sync("c1")
    assert fake.asked == [] and fake.approved == []
