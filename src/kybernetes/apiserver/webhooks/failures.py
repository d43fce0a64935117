"""How a webhook call can go wrong, and the Status each way becomes.

Two kinds of trouble, as in k8s.io/apiserver/pkg/util/webhook/error.go:

- :class:`CallFailure` — the webhook could not be asked or answered nonsense
  (connection refused, timeout, TLS, bad response). `failurePolicy` decides:
  Ignore skips the webhook, Fail turns it into a 500 `Internal error occurred:
  failed calling webhook "x": …`.
- a rejection — the webhook answered `allowed: false`; :func:`denied` builds the
  Status exactly as webhook/errors.ToStatusErr does. Always fails the request.

Errors that are neither (dry run unsupported, a patch for a DELETE) are plain
ApiErrors and also fail the request whatever the policy.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.errors import ApiError, BadRequest, Forbidden, InternalError, from_status
from kybernetes.apiserver.webhooks.attributes import AdmissionAttributes


class CallFailure(Exception):
    """The webhook named `webhook` could not be called; `reason` reads as Go's error chain."""

    def __init__(self, webhook: str, reason: str) -> None:
        super().__init__(f"failed calling webhook {_quote(webhook)}: {reason}")
        self.webhook = webhook


def internal_error(message: str) -> InternalError:
    """apierrors.NewInternalError: the message prefixed, and repeated as the one cause."""
    return InternalError(f"Internal error occurred: {message}",
                         details={"causes": [{"message": message}]})


def denied(webhook: str, result: Any) -> ApiError:
    """ToStatusErr: the webhook's own Status, its code forced to >= 400, its message prefixed."""
    status = dict(result) if isinstance(result, dict) else {}
    code = status.get("code")
    code = code if isinstance(code, int) and code >= 400 else 400
    denied_by = f"admission webhook {_quote(webhook)} denied the request"
    message, reason = str(status.get("message") or ""), str(status.get("reason") or "")
    if message:
        message = f"{denied_by}: {message}"
    elif reason:
        message = f"{denied_by}: {reason}"
    else:
        message = f"{denied_by} without explanation"
    details = status.get("details") if isinstance(status.get("details"), dict) else None
    error = from_status({"code": code, "reason": reason, "message": message,
                         "details": details})
    error.reason = reason  # kept even when empty: clients then print no reason, as with Kubernetes
    return error


def forbidden(attrs: AdmissionAttributes, message: str) -> Forbidden:
    """admission.NewForbidden: `<resource>.<group> "name" is forbidden: <message>`."""
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    subject = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    details: dict[str, Any] = {"name": attrs.name}
    if attrs.group:
        details["group"] = attrs.group
    details["kind"] = attrs.resource
    return Forbidden(f"{subject} is forbidden: {message}", details=details)


def dry_run_unsupported(webhook: str) -> BadRequest:
    return BadRequest(f"admission webhook {_quote(webhook)} does not support dry run")


def _quote(text: str) -> str:
    """Go's %q for the plain names webhooks have."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
