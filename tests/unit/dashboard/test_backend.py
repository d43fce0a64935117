"""The dashboard backend's pure parts: whose token a request carries, what it may ask
for, and that the backend never holds credentials of its own."""

from __future__ import annotations

import argparse
import base64

import pytest
from aiohttp.test_utils import make_mocked_request

from kybernetes.cli.dashboard import _ssl_context, is_loopback
from kybernetes.cli.errors import CliError
from kybernetes.client.kubeconfig import KubeConfig
from kybernetes.dashboard.events import listable
from kybernetes.dashboard.exec_bridge import EXEC_PATH
from kybernetes.dashboard.upstream import Upstream, bearer_token


def _b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(("headers", "token"), [
    ({"Authorization": "Bearer abc.def"}, "abc.def"),
    ({"Authorization": "Bearer   "}, None),
    ({"Authorization": "Basic eDp5"}, None),
    ({}, None),
    ({"Sec-WebSocket-Protocol": f"v5.channel.k8s.io, base64url.bearer.authorization.k8s.io."
                                f"{_b64url('tok-1')}"}, "tok-1"),
    ({"Sec-WebSocket-Protocol": "base64url.bearer.authorization.k8s.io.%%%"}, None),
])
def test_the_users_token_comes_from_the_header_or_the_websocket_subprotocol(
        headers: dict[str, str], token: str | None) -> None:
    assert bearer_token(make_mocked_request("GET", "/api/live", headers=headers)) == token


def test_the_upstream_drops_any_credentials_of_the_kubeconfig() -> None:
    upstream = Upstream(KubeConfig(server="https://10.0.0.1:6443/", cert_pem=b"c",
                                   key_pem=b"k", token="admin", insecure=True))
    assert upstream.url == "https://10.0.0.1:6443"
    assert (upstream.config.cert_pem, upstream.config.key_pem, upstream.config.token) == \
        (None, None, None)
    assert upstream.headers("user-token")["Authorization"] == "Bearer user-token"


@pytest.mark.parametrize(("path", "ok"), [
    ("/api/v1/pods", True), ("/apis/apps/v1/namespaces/a/deployments", True),
    ("/healthz", False), ("/api/v1/../../etc", False), ("/api/v1/pods?watch=1", False),
])
def test_only_api_lists_are_followed(path: str, ok: bool) -> None:
    assert listable(path) is ok


@pytest.mark.parametrize(("path", "ok"), [
    ("/api/v1/namespaces/default/pods/web-1/exec?command=sh", True),
    ("/api/v1/namespaces/default/pods/web-1/attach?x=1", False),
    ("/api/v1/nodes/n1/proxy?x", False),
])
def test_the_terminal_reaches_only_pod_exec(path: str, ok: bool) -> None:
    assert bool(EXEC_PATH.match(path)) is ok


def _args(**kw: str | None) -> argparse.Namespace:
    return argparse.Namespace(**{"bind_address": "127.0.0.1", "tls_cert_file": None,
                                 "tls_private_key_file": None, **kw})


def test_plain_http_only_on_loopback() -> None:
    assert _ssl_context(_args()) is None
    assert is_loopback("::1") and is_loopback("localhost") and not is_loopback("0.0.0.0")
    with pytest.raises(CliError, match="not loopback"):
        _ssl_context(_args(bind_address="0.0.0.0"))
    with pytest.raises(CliError, match="go together"):
        _ssl_context(_args(tls_cert_file="/x"))
