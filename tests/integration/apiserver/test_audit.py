"""The audit log of a real API server (``--audit-policy-file``, ``--audit-log-path``),
driven by the real kubectl and raw HTTP, read back as kube's JSON lines."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.apiserver import ApiServer
from tests.support.http import Http
from tests.support.kubectl import Kubectl
from tests.support.poll import wait_for

POLICY = """
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
- level: None
  userGroups: ["quiet"]
- level: RequestResponse
  users: ["carol"]
- level: Metadata
  verbs: ["watch"]
  omitStages: ["RequestReceived"]
- level: RequestResponse
  namespaces: ["rr"]
- level: Request
  resources:
  - group: ""
    resources: ["configmaps"]
    resourceNames: ["chosen"]
- level: Request
  resources: [{group: "", resources: ["pods/status"]}]
- level: Metadata
  nonResourceURLs: ["/version"]
- level: None
  nonResourceURLs: ["*"]
- level: Metadata
"""
TOKENS = 'alice-token,alice,uid-alice,"dev"\nbob-token,bob,uid-bob,"quiet"\n' \
         'carol-token,carol,uid-carol\n'
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def events(self) -> list[dict[str, Any]]:
        text = self.path.read_text() if self.path.exists() else ""
        return [json.loads(line) for line in text.splitlines()]

    def wait(self, match: Any, *, count: int = 1, what: str = "audit events"
             ) -> list[dict[str, Any]]:
        """The events `match` accepts, once there are `count` of them."""
        def found() -> list[dict[str, Any]]:
            hits = [e for e in self.events() if match(e)]
            return hits if len(hits) >= count else []
        return wait_for(found, within=10, what=what)


def _write(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.write_text(text)
    return str(path)


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiServer, AuditLog]]:
    """An RBAC API server auditing with POLICY; alice, bob and carol have no bindings."""
    tmp = tmp_path_factory.mktemp("audit")
    log = tmp / "logs" / "audit.log"
    server = ApiServer(tmp / "srv", extra_args=(
        "--authorization-mode", "RBAC", "--token-auth-file", _write(tmp, "tokens", TOKENS),
        "--audit-policy-file", _write(tmp, "policy.yaml", POLICY),
        "--audit-log-path", str(log))).start()
    try:
        yield server, AuditLog(log)
    finally:
        server.stop()


@pytest.fixture
def kubectl(audited: tuple[ApiServer, AuditLog], tmp_path: Path) -> Kubectl:
    return Kubectl("kubectl", audited[0], tmp_path)


def as_user(kubectl: Kubectl, server: ApiServer, token: str, *args: str
            ) -> subprocess.CompletedProcess[str]:
    """kubectl with only `token` (the admin kubeconfig's certificate would win)."""
    return kubectl.run("--kubeconfig", "/dev/null", "--server", server.url, "--token", token,
                       "--certificate-authority", str(server.data_dir / "pki" / "ca.crt"),
                       *args, check=False)


def _named(name: str, stage: str = "ResponseComplete") -> Any:
    return lambda e: e["stage"] == stage and e.get("objectRef", {}).get("name") == name


def test_create_at_metadata_level(audited: tuple[ApiServer, AuditLog],
                                  kubectl: Kubectl) -> None:
    _, log = audited
    kubectl("create", "configmap", "plain", "--from-literal=k=v")
    [event] = log.wait(_named("plain"))
    assert list(event)[:8] == ["kind", "apiVersion", "level", "auditID", "stage",
                               "requestURI", "verb", "user"]
    assert event["kind"] == "Event" and event["apiVersion"] == "audit.k8s.io/v1"
    assert event["level"] == "Metadata" and event["verb"] == "create"
    assert event["requestURI"].startswith("/api/v1/namespaces/default/configmaps?")
    assert event["user"]["username"] == "kubernetes-admin"
    assert "system:masters" in event["user"]["groups"]
    assert event["sourceIPs"] == ["127.0.0.1"] and event["userAgent"].startswith("kubectl/")
    assert event["objectRef"] == {"resource": "configmaps", "namespace": "default",
                                  "name": "plain", "apiVersion": "v1"}
    assert event["responseStatus"] == {"metadata": {}, "code": 201}
    assert "requestObject" not in event and "responseObject" not in event
    assert event["annotations"] == {"authorization.k8s.io/decision": "allow",
                                    "authorization.k8s.io/reason": ""}
    assert MICRO_TIME.match(event["requestReceivedTimestamp"])
    assert MICRO_TIME.match(event["stageTimestamp"])
    assert event["stageTimestamp"] >= event["requestReceivedTimestamp"]
    [received] = log.wait(lambda e: e["auditID"] == event["auditID"]
                          and e["stage"] == "RequestReceived")
    assert received["stageTimestamp"] == received["requestReceivedTimestamp"]
    assert "annotations" not in received and "responseStatus" not in received


def test_create_at_request_and_request_response_levels(
        audited: tuple[ApiServer, AuditLog], kubectl: Kubectl) -> None:
    _, log = audited
    kubectl("create", "namespace", "rr")
    kubectl("create", "configmap", "full", "-n", "rr", "--from-literal=k=v")
    [full] = log.wait(_named("full"))
    assert full["level"] == "RequestResponse"
    assert full["requestObject"]["data"] == {"k": "v"}
    assert full["responseObject"]["metadata"]["uid"]
    assert full["responseObject"]["kind"] == "ConfigMap"
    # resourceNames match the name in the path: not a create's (as in Kubernetes)
    kubectl("create", "configmap", "chosen", "--from-literal=k=v")
    kubectl("label", "configmap", "chosen", "tier=gold")
    events = {e["verb"]: e for e in log.wait(_named("chosen"), count=3)}  # get, then patch
    created, read, patched = events["create"], events["get"], events["patch"]
    assert read["level"] == "Request" and "requestObject" not in read
    assert (created["verb"], created["level"]) == ("create", "Metadata")
    assert (patched["verb"], patched["level"]) == ("patch", "Request")
    assert patched["requestObject"] == {"metadata": {"labels": {"tier": "gold"}}}
    assert "responseObject" not in patched and "requestObject" not in created


def test_forbidden_request_is_audited_with_the_decision(
        audited: tuple[ApiServer, AuditLog], kubectl: Kubectl) -> None:
    server, log = audited
    denied = as_user(kubectl, server, "alice-token", "get", "secrets")
    assert denied.returncode != 0 and "forbidden" in denied.stderr
    [event] = log.wait(lambda e: e["user"].get("username") == "alice"
                       and e.get("objectRef", {}).get("resource") == "secrets"
                       and e["stage"] == "ResponseComplete")
    assert event["user"] == {"username": "alice", "uid": "uid-alice",
                             "groups": ["dev", "system:authenticated"]}
    status = event["responseStatus"]
    assert (status["code"], status["status"], status["reason"]) == (403, "Failure",
                                                                    "Forbidden")
    assert 'User "alice" cannot list resource "secrets"' in status["message"]
    assert event["annotations"]["authorization.k8s.io/decision"] == "forbid"
    assert "authorization.k8s.io/reason" in event["annotations"]


def test_failed_authentication_is_one_event_without_a_user(
        audited: tuple[ApiServer, AuditLog]) -> None:
    server, log = audited
    http = Http(server, authenticated=False)
    http.session.headers["Authorization"] = "Bearer wrong"
    response = http("GET", "/api/v1/namespaces/default/limitranges")
    assert response.status_code == 401
    audit_id = response.headers["Audit-Id"]
    [event] = log.wait(lambda e: e["auditID"] == audit_id)
    assert event["stage"] == "ResponseStarted" and event["user"] == {}
    assert event["responseStatus"] == {
        "metadata": {}, "message": "Authentication failed, attempted: bearer", "code": 401}
    assert "annotations" not in event


def test_watch_is_started_then_completed(audited: tuple[ApiServer, AuditLog],
                                         kubectl: Kubectl) -> None:
    _, log = audited
    kubectl.run("get", "configmaps", "-w", "--request-timeout=2s", check=False)
    started, complete = log.wait(lambda e: e["verb"] == "watch"
                                 and e["user"].get("username") == "kubernetes-admin",
                                 count=2, what="watch events")
    assert (started["stage"], complete["stage"]) == ("ResponseStarted", "ResponseComplete")
    assert started["auditID"] == complete["auditID"]
    assert started["responseStatus"] == complete["responseStatus"] == {"metadata": {},
                                                                      "code": 200}
    assert complete["stageTimestamp"] > started["stageTimestamp"]
    assert started["annotations"]["authorization.k8s.io/decision"] == "allow"
    assert not [e for e in log.events() if e["auditID"] == started["auditID"]
                and e["stage"] == "RequestReceived"]  # the rule's omitStages


def test_rules_match_users_groups_subresources_and_paths(
        audited: tuple[ApiServer, AuditLog], kubectl: Kubectl) -> None:
    server, log = audited
    assert as_user(kubectl, server, "bob-token", "get", "configmaps").returncode == 1
    as_user(kubectl, server, "carol-token", "get", "configmap", "plain")
    [carol] = log.wait(lambda e: e["user"].get("username") == "carol"
                       and e.get("objectRef", {}).get("name") == "plain"
                       and e["stage"] == "ResponseComplete")
    assert carol["level"] == "RequestResponse"
    assert carol["responseObject"]["reason"] == "Forbidden"  # the Status is the response
    kubectl.run("get", "--raw", "/api/v1/namespaces/default/pods/nope/status", check=False)
    [status] = log.wait(lambda e: e.get("objectRef", {}).get("subresource") == "status"
                        and e["stage"] == "ResponseComplete")
    assert status["level"] == "Request" and status["responseStatus"]["code"] == 404
    assert status["objectRef"]["name"] == "nope"
    http = Http(server)
    for path in ("/version", "/healthz", "/apis"):
        assert http("GET", path).status_code == 200
    [version] = log.wait(lambda e: e["requestURI"] == "/version"
                         and e["stage"] == "ResponseComplete")
    assert version["verb"] == "get" and "objectRef" not in version
    events = log.events()
    assert not [e for e in events if e["user"].get("username") == "bob"]
    assert not [e for e in events if e["requestURI"] in ("/healthz", "/apis")]


def test_impersonation_is_recorded_and_rules_see_the_requester(
        audited: tuple[ApiServer, AuditLog], kubectl: Kubectl) -> None:
    _, log = audited
    kubectl.run("get", "configmap", "plain", "--as", "carol", check=False)
    [event] = log.wait(lambda e: e.get("impersonatedUser", {}).get("username") == "carol"
                       and _named("plain")(e))
    assert event["user"]["username"] == "kubernetes-admin"
    assert event["level"] == "Metadata"  # carol's rule is not the requester's
    assert event["responseStatus"]["code"] == 403
    assert event["annotations"]["authorization.k8s.io/decision"] == "forbid"


def test_every_response_carries_an_audit_id(audited: tuple[ApiServer, AuditLog],
                                            sqlite_server: ApiServer) -> None:
    server, log = audited
    response = Http(server)("GET", "/api/v1/namespaces/default/configmaps/plain")
    [event] = log.wait(lambda e: e["auditID"] == response.headers["Audit-Id"]
                       and e["stage"] == "ResponseComplete")
    assert event["objectRef"]["name"] == "plain"
    unaudited = Http(sqlite_server)
    for path in ("/version", "/api/v1/namespaces/default/configmaps/missing"):
        assert re.fullmatch(r"[0-9a-f-]{36}", unaudited("GET", path).headers["Audit-Id"])
    unaudited.session.headers["Audit-ID"] = "from-the-front-proxy"
    assert unaudited("GET", "/version").headers["Audit-Id"] == "from-the-front-proxy"


ROTATING_POLICY = """
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: RequestResponse
  resources: [{group: "", resources: ["configmaps"]}]
"""


def test_rotation_keeps_maxbackup_files_named_as_kube(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    server = ApiServer(tmp_path / "srv", extra_args=(
        "--audit-policy-file", _write(tmp_path, "policy.yaml", ROTATING_POLICY),
        "--audit-log-path", str(log), "--audit-log-maxsize", "1",
        "--audit-log-maxbackup", "2")).start()
    try:
        http = Http(server)
        for i in range(24):  # each ~200 KB logged (request + response): ~5 MB in all
            created = http("POST", "/api/v1/namespaces/default/configmaps",
                           {"metadata": {"name": f"big{i}"}, "data": {"k": "x" * 100_000}})
            assert created.status_code == 201
        audit = AuditLog(log)
        audit.wait(lambda e: e.get("objectRef", {}).get("name") == "big23")
    finally:
        server.stop()
    backups = sorted(p.name for p in tmp_path.glob("audit-*.log"))
    assert len(backups) == 2, backups
    assert all(re.fullmatch(r"audit-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}\.log", b)
               for b in backups)
    lines = [json.loads(line) for f in [log, *(tmp_path / b for b in backups)]
             for line in f.read_text().splitlines()]
    assert all(f.stat().st_size <= 1024 * 1024 for f in tmp_path.glob("audit*.log"))
    assert lines and {e["stage"] for e in lines} == {"ResponseComplete"}
    assert log.stat().st_mode & 0o777 == 0o600


def kyb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kybernetes.cli.main", *args],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("policy, words", [
    ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Loud\n",
     'rules[0].level: Unsupported value: "Loud"'),
    ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n",
     "loaded illegal policy with 0 rules"),
    ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n"
     "  omitStages: [Sometime]\n", "rules[0].omitStages[0]: Invalid value"),
    ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n"
     "  nonResourceURLs: [/a]\n  namespaces: [x]\n", "rules[0].nonResourceURLs"),
    ("apiVersion: v1\nkind: ConfigMap\n", "unknown group version"),
    ("rules: [", "failed decoding"),
])
def test_a_bad_policy_stops_the_server_with_one_line(tmp_path: Path, policy: str,
                                                     words: str) -> None:
    path = _write(tmp_path, "policy.yaml", policy)
    result = kyb("apiserver", "--data-dir", str(tmp_path / "d"), "--bind-address",
                 "127.0.0.1", "--port", "1", "--audit-policy-file", path,
                 "--audit-log-path", str(tmp_path / "audit.log"))
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and f"--audit-policy-file {path}" in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr


def test_a_log_path_without_a_policy_logs_nothing(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "audit.log"
    server = ApiServer(tmp_path / "srv", extra_args=("--audit-log-path", str(log))).start()
    try:
        assert Http(server)("GET", "/api/v1/namespaces").status_code == 200
    finally:
        server.stop()
    assert log.exists() and log.read_text() == ""  # made, as kube makes it, but empty


def test_dash_writes_events_to_stdout(tmp_path: Path) -> None:
    server = ApiServer(tmp_path / "srv", extra_args=(
        "--audit-policy-file", _write(tmp_path, "policy.yaml", ROTATING_POLICY),
        "--audit-log-path", "-")).start()
    try:
        response = Http(server)("GET", "/api/v1/namespaces/default/configmaps/none")
        assert response.status_code == 404
    finally:
        server.stop()
    output = (server.data_dir / "logs" / "apiserver.log").read_text().splitlines()
    [event] = [json.loads(line) for line in output if line.startswith('{"kind":"Event"')]
    assert event["auditID"] == response.headers["Audit-Id"]
    assert event["responseStatus"]["reason"] == "NotFound"
    assert event["responseObject"]["kind"] == "Status"
