"""The API server as the dashboard reaches it: its URL and how to trust it, no identity.

The kubeconfig given to `kyb dashboard` only says where the API server is and which
CA signs it; any client certificate or token in it is dropped, so the dashboard can
never act as anyone but the user whose token a request carries.
"""

from __future__ import annotations

import base64
import ssl
from dataclasses import replace

import aiohttp
from aiohttp import web

from kybernetes.client.kubeconfig import KubeConfig, load_kubeconfig

TOKEN_PROTOCOL = "base64url.bearer.authorization.k8s.io."


class Upstream:
    """One keep-alive pool to the API server, shared by every user's requests."""

    def __init__(self, config: KubeConfig) -> None:
        self.config = replace(config, cert_pem=None, key_pem=None, token=None)
        self.url = self.config.server.rstrip("/")
        ctx = self.config.ssl_context()
        self.ssl: ssl.SSLContext | bool = ctx if ctx is not None else False
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_kubeconfig(cls, path: str) -> Upstream:
        return cls(load_kubeconfig(path))

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
                connector=aiohttp.TCPConnector(limit=200, ssl=self.ssl,
                                               enable_cleanup_closed=True),
                auto_decompress=False)
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    def headers(self, token: str, *, accept: str = "application/json") -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "Accept": accept,
                "User-Agent": "kyb-dashboard"}

    def server_hostname(self) -> str | None:
        return self.config.tls_server_name


def bearer_token(request: web.Request) -> str | None:
    """The user's token: `Authorization: Bearer …`, or for a WebSocket (browsers cannot
    set headers there) the `base64url.bearer.authorization.k8s.io.<token>` subprotocol
    kube-apiserver accepts too."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and header[7:].strip():
        return header[7:].strip()
    for proto in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        proto = proto.strip()
        if proto.startswith(TOKEN_PROTOCOL):
            raw = proto[len(TOKEN_PROTOCOL):]
            try:
                token = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
            except (ValueError, UnicodeDecodeError):
                return None
            return token.strip() or None
    return None


UPSTREAM = web.AppKey("upstream", Upstream)
