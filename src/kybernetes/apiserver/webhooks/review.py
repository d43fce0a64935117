"""The AdmissionReview sent to a webhook, and the checks on the one it sends back.

Follows k8s.io/apiserver/pkg/admission/plugin/webhook/request/admissionreview.go:
the first version in the webhook's `admissionReviewVersions` that we speak (v1,
v1beta1) is used; v1 answers must echo the request uid and be an
admission.k8s.io/v1 AdmissionReview, a mutating answer must give patch and
patchType together, a validating one neither. v1beta1 answers were never
checked that strictly, and still are not.

We serve one version of each resource, so `kind`/`resource` and
`requestKind`/`requestResource` are always the same (matchPolicy Equivalent
never converts).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass, field
from typing import Any

from kybernetes.apiserver.webhooks.attributes import (
    CONNECT,
    CREATE,
    DELETE,
    UPDATE,
    AdmissionAttributes,
    Obj,
)

GROUP = "admission.k8s.io"
REVIEW_VERSIONS = ("v1", "v1beta1")
_OPTIONS_KIND = {CREATE: "CreateOptions", UPDATE: "UpdateOptions", DELETE: "DeleteOptions"}


class InvalidResponse(Exception):
    """The webhook's answer breaks the AdmissionReview contract (the text is Kubernetes')."""


@dataclass
class AdmissionResponse:
    """The parts of a response admission acts on (audit annotations are not kept)."""

    allowed: bool
    result: Obj | None = None
    patch: bytes = b""
    patch_type: str = ""
    warnings: list[str] = field(default_factory=list)


def review_version(versions: list[Any]) -> str | None:
    """The first of the webhook's admissionReviewVersions that we speak, if any."""
    return next((v for v in versions if v in REVIEW_VERSIONS), None)


def admission_review(attrs: AdmissionAttributes, version: str, uid: str | None = None) -> Obj:
    """The AdmissionReview request body for `attrs` in `version` (a fresh uid by default)."""
    user = attrs.user
    user_info: Obj = {}
    if user.username:
        user_info["username"] = user.username
    if user.uid:
        user_info["uid"] = user.uid
    if user.groups:
        user_info["groups"] = list(user.groups)
    if user.extra:
        user_info["extra"] = {k: list(v) for k, v in user.extra.items()}
    request: Obj = {"uid": uid or str(uuid.uuid4()), "kind": attrs.gvk, "resource": attrs.gvr}
    if attrs.subresource:
        request["subResource"] = attrs.subresource
    request["requestKind"], request["requestResource"] = attrs.gvk, attrs.gvr
    if attrs.subresource:
        request["requestSubResource"] = attrs.subresource
    if attrs.name:
        request["name"] = attrs.name
    if attrs.namespace:
        request["namespace"] = attrs.namespace
    request.update({"operation": attrs.operation, "userInfo": user_info,
                    "object": attrs.object, "oldObject": attrs.old_object,
                    "dryRun": attrs.dry_run, "options": _options(attrs)})
    return {"kind": "AdmissionReview", "apiVersion": f"{GROUP}/{version}", "request": request}


def _options(attrs: AdmissionAttributes) -> Obj | None:
    if attrs.options is None:
        return None
    options = dict(attrs.options)
    if attrs.operation != CONNECT:
        options.setdefault("kind", _OPTIONS_KIND[attrs.operation])
        options.setdefault("apiVersion", "meta.k8s.io/v1")
    return options


def verify_response(review: Any, *, uid: str, version: str, mutating: bool) -> AdmissionResponse:
    """VerifyAdmissionResponse; InvalidResponse says what is wrong."""
    response = review.get("response") if isinstance(review, dict) else None
    if not isinstance(response, dict):
        raise InvalidResponse("webhook response was absent")
    patch = _decode_patch(response.get("patch"))
    patch_type = response.get("patchType")
    warnings = [str(w) for w in response.get("warnings") or []]
    result = response.get("status") if isinstance(response.get("status"), dict) else None
    allowed = response.get("allowed") is True
    if version == "v1beta1":  # neither uid, kind nor patchType were ever checked here
        return AdmissionResponse(allowed, result, patch if mutating else b"",
                                 "JSONPatch" if mutating and patch else "", warnings)
    if response.get("uid") != uid:
        raise InvalidResponse(f'expected response.uid="{uid}", got "{response.get("uid", "")}"')
    group_version = str(review.get("apiVersion") or "")
    group, _, got_version = group_version.rpartition("/")
    got = f"{group}/{got_version}, Kind={review.get('kind') or ''}"
    if got != f"{GROUP}/v1, Kind=AdmissionReview":
        raise InvalidResponse(f"expected webhook response of {GROUP}/v1, Kind=AdmissionReview, "
                              f"got {got}")
    if mutating:
        if patch and patch_type is None:
            raise InvalidResponse("webhook returned response.patch but not response.patchType")
        if not patch and patch_type is not None:
            raise InvalidResponse("webhook returned response.patchType but not response.patch")
        if patch_type == "":
            raise InvalidResponse('webhook returned invalid response.patchType of ""')
    elif patch:
        raise InvalidResponse("validating webhook may not return response.patch")
    elif patch_type is not None:
        raise InvalidResponse("validating webhook may not return response.patchType")
    return AdmissionResponse(allowed, result, patch, str(patch_type or ""), warnings)


def _decode_patch(value: Any) -> bytes:
    """A []byte field: base64 in JSON, as Go decodes it."""
    if value is None or value == "":
        return b""
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidResponse("illegal base64 data in response.patch") from None
