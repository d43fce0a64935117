"""RBAC with the real kubectl and users made by `kyb kubeconfig`: what each bootstrap
role allows, in and across namespaces; escalation refused; impersonation allowed only
by the impersonate verb; anonymous requests reach only health and version."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.apiserver import ApiServer, started
from tests.support.http import Http, assert_status
from tests.support.kubectl import Kubectl
from tests.support.poll import wait_for
from tests.support.users import user_kubeconfig

NS, OTHER = "team-a", "team-b"
# user -> how they are bound in NS
GRANTS = {"alice": "clusterrole=admin", "eddie": "clusterrole=edit",
          "vera": "clusterrole=view", "carl": "role=pod-reader"}


@pytest.fixture(scope="module")
def rbac_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with started(ApiServer(tmp_path_factory.mktemp("apiserver"),
                           extra_args=("--authorization-mode", "RBAC,Node"))) as server:
        yield server


@pytest.fixture(scope="module")
def users(rbac_server: ApiServer, tmp_path_factory: pytest.TempPathFactory
          ) -> dict[str, Path]:
    """alice, eddie, vera and carl bound in team-a; nobody bound anywhere."""
    tmp = tmp_path_factory.mktemp("users")
    admin = Kubectl("kubectl", rbac_server, tmp)
    for ns in (NS, OTHER):
        admin("create", "namespace", ns)
    admin("create", "role", "pod-reader", "-n", NS, "--verb=get,list", "--resource=pods")
    for user, grant in GRANTS.items():
        admin("create", "rolebinding", f"{user}-binding", "-n", NS, f"--{grant}",
              f"--user={user}")
    made = {u: user_kubeconfig(rbac_server, tmp, u, "developers") for u in GRANTS}
    made["nobody"] = user_kubeconfig(rbac_server, tmp, "nobody")
    return made


def can_i(kubectl: Kubectl, kubeconfig: Path, *args: str) -> bool:
    done = kubectl.run("--kubeconfig", str(kubeconfig), "auth", "can-i", *args, check=False)
    assert done.stdout.strip() in ("yes", "no"), done.stderr
    return done.stdout.strip() == "yes"


# (verb, resource, namespace, more args) -> who may
MATRIX = [
    (("create", "deployments.apps", NS), {"alice", "eddie"}),
    (("get", "secrets", NS), {"alice", "eddie"}),
    (("list", "pods", NS), {"alice", "eddie", "vera", "carl"}),
    (("get", "pods", NS, "--subresource=log"), {"alice", "eddie", "vera"}),
    (("delete", "pods", NS), {"alice", "eddie"}),
    (("create", "rolebindings.rbac.authorization.k8s.io", NS), {"alice"}),
    (("get", "resourcequotas", NS), {"alice", "eddie", "vera"}),
    (("list", "pods", OTHER), set()),
    (("create", "configmaps", OTHER), set()),
]


@pytest.mark.parametrize("binary", ["kubectl.1.27", "kubectl"])
def test_can_i_matrix(rbac_server: ApiServer, users: dict[str, Path], tmp_path: Path,
                      binary: str) -> None:
    kubectl = Kubectl(binary, rbac_server, tmp_path)
    for (verb, resource, ns, *more), allowed in MATRIX:
        for user, kubeconfig in users.items():
            got = can_i(kubectl, kubeconfig, verb, resource, "-n", ns, *more)
            assert got == (user in allowed), f"{user} {verb} {resource} -n {ns} {more}: {got}"
    for kubeconfig in users.values():  # cluster scope: nobody here may
        assert not can_i(kubectl, kubeconfig, "list", "nodes")
        assert can_i(kubectl, kubeconfig, "create", "selfsubjectaccessreviews.authorization"
                                                    ".k8s.io")


def test_refusals_carry_kubernetes_words(rbac_server: ApiServer, users: dict[str, Path],
                                         tmp_path: Path) -> None:
    kubectl = Kubectl("kubectl", rbac_server, tmp_path)
    done = kubectl.run("--kubeconfig", str(users["vera"]), "get", "secrets", "-n", NS,
                       check=False)
    assert done.returncode == 1
    assert ('Error from server (Forbidden): secrets is forbidden: User "vera" cannot list '
            'resource "secrets" in API group "" in the namespace "team-a"') in done.stderr
    done = kubectl.run("--kubeconfig", str(users["carl"]), "delete", "pod", "web", "-n", NS,
                       check=False)
    assert ('pods "web" is forbidden: User "carl" cannot delete resource "pods" in API '
            'group "" in the namespace "team-a"') in done.stderr


def test_can_i_list_shows_a_custom_roles_rules(rbac_server: ApiServer,
                                               users: dict[str, Path], tmp_path: Path) -> None:
    kubectl = Kubectl("kubectl", rbac_server, tmp_path)
    out = kubectl("--kubeconfig", str(users["carl"]), "auth", "can-i", "--list", "-n", NS)
    rows = [line.split() for line in out.splitlines()]
    assert ["pods", "[]", "[]", "[get", "list]"] in rows
    assert any(r[0] == "selfsubjectaccessreviews.authorization.k8s.io" for r in rows)
    assert not any(r[0] == "secrets" for r in rows)


def test_escalation_is_refused(rbac_server: ApiServer, users: dict[str, Path],
                               tmp_path: Path) -> None:
    """alice administers team-a: she may grant what she holds there, nothing more."""
    kubectl = Kubectl("kubectl", rbac_server, tmp_path)
    alice = ("--kubeconfig", str(users["alice"]), "-n", NS)
    done = kubectl.run(*alice, "create", "role", "node-reader", "--verb=get",
                       "--resource=nodes", check=False)
    assert done.returncode == 1
    assert ('roles.rbac.authorization.k8s.io "node-reader" is forbidden: user "alice" '
            '(groups=["developers" "system:authenticated"]) is attempting to grant RBAC '
            'permissions not currently held:\n{APIGroups:[""], Resources:["nodes"], '
            'Verbs:["get"]}') in done.stderr
    done = kubectl.run(*alice, "create", "rolebinding", "root", "--clusterrole=cluster-admin",
                       "--user=alice", check=False)
    assert done.returncode == 1 and "is attempting to grant RBAC permissions" in done.stderr
    kubectl(*alice, "create", "role", "cm-reader", "--verb=get", "--resource=configmaps")
    kubectl(*alice, "create", "rolebinding", "vera-views", "--clusterrole=view",
            "--user=nobody")
    done = kubectl.run(*alice, "create", "rolebinding", "ghost", "--clusterrole=no-such-role",
                       "--user=nobody", check=False)
    assert 'clusterrole.rbac.authorization.k8s.io "no-such-role" not found' in done.stderr
    assert wait_for(lambda: can_i(kubectl, users["nobody"], "list", "pods", "-n", NS),
                           what="nobody may view team-a once alice bound view")


def test_impersonation_needs_the_impersonate_verb(rbac_server: ApiServer,
                                                  users: dict[str, Path],
                                                  tmp_path: Path) -> None:
    kubectl = Kubectl("kubectl", rbac_server, tmp_path)
    assert kubectl("--as", "carl", "get", "pods", "-n", NS, "-o", "name") == ""
    done = kubectl.run("--as", "carl", "get", "secrets", "-n", NS, check=False)
    assert 'User "carl" cannot list resource "secrets"' in done.stderr
    eddie = ("--kubeconfig", str(users["eddie"]))
    done = kubectl.run(*eddie, "--as", "alice", "get", "pods", "-n", NS, check=False)
    assert ('users "alice" is forbidden: User "eddie" cannot impersonate resource "users" in '
            'API group "" at the cluster scope') in done.stderr
    kubectl("create", "clusterrole", "impersonate-alice", "--verb=impersonate",
            "--resource=users", "--resource-name=alice")
    kubectl("create", "clusterrolebinding", "eddie-as-alice",
            "--clusterrole=impersonate-alice", "--user=eddie")
    whoami = wait_for(
        lambda: kubectl.run(*eddie, "--as", "alice", "auth", "whoami", "-o", "json",
                            check=False).stdout, what="eddie may act as alice")
    info = json.loads(whoami)["status"]["userInfo"]
    assert info["username"] == "alice" and info["groups"] == ["system:authenticated"]
    done = kubectl.run(*eddie, "--as", "alice", "--as-group", "system:masters", "get", "pods",
                       check=False)
    assert ('groups "system:masters" is forbidden: User "eddie" cannot impersonate resource '
            '"groups"') in done.stderr


def test_subject_access_review_answers_for_another_user(rbac_server: ApiServer,
                                                        users: dict[str, Path]) -> None:
    http = Http(rbac_server)
    review: dict[str, Any] = {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": "carl", "resourceAttributes": {
            "namespace": NS, "verb": "get", "resource": "pods"}}}
    path = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
    answer = http("POST", path, review)
    assert answer.status_code == 201 and answer.json()["status"]["allowed"] is True
    review["spec"]["resourceAttributes"]["verb"] = "delete"
    assert http("POST", path, review).json()["status"]["allowed"] is False
    del review["spec"]["user"]
    status = assert_status(http("POST", path, review), 422, "Invalid")
    assert status["details"]["causes"][0]["field"] == "spec.user"


def test_anonymous_reaches_only_health_and_version(rbac_server: ApiServer) -> None:
    anonymous = Http(rbac_server, authenticated=False)
    for path in ("/healthz", "/livez", "/readyz", "/version"):
        assert anonymous("GET", path).status_code == 200
    status = assert_status(anonymous("GET", "/api/v1/pods"), 403, "Forbidden")
    assert status["message"] == ('pods is forbidden: User "system:anonymous" cannot list '
                                 'resource "pods" in API group "" at the cluster scope')
    status = assert_status(anonymous("GET", "/api"), 403, "Forbidden")
    assert status["message"] == 'forbidden: User "system:anonymous" cannot get path "/api"'
