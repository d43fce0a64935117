"""Users and certificates: `kyb kubeconfig`, CertificateSigningRequests signed by the
controller manager, and client certificates the API server refuses (real processes,
real kubectl)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from kybernetes.api.errors import Invalid
from kybernetes.api.resources import CERTIFICATE_SIGNING_REQUESTS as CSRS
from kybernetes.client import ApiClient
from kybernetes.client.kubeconfig import write_kubeconfig
from tests.support import certs
from tests.support.apiserver import ApiServer, connected
from tests.support.kubectl import KUBECTLS, Kubectl
from tests.support.poll import eventually
from tests.support.procs import Proc

NEWEST = KUBECTLS[-1]
APPROVERS = [k for k in ("kubectl.1.27", "kubectl") if k in KUBECTLS]


@pytest.fixture(scope="module")
def signer(sqlite_server: ApiServer) -> Iterator[Proc]:
    """A controller manager running only the CSR signer, with the server's CA."""
    pki = sqlite_server.data_dir / "pki"
    proc = Proc.kyb("controller-manager", "--kubeconfig", str(sqlite_server.kubeconfig),
                    "--controllers", "csrsigning", "--cluster-signing-cert-file",
                    str(pki / "ca.crt"), "--cluster-signing-key-file", str(pki / "ca.key"),
                    log_path=sqlite_server.data_dir / "logs" / "controller-manager.log").start()
    try:
        yield proc
    finally:
        proc.stop()


def kyb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kybernetes.cli.main", *args],
                          capture_output=True, text=True, timeout=60)


def whoami(server: ApiServer, tmp_path: Path, kubeconfig: Path) -> dict:
    kubectl = Kubectl(NEWEST, server, tmp_path)
    return json.loads(kubectl("auth", "whoami", "-o", "json",
                              env={"KUBECONFIG": str(kubeconfig)}))["status"]["userInfo"]


def user_kubeconfig(server: ApiServer, path: Path, user: str, cert: bytes,
                    key: bytes) -> Path:
    return write_kubeconfig(path, server=server.url, user=user, cert_pem=cert, key_pem=key,
                            ca_pem=(server.data_dir / "pki" / "ca.crt").read_bytes())


async def issued(client: ApiClient, name: str) -> bytes:
    async def certificate() -> str:
        obj = await client.get(CSRS, name)
        return str((obj.get("status") or {}).get("certificate") or "")
    return base64.b64decode(await eventually(certificate, within=20, what=f"{name} issued"))


def test_kyb_kubeconfig_user_and_groups(sqlite_server: ApiServer, tmp_path: Path) -> None:
    out = kyb("kubeconfig", "--data-dir", str(sqlite_server.data_dir), "--user", "jane",
              "--group", "devs", "--group", "ops", "--ttl", "1h")
    assert out.returncode == 0, out.stderr
    path = tmp_path / "jane.kubeconfig"
    path.write_text(out.stdout)
    info = whoami(sqlite_server, tmp_path, path)
    assert info["username"] == "jane"
    assert info["groups"] == ["devs", "ops", "system:authenticated"]
    # --out merges into a file; the default server is the one the data dir records.
    into = tmp_path / "merged"
    assert kyb("kubeconfig", "--data-dir", str(sqlite_server.data_dir), "--user", "max",
               "--out", str(into)).returncode == 0
    assert whoami(sqlite_server, tmp_path, into)["username"] == "max"
    user = yaml.safe_load(out.stdout)["users"][0]["user"]
    cert = x509.load_pem_x509_certificate(base64.b64decode(user["client-certificate-data"]))
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime.total_seconds() <= 24 * 3600 + 3600  # backdated a day at most, 1h ahead


@pytest.mark.parametrize("args, message", [
    (("--ttl", "abc"), "--ttl: invalid duration 'abc'"),
    (("--ttl", "0s"), "must be longer than 0"),
])
def test_kyb_kubeconfig_bad_flags(sqlite_server: ApiServer, args: tuple[str, ...],
                                  message: str) -> None:
    out = kyb("kubeconfig", "--data-dir", str(sqlite_server.data_dir), "--user", "x", *args)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and message in out.stderr, out.stderr


def test_kyb_kubeconfig_without_a_ca(tmp_path: Path) -> None:
    out = kyb("kubeconfig", "--data-dir", str(tmp_path), "--user", "x", "--server",
              "https://127.0.0.1:6443")
    assert out.returncode == 2 and "no cluster CA" in out.stderr, out.stderr
    assert not (tmp_path / "pki" / "ca.key").exists()  # no CA made on the side


@pytest.mark.parametrize("binary", APPROVERS)
async def test_approved_csr_is_signed_and_authenticates(
        sqlite_server: ApiServer, signer: Proc, tmp_path: Path, binary: str) -> None:
    name = f"alice-{binary.replace('.', '-')}"
    key = certs.new_key()
    obj = certs.csr_object(name, certs.csr_pem(key, "alice", "devs"),
                           expirationSeconds=3600, username="forged", groups=["x"])
    kubectl = Kubectl(binary, sqlite_server, tmp_path)
    kubectl("create", "-f", "-", stdin=json.dumps(obj))
    table = kubectl("get", "csr", name)
    assert table.split("\n")[0].split() == ["NAME", "AGE", "SIGNERNAME", "REQUESTOR",
                                            "REQUESTEDDURATION", "CONDITION"]
    assert "kubernetes-admin" in table and "60m" in table and "Pending" in table
    kubectl("certificate", "approve", name)
    async with connected(sqlite_server) as client:
        pem = await issued(client, name)
        stored = await client.get(CSRS, name)
    spec = stored["spec"]
    assert spec["username"] == "kubernetes-admin"  # the server's record, not the client's
    assert spec["groups"] == ["system:masters", "system:authenticated"]
    approved = stored["status"]["conditions"][0]
    assert approved["type"] == "Approved" and approved["reason"] == "KubectlApprove"
    assert approved["lastUpdateTime"] and approved["lastTransitionTime"]
    cert = x509.load_pem_x509_certificate(pem)
    assert 3600 <= (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds() \
        <= 3600 + 600
    assert "Approved,Issued" in kubectl("get", "csr", name)
    config = user_kubeconfig(sqlite_server, tmp_path / "alice", "alice", pem,
                             certs.key_pem(key))
    info = whoami(sqlite_server, tmp_path, config)
    assert (info["username"], info["groups"]) == ("alice", ["devs", "system:authenticated"])


async def test_denied_and_refused_requests_get_no_certificate(
        sqlite_server: ApiServer, signer: Proc, tmp_path: Path) -> None:
    kubectl = Kubectl(NEWEST, sqlite_server, tmp_path)
    key = certs.new_key()
    requests = {
        "denied": certs.csr_object("denied", certs.csr_pem(key, "eve")),
        "server-usage": certs.csr_object("server-usage", certs.csr_pem(key, "eve"),
                                         usages=("digital signature", "server auth")),
        "not-a-node": certs.csr_object(
            "not-a-node", certs.csr_pem(key, "eve", "system:nodes"),
            signer="kubernetes.io/kube-apiserver-client-kubelet",
            usages=("digital signature", "client auth")),
        "control": certs.csr_object("control", certs.csr_pem(key, "carol")),
    }
    for obj in requests.values():
        kubectl("create", "-f", "-", stdin=json.dumps(obj))
    kubectl("certificate", "deny", "denied")
    kubectl("certificate", "approve", "server-usage", "not-a-node", "control")
    async with connected(sqlite_server) as client:
        await issued(client, "control")

        async def failed(name: str) -> dict | None:
            obj = await client.get(CSRS, name)
            return next((c for c in obj["status"].get("conditions", [])
                         if c["type"] == "Failed"), None)

        usage = await eventually(lambda: failed("server-usage"), within=20)
        assert usage["reason"] == "SignerValidationFailure"
        assert usage["message"] == "invalid usage for client certificate: server auth"
        node = await eventually(lambda: failed("not-a-node"), within=20)
        assert node["message"] == "subject common name does not begin with system:node:"
        denied = await client.get(CSRS, "denied")
    assert "certificate" not in denied["status"]
    assert denied["status"]["conditions"][0]["type"] == "Denied"
    table = kubectl("get", "csr")
    assert any(line.startswith("server-usage") and line.endswith("Approved,Failed")
               for line in table.splitlines()), table
    assert any(line.startswith("denied") and line.endswith("Denied")
               for line in table.splitlines()), table


def test_bad_requests_are_422(sqlite_server: ApiServer, tmp_path: Path) -> None:
    kubectl = Kubectl(NEWEST, sqlite_server, tmp_path)
    key = certs.new_key()
    bad = {
        "tampered": (certs.csr_object("tampered", certs.tampered(certs.csr_pem(key, "t"))),
                     "spec.request: Invalid value: []byte{0x2d, 0x2d"),
        "usage": (certs.csr_object("usage", certs.csr_pem(key, "t"), usages=("flying",)),
                  'spec.usages[0]: Unsupported value: "flying": supported values: "any",'),
        "signer": (certs.csr_object("signer", certs.csr_pem(key, "t"), signer="example"),
                   "spec.signerName: Invalid value: \"example\": must be a fully qualified "
                   "domain and path of the form 'example.com/signer-name'"),
        "legacy": (certs.csr_object("legacy", certs.csr_pem(key, "t"),
                                    signer="kubernetes.io/legacy-unknown"),
                   "the legacy signerName is not allowed via this API version"),
        "short": (certs.csr_object("short", certs.csr_pem(key, "t"), expirationSeconds=60),
                  "spec.expirationSeconds: Invalid value: 60: may not specify a duration "
                  "less than 600 seconds (10 minutes)"),
    }
    for obj, message in bad.values():
        out = kubectl.run("create", "-f", "-", stdin=json.dumps(obj), check=False)
        assert out.returncode == 1, out.stdout
        assert "is invalid" in out.stderr and message in out.stderr, out.stderr
    assert "ECDSA verification failure" in kubectl.run(
        "create", "-f", "-", stdin=json.dumps(bad["tampered"][0]), check=False).stderr


async def test_conditions_change_only_through_approval(sqlite_server: ApiServer) -> None:
    key = certs.new_key()
    async with connected(sqlite_server) as client:
        # A signer nobody runs here: the object changes only when the test changes it.
        created = await client.create(CSRS, certs.csr_object("rules", certs.csr_pem(key, "r"),
                                                             signer="example.com/manual"))
        assert created["status"] == {}
        # The object itself: spec and status stay as they are.
        changed = {**created, "spec": {**created["spec"], "usages": ["server auth"]},
                   "status": {"conditions": [{"type": "Approved", "status": "True"}]}}
        updated = await client.update(CSRS, changed)
        assert updated["spec"]["usages"] == ["client auth"] and updated["status"] == {}
        # /status may not approve.
        with pytest.raises(Invalid) as e:
            await client.update_status(CSRS, changed)
        assert 'updates may not add a condition of type "Approved"' in str(e.value)
        # /approval may, but never Approved and Denied together.
        both = {**updated, "status": {"conditions": [
            {"type": "Approved", "status": "True"}, {"type": "Denied", "status": "True"}]}}
        with pytest.raises(Invalid) as e:
            await client.update_subresource(CSRS, both, "approval")
        assert "Approved and Denied conditions are mutually exclusive" in str(e.value)
        approved = await client.update_subresource(
            CSRS, {**updated, "status": {"conditions": [{"type": "Approved",
                                                         "status": "True"}]}}, "approval")
        # ... and /approval cannot set a certificate, nor drop the approval afterwards.
        assert "certificate" not in approved["status"]
        with pytest.raises(Invalid) as e:
            await client.update_subresource(CSRS, {**approved, "status": {}}, "approval")
        assert "updates may not remove a condition of type" in str(e.value)


def test_foreign_and_expired_client_certificates_are_401(
        sqlite_server: ApiServer, tmp_path: Path) -> None:
    key = certs.new_key()
    pki = sqlite_server.data_dir / "pki"
    cases = {
        "foreign": certs.client_cert(key, "mallory", "system:masters"),
        "expired": certs.client_cert(key, "old", "system:masters", ca_dir=pki,
                                     days=1, offset_days=-3),
    }
    for name, cert in cases.items():
        config = user_kubeconfig(sqlite_server, tmp_path / name, name, cert,
                                 certs.key_pem(key))
        out = Kubectl(NEWEST, sqlite_server, tmp_path).run(
            "get", "ns", check=False, env={"KUBECONFIG": str(config)})
        assert out.returncode == 1
        assert "You must be logged in to the server" in out.stderr, (name, out.stderr)
    # A good certificate from the cluster CA still authenticates.
    valid = certs.client_cert(key, "fresh", ca_dir=pki)
    config = user_kubeconfig(sqlite_server, tmp_path / "fresh", "fresh", valid,
                             certs.key_pem(key))
    assert whoami(sqlite_server, tmp_path, config)["username"] == "fresh"

