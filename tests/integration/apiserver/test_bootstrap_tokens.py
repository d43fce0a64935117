"""Bootstrap tokens on a real API server: `Bearer <id>.<secret>` is
system:bootstrap:<id> while its kube-system Secret is valid and unexpired; what
kubeadm's bindings let it do (create CSRs, nothing else); cluster-info readable
anonymously."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import requests

from kybernetes.api import bootstrap_tokens as bt
from tests.support.apiserver import ApiServer
from tests.support.http import Http

REVIEW = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"


def _as(server: ApiServer, token: str, method: str, path: str, body: Any = None,
        ) -> requests.Response:
    http = Http(server, authenticated=False)
    http.session.headers["Authorization"] = f"Bearer {token}"
    return http(method, path, body)


def _store(server: ApiServer, token: str, **kwargs: Any) -> None:
    answer = Http(server)("POST", "/api/v1/namespaces/kube-system/secrets",
                          bt.secret_for(token, **kwargs))
    assert answer.status_code == 201, answer.text


def _review() -> dict[str, Any]:
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


def test_a_valid_token_is_its_bootstrapper(sqlite_server: ApiServer) -> None:
    token = bt.new_token()
    assert bt.TOKEN_RE.match(token)
    _store(sqlite_server, token, ttl=_dt.timedelta(hours=1), description="test")
    answer = _as(sqlite_server, token, "POST", REVIEW, _review())
    assert answer.status_code == 201, answer.text
    user = answer.json()["status"]["userInfo"]
    assert user["username"] == f"system:bootstrap:{token[:6]}"
    assert user["groups"] == ["system:bootstrappers", bt.DEFAULT_NODE_GROUP,
                              "system:authenticated"]
    # kubeadm's bindings: node-bootstrapper (CSRs) and nothing more
    listed = _as(sqlite_server, token, "GET", CSRS)
    assert listed.status_code == 200, listed.text
    pods = _as(sqlite_server, token, "GET", "/api/v1/pods")
    assert pods.status_code == 403, pods.text


def test_expired_wrong_or_deleted_tokens_are_refused(sqlite_server: ApiServer) -> None:
    expired = bt.new_token()
    _store(sqlite_server, expired, ttl=_dt.timedelta(minutes=1),
           now=_dt.datetime.now(_dt.UTC) - _dt.timedelta(hours=1))
    assert _as(sqlite_server, expired, "POST", REVIEW, _review()).status_code == 401
    valid = bt.new_token()
    _store(sqlite_server, valid, ttl=None)
    wrong = valid[:7] + ("a" if valid[7] != "a" else "b") + valid[8:]
    assert _as(sqlite_server, wrong, "POST", REVIEW, _review()).status_code == 401
    assert _as(sqlite_server, valid, "POST", REVIEW, _review()).status_code == 201
    deleted = Http(sqlite_server)(
        "DELETE", f"/api/v1/namespaces/kube-system/secrets/bootstrap-token-{valid[:6]}")
    assert deleted.status_code == 200, deleted.text
    assert _as(sqlite_server, valid, "POST", REVIEW, _review()).status_code == 401
    never = bt.new_token()  # no Secret at all
    assert _as(sqlite_server, never, "POST", REVIEW, _review()).status_code == 401


def test_cluster_info_is_public(sqlite_server: ApiServer) -> None:
    ca = (sqlite_server.data_dir / "pki" / "ca.crt").read_bytes()
    made = Http(sqlite_server)("POST", "/api/v1/namespaces/kube-public/configmaps",
                               bt.cluster_info(sqlite_server.url, ca))
    assert made.status_code == 201, made.text
    anonymous = Http(sqlite_server, authenticated=False)
    got = anonymous("GET", "/api/v1/namespaces/kube-public/configmaps/cluster-info")
    assert got.status_code == 200, got.text
    assert sqlite_server.url in got.json()["data"]["kubeconfig"]
    other = anonymous("GET", "/api/v1/namespaces/kube-public/configmaps")
    assert other.status_code == 403
