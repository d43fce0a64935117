"""The API error tree, and its translation to and from Kubernetes `Status` objects.

Every error a client can see is an :class:`ApiError`. The API server turns one into
a `Status` in exactly one middleware; the client turns a `Status` back into the
same class in exactly one place (:func:`from_status`)::

    ApiError(code, reason, message, details)
    ├── BadRequest            400 BadRequest
    ├── Unauthorized          401 Unauthorized
    ├── Forbidden             403 Forbidden
    ├── NotFound              404 NotFound
    ├── MethodNotAllowed      405 MethodNotAllowed
    ├── NotAcceptable         406 NotAcceptable
    ├── AlreadyExists         409 AlreadyExists
    ├── Conflict              409 Conflict
    ├── Gone                  410 Gone     (reason Expired: a compacted resourceVersion)
    ├── RequestEntityTooLarge 413 RequestEntityTooLarge
    ├── UnsupportedMediaType  415 UnsupportedMediaType
    ├── Invalid               422 Invalid  (details.causes name the fields)
    ├── TooManyRequests       429 TooManyRequests
    ├── InternalError         500 InternalError
    ├── ServiceUnavailable    503 ServiceUnavailable
    └── Timeout               504 Timeout
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error with a Kubernetes HTTP code and reason."""

    code: int = 500
    reason: str = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        reason: str | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if reason is not None:
            self.reason = reason
        if code is not None:
            self.code = code

    def to_status(self) -> dict[str, Any]:
        """The `Status` object that clients expect for this error, its keys in the
        order Go's encoder writes metav1.Status (details before code)."""
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details:
            status["details"] = self.details
        status["code"] = self.code
        return status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.reason!r}, {self.message!r})"


class BadRequest(ApiError):
    code, reason = 400, "BadRequest"


class Unauthorized(ApiError):
    code, reason = 401, "Unauthorized"


class Forbidden(ApiError):
    code, reason = 403, "Forbidden"


class NotFound(ApiError):
    code, reason = 404, "NotFound"


class MethodNotAllowed(ApiError):
    code, reason = 405, "MethodNotAllowed"


class NotAcceptable(ApiError):
    code, reason = 406, "NotAcceptable"


class AlreadyExists(ApiError):
    code, reason = 409, "AlreadyExists"


class Conflict(ApiError):
    code, reason = 409, "Conflict"


class Gone(ApiError):
    code, reason = 410, "Expired"


class RequestEntityTooLarge(ApiError):
    code, reason = 413, "RequestEntityTooLarge"


class UnsupportedMediaType(ApiError):
    code, reason = 415, "UnsupportedMediaType"


class Invalid(ApiError):
    code, reason = 422, "Invalid"


class TooManyRequests(ApiError):
    code, reason = 429, "TooManyRequests"


class InternalError(ApiError):
    code, reason = 500, "InternalError"


class ServiceUnavailable(ApiError):
    code, reason = 503, "ServiceUnavailable"


class Timeout(ApiError):
    code, reason = 504, "Timeout"


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    """StatusDetails in Go's field order (name, group, kind, …), empty ones left out."""
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = kind
    return details


def not_found(resource: str, name: str, group: str = "") -> NotFound:
    """`pods "x" not found`, exactly as the Kubernetes API words it."""
    qualified = f"{resource}.{group}" if group else resource
    return NotFound(f'{qualified} "{name}" not found', details=_details(name, group, resource))


def already_exists(resource: str, name: str, group: str = "") -> AlreadyExists:
    qualified = f"{resource}.{group}" if group else resource
    return AlreadyExists(f'{qualified} "{name}" already exists',
                         details=_details(name, group, resource))


def conflict(resource: str, name: str, why: str, group: str = "") -> Conflict:
    qualified = f"{resource}.{group}" if group else resource
    return Conflict(f'Operation cannot be fulfilled on {qualified} "{name}": {why}',
                    details=_details(name, group, resource))


def invalid(
    kind: str, name: str, causes: list[tuple[str, str, str]], group: str = ""
) -> Invalid:
    """A 422 with one cause per (field, reason, message), worded as Kubernetes does.

    `reason` is a Kubernetes CauseType such as FieldValueRequired, FieldValueInvalid,
    FieldValueNotSupported, FieldValueDuplicate, FieldValueForbidden.
    """
    qualified = f"{kind}.{group}" if group else kind
    # As utilerrors.Aggregate prints: one message alone, several in brackets, no repeats.
    messages = list(dict.fromkeys(f"{field}: {message}" for field, _, message in causes))
    summary = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
    text = f'{qualified} "{name}" is invalid' + (f": {summary}" if messages else "")
    details = _details(name, group, kind)
    details["causes"] = [{"reason": reason, "message": message, "field": field}
                         for field, reason, message in causes]
    return Invalid(text, details=details)


_BY_CODE_AND_REASON: dict[tuple[int, str], type[ApiError]] = {}
_BY_CODE: dict[int, type[ApiError]] = {}
for _cls in (
    BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, NotAcceptable,
    AlreadyExists, Conflict, Gone, RequestEntityTooLarge, UnsupportedMediaType, Invalid,
    TooManyRequests, InternalError, ServiceUnavailable, Timeout,
):
    _BY_CODE_AND_REASON[(_cls.code, _cls.reason)] = _cls
    _BY_CODE.setdefault(_cls.code, _cls)


def from_status(status: dict[str, Any], http_code: int | None = None) -> ApiError:
    """Rebuild the :class:`ApiError` that a `Status` object describes."""
    code = int(status.get("code") or http_code or 500)
    reason = str(status.get("reason") or "")
    cls = _BY_CODE_AND_REASON.get((code, reason)) or _BY_CODE.get(code, ApiError)
    return cls(
        str(status.get("message") or reason or f"HTTP {code}"),
        details=status.get("details") or {},
        reason=reason or None,
        code=code,
    )
