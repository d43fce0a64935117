"""TokenReview (authentication.k8s.io/v1) on a real API server: what a kubelet with
--authentication-token-webhook asks. Create-only, never stored, allowed by
system:auth-delegator."""

from __future__ import annotations

from pathlib import Path

import requests

from kybernetes.client import load_kubeconfig
from tests.support.apiserver import ApiServer
from tests.support.http import Http, assert_status
from tests.support.kubectl import Kubectl
from tests.support.poll import wait_for
from tests.support.users import user_kubeconfig

PATH = "/apis/authentication.k8s.io/v1/tokenreviews"
ISSUER = "https://kubernetes.default.svc.cluster.local"


def _review(token: str, *audiences: str) -> dict:
    spec: dict = {"token": token}
    if audiences:
        spec["audiences"] = list(audiences)
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}


def test_a_service_account_token_is_reviewed(sqlite_server: ApiServer, tmp_path: Path) -> None:
    kubectl = Kubectl("kubectl", sqlite_server, tmp_path)
    kubectl("create", "serviceaccount", "reviewed")
    uid = kubectl.json("get", "serviceaccount", "reviewed")["metadata"]["uid"]
    token = kubectl("create", "token", "reviewed").strip()
    http = Http(sqlite_server)
    answer = http("POST", PATH, _review(token))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["kind"], body["apiVersion"]) == ("TokenReview", "authentication.k8s.io/v1")
    status = body["status"]
    assert status["authenticated"] is True and status["audiences"] == [ISSUER]
    user = status["user"]
    assert (user["username"], user["uid"]) == ("system:serviceaccount:default:reviewed", uid)
    assert user["groups"] == ["system:serviceaccounts", "system:serviceaccounts:default",
                              "system:authenticated"]
    assert "authentication.kubernetes.io/credential-id" in user["extra"]


def test_audiences_are_the_reviews_or_the_api_servers(sqlite_server: ApiServer,
                                                       tmp_path: Path) -> None:
    kubectl = Kubectl("kubectl", sqlite_server, tmp_path)
    kubectl("create", "serviceaccount", "aud")
    token = kubectl("create", "token", "aud", "--audience", "vault").strip()
    http = Http(sqlite_server)
    assert http("POST", PATH, _review(token)).json()["status"] == {"user": {}}
    status = http("POST", PATH, _review(token, "vault", "other")).json()["status"]
    assert status["authenticated"] is True and status["audiences"] == ["vault"]


def test_unknown_tokens_and_bad_reviews(sqlite_server: ApiServer) -> None:
    http = Http(sqlite_server)
    answer = http("POST", PATH, _review("not-a-token"))
    assert answer.status_code == 201 and answer.json()["status"] == {"user": {}}
    status = assert_status(http("POST", PATH, {"apiVersion": "authentication.k8s.io/v1",
                                               "kind": "TokenReview", "spec": {}}),
                           400, "BadRequest")
    assert status["message"] == "token is required for TokenReview in authentication"
    assert_status(http("POST", PATH, "[1,"), 400, "BadRequest")


def test_creating_one_takes_auth_delegator(sqlite_server: ApiServer, tmp_path: Path) -> None:
    kubectl = Kubectl("kubectl", sqlite_server, tmp_path)
    carol = user_kubeconfig(sqlite_server, tmp_path, "carol")
    pki = sqlite_server.data_dir / "pki"
    kubectl("create", "serviceaccount", "probe")
    token = kubectl("create", "token", "probe").strip()

    def post() -> requests.Response:
        return _post_as(carol, pki, sqlite_server.url, token)

    assert post().status_code == 403
    kubectl("create", "clusterrolebinding", "carol-delegates",
            "--clusterrole=system:auth-delegator", "--user=carol")
    answer = wait_for(lambda: (a := post()).status_code == 201 and a, what="allowed")
    assert answer.json()["status"]["authenticated"] is True


def _post_as(kubeconfig: Path, pki: Path, url: str, token: str) -> requests.Response:
    """POST a review with the client certificate in `kubeconfig`."""
    config = load_kubeconfig(kubeconfig)
    cert, key = kubeconfig.with_suffix(".crt"), kubeconfig.with_suffix(".key")
    cert.write_bytes(config.cert_pem or b"")
    key.write_bytes(config.key_pem or b"")
    return requests.post(url + PATH, json=_review(token), cert=(str(cert), str(key)),
                         verify=str(pki / "ca.crt"), timeout=10)
