"""The backend's own refusals, as Kubernetes `Status` objects like the API's."""

from __future__ import annotations

import orjson
from aiohttp import web

REASONS = {400: "BadRequest", 401: "Unauthorized", 404: "NotFound", 503: "ServiceUnavailable"}


def status_response(code: int, message: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": REASONS.get(code, "InternalError"), "code": code}
    return web.Response(status=code, body=orjson.dumps(body), content_type="application/json")


def unauthorized() -> web.Response:
    return status_response(401, "Unauthorized: log in with a bearer token")
