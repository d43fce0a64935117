"""ServiceAccount tokens end to end with the real kubectl: TokenRequest, the token
authenticator, SelfSubjectReview (`kubectl auth whoami`) and issuer discovery."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from kybernetes.apiserver.serviceaccount.keys import SigningKey, ensure_signing_key
from kybernetes.apiserver.serviceaccount.tokens import ObjectRef, TokenAuthority, TokenSubject
from tests.support.apiserver import ApiServer
from tests.support.kubectl import Kubectl

UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


@pytest.fixture
def kubectl(sqlite_server: ApiServer, tmp_path: Path) -> Kubectl:
    return Kubectl("kubectl", sqlite_server, tmp_path)


@pytest.fixture
def robot(kubectl: Kubectl, request: pytest.FixtureRequest) -> str:
    """A ServiceAccount of this test's own in `default`."""
    name = request.node.name.replace("_", "-")[:50].strip("-")
    kubectl("create", "serviceaccount", name)
    return name


def _part(token: str, index: int) -> dict:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _claims(token: str) -> dict:
    return _part(token, 1)


def _as_token(kubectl: Kubectl, server: ApiServer, token: str, *args: str, check: bool = True):
    empty = kubectl.tmp / "no-credentials"
    empty.write_text("")
    return kubectl.run("--kubeconfig", str(empty), "--server", server.url,
                       "--certificate-authority", str(server.data_dir / "pki" / "ca.crt"),
                       "--token", token, *args, check=check)


def _whoami(kubectl: Kubectl, server: ApiServer, token: str) -> dict:
    out = _as_token(kubectl, server, token, "auth", "whoami", "-o", "json").stdout
    return json.loads(out)["status"]["userInfo"]


def _get_with(server: ApiServer, token: str) -> requests.Response:
    """GET /api (discovery: any authenticated user may) with a bearer token."""
    return requests.get(f"{server.url}/api", timeout=5,
                        verify=str(server.data_dir / "pki" / "ca.crt"),
                        headers={"Authorization": f"Bearer {token}"})


def test_create_token_then_whoami_is_the_service_account(
        kubectl: Kubectl, sqlite_server: ApiServer, robot: str) -> None:
    token = kubectl("create", "token", robot).strip()
    user = _whoami(kubectl, sqlite_server, token)
    uid = kubectl.json("get", "serviceaccount", robot)["metadata"]["uid"]
    assert user["username"] == f"system:serviceaccount:default:{robot}"
    assert user["uid"] == uid
    assert user["groups"] == ["system:serviceaccounts", "system:serviceaccounts:default",
                              "system:authenticated"]
    claims = _claims(token)
    assert claims["iss"] == "https://kubernetes.default.svc.cluster.local"
    assert claims["aud"] == ["https://kubernetes.default.svc.cluster.local"]
    assert claims["sub"] == f"system:serviceaccount:default:{robot}"
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]
    assert claims["kubernetes.io"] == {"namespace": "default",
                                       "serviceaccount": {"name": robot, "uid": uid}}


def test_whoami_answers_for_client_certificates(kubectl: Kubectl) -> None:
    user = json.loads(kubectl("auth", "whoami", "-o", "json"))["status"]["userInfo"]
    assert user == {"username": "kubernetes-admin",
                    "groups": ["system:masters", "system:authenticated"]}
    listed = kubectl("api-resources", "--api-group", "authentication.k8s.io", "-o", "wide")
    assert listed.splitlines()[1].split() == ["selfsubjectreviews", "authentication.k8s.io/v1",
                                              "false", "SelfSubjectReview", "create"]


def test_whoami_answers_for_static_tokens(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('static-secret,alice,uid-1,"dev,ops"\n')
    server = ApiServer(tmp_path / "srv", extra_args=("--token-auth-file", str(tokens))).start()
    try:
        user = _whoami(Kubectl("kubectl", server, tmp_path), server, "static-secret")
        assert user == {"username": "alice", "uid": "uid-1",
                        "groups": ["dev", "ops", "system:authenticated"]}
    finally:
        server.stop()


def test_token_bound_to_a_deleted_pod_stops_working(
        kubectl: Kubectl, sqlite_server: ApiServer, robot: str) -> None:
    node = f"{robot}-node"
    kubectl("create", "-f", "-", stdin=json.dumps(
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}}))
    overrides = json.dumps({"spec": {"serviceAccountName": robot, "nodeName": node}})
    kubectl("run", f"{robot}-pod", "--image", "busybox", f"--overrides={overrides}")
    pod_uid = kubectl.json("get", "pod", f"{robot}-pod")["metadata"]["uid"]
    node_uid = kubectl.json("get", "node", node)["metadata"]["uid"]
    token = kubectl("create", "token", robot, "--bound-object-kind", "Pod",
                    "--bound-object-name", f"{robot}-pod").strip()
    bound = _claims(token)["kubernetes.io"]
    assert bound["pod"] == {"name": f"{robot}-pod", "uid": pod_uid}
    assert bound["node"] == {"name": node, "uid": node_uid}
    extra = _whoami(kubectl, sqlite_server, token)["extra"]
    assert extra["authentication.kubernetes.io/pod-uid"] == [pod_uid]
    assert extra["authentication.kubernetes.io/node-name"] == [node]
    kubectl("delete", "pod", f"{robot}-pod", "--grace-period=0", "--force")
    deadline = time.monotonic() + 5
    while (response := _get_with(sqlite_server, token)).status_code != 401:
        assert time.monotonic() < deadline, response.status_code
        time.sleep(0.05)
    assert response.json() == UNAUTHORIZED


def test_token_of_a_deleted_service_account_is_refused(
        kubectl: Kubectl, sqlite_server: ApiServer, robot: str) -> None:
    token = kubectl("create", "token", robot).strip()
    kubectl("delete", "serviceaccount", robot)
    kubectl("create", "serviceaccount", robot)  # same name, another uid
    deadline = time.monotonic() + 5
    while _get_with(sqlite_server, token).status_code != 401:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    failed = _as_token(kubectl, sqlite_server, token, "auth", "whoami", check=False)
    assert failed.returncode != 0 and "Unauthorized" in failed.stderr


def test_expired_and_foreign_signed_tokens_are_401(
        kubectl: Kubectl, sqlite_server: ApiServer, robot: str) -> None:
    uid = kubectl.json("get", "serviceaccount", robot)["metadata"]["uid"]
    subject = TokenSubject("default", ObjectRef(robot, uid))
    ours = TokenAuthority(ensure_signing_key(sqlite_server.data_dir))
    live, _ = ours.issue(subject, audiences=list(ours.api_audiences), expiration_seconds=600)
    assert _get_with(sqlite_server, live).status_code == 200
    expired, _ = ours.issue(subject, audiences=list(ours.api_audiences),
                            expiration_seconds=600, now=time.time() - 3600)
    foreign = TokenAuthority(SigningKey.of(rsa.generate_private_key(65537, 2048)))
    forged, _ = foreign.issue(subject, audiences=list(ours.api_audiences),
                              expiration_seconds=600)
    other_audience, _ = ours.issue(subject, audiences=["vault"], expiration_seconds=600)
    for token in (expired, forged, other_audience):
        response = _get_with(sqlite_server, token)
        assert response.status_code == 401 and response.json() == UNAUTHORIZED


def test_token_request_validation_is_worded_as_kubernetes(kubectl: Kubectl, robot: str) -> None:
    short = kubectl.run("create", "token", robot, "--duration", "1m", check=False)
    assert short.returncode != 0
    assert ('TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: '
            "Invalid value: 60: may not specify a duration less than 10 minutes") in short.stderr
    missing = kubectl.run("create", "token", "nobody-here", check=False)
    assert 'serviceaccounts "nobody-here" not found' in missing.stderr
    unbound = kubectl.run("create", "token", robot, "--bound-object-kind", "Pod",
                          "--bound-object-name", "no-such-pod", check=False)
    assert 'pods "no-such-pod" not found' in unbound.stderr
    kubectl("run", f"{robot}-other", "--image", "busybox")  # runs as `default`
    foreign_pod = kubectl.run("create", "token", robot, "--bound-object-kind", "Pod",
                              "--bound-object-name", f"{robot}-other", check=False)
    assert (f'cannot bind token for serviceaccount "{robot}" to pod running with different '
            "serviceaccount name.") in foreign_pod.stderr
    kubectl("create", "secret", "generic", f"{robot}-secret")
    recreated = kubectl.run("create", "token", robot, "--bound-object-kind", "Secret",
                            "--bound-object-name", f"{robot}-secret",
                            "--bound-object-uid", "not-its-uid", check=False)
    assert (f'Operation cannot be fulfilled on Secret "{robot}-secret": the UID in the bound '
            "object reference (not-its-uid) does not match the UID in record") in recreated.stderr


def test_token_request_answer_is_the_request_completed(kubectl: Kubectl, robot: str) -> None:
    answer = kubectl.json("create", "token", robot)
    assert answer["kind"] == "TokenRequest"
    assert answer["apiVersion"] == "authentication.k8s.io/v1"
    assert answer["spec"] == {"audiences": ["https://kubernetes.default.svc.cluster.local"],
                              "boundObjectRef": None, "expirationSeconds": 3600}
    assert set(answer["status"]) == {"token", "expirationTimestamp"}


def test_issuer_discovery_serves_the_verification_key(
        kubectl: Kubectl, sqlite_server: ApiServer, robot: str) -> None:
    config = json.loads(kubectl("get", "--raw", "/.well-known/openid-configuration"))
    assert config["issuer"] == "https://kubernetes.default.svc.cluster.local"
    assert config["jwks_uri"].endswith("/openid/v1/jwks")
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]
    keys = json.loads(kubectl("get", "--raw", "/openid/v1/jwks"))["keys"]
    token = kubectl("create", "token", robot).strip()
    assert [k["kid"] for k in keys] == [_part(token, 0)["kid"]] and keys[0]["kty"] == "RSA"
    anonymous = requests.get(f"{sqlite_server.url}/openid/v1/jwks", timeout=5,
                             verify=str(sqlite_server.data_dir / "pki" / "ca.crt"))
    assert anonymous.status_code == 403  # only system:serviceaccounts is bound to read it


def test_official_python_client_requests_a_token_and_reviews_itself(
        sqlite_server: ApiServer, robot: str) -> None:
    with k8s_config.new_client_from_config(config_file=str(sqlite_server.kubeconfig)) as api:
        request = k8s.AuthenticationV1TokenRequest(
            spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=600))
        answer = k8s.CoreV1Api(api).create_namespaced_service_account_token(
            robot, "default", request)
        assert answer.spec.expiration_seconds == 600
        review = k8s.AuthenticationV1Api(api).create_self_subject_review(
            k8s.V1SelfSubjectReview())
        assert review.status.user_info.username == "kubernetes-admin"
    assert _claims(answer.status.token)["exp"] - _claims(answer.status.token)["iat"] == 600
