"""Raw HTTP to a test API server, and the one check every Status answer gets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from tests.support.apiserver import ApiServer


def admin_cert(server: ApiServer) -> tuple[str, str]:
    pki = Path(server.data_dir) / "pki"
    return str(pki / "admin.crt"), str(pki / "admin.key")


class Http:
    """Raw requests with the admin client certificate (or without any)."""

    def __init__(self, server: ApiServer, *, authenticated: bool = True) -> None:
        self.base = server.url
        self.session = requests.Session()
        self.ca = str(Path(server.data_dir) / "pki" / "ca.crt")
        if authenticated:
            self.session.cert = admin_cert(server)

    def __call__(self, method: str, path: str, body: Any = None, *,
                 content_type: str = "application/json", **params: Any) -> requests.Response:
        data = body if isinstance(body, bytes | str) or body is None else json.dumps(body)
        return self.session.request(method, self.base + path, data=data, params=params,
                                    headers={"Content-Type": content_type}, timeout=10,
                                    verify=self.ca)  # explicit: REQUESTS_CA_BUNDLE wins else


def assert_status(response: requests.Response, code: int, reason: str) -> dict[str, Any]:
    assert response.status_code == code, response.text
    status = response.json()
    assert (status["kind"], status["code"], status["reason"]) == ("Status", code, reason)
    return status
