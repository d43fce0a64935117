"""Secrets encrypted at rest, through a real `kyb apiserver` and the real kubectl: what
the store holds (the SQLite file's bytes, what a real etcd holds) against what clients
read, key rotation, identity, data written before encryption, and bad configurations."""

from __future__ import annotations

import base64
import json
import sqlite3
import stat
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from kybernetes.storage.keys import prefix_end_bytes
from tests.support.apiserver import ApiServer
from tests.support.etcd import Etcd, etcd_available
from tests.support.http import Http, assert_status
from tests.support.kubectl import Kubectl
from tests.support.net import free_port

MARKER = "kyb-marker-Zq7xW3pL9vT2"  # the secret value; its base64 is what JSON holds
MARKER_B64 = base64.b64encode(MARKER.encode()).decode()
KEY_A = base64.b64encode(bytes(range(32))).decode()
KEY_B = base64.b64encode(bytes(range(64, 96))).decode()


def aescbc(name: str, secret: str) -> dict[str, object]:
    return {"aescbc": {"keys": [{"name": name, "secret": secret}]}}


IDENTITY: dict[str, object] = {"identity": {}}


def write_config(path: Path, *providers: dict[str, object],
                 entries: list[dict[str, object]] | None = None) -> Path:
    """An EncryptionConfiguration (JSON is YAML) for secrets, or the `entries` given."""
    path.write_text(json.dumps({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
        "resources": entries or [{"resources": ["secrets"], "providers": list(providers)}]}))
    return path


def start(server: ApiServer, config: Path | None) -> ApiServer:
    """(Re)start `server` with `config` as --encryption-provider-config (None: default)."""
    server.stop()
    server.extra_args = ("--encryption-provider-config", str(config)) if config else ()
    return server.start()


def stored(server: ApiServer, prefix: str) -> dict[str, bytes]:
    """The newest stored value of each key under `prefix`, as the SQLite store holds it."""
    with sqlite3.connect(f"file:{server.data_dir / 'state.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT name, value FROM kv WHERE name >= ? AND name < ? "
                          "AND deleted = 0 ORDER BY id", (prefix, prefix + "\xff")).fetchall()
    return dict(rows)


def sqlite_file_bytes(server: ApiServer) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(server.data_dir.glob("state.db*")))


def etcd_stored(etcd: Etcd, prefix: str) -> dict[str, bytes]:
    """What etcd holds under `prefix`, read over its own JSON gateway."""
    body = {"key": base64.b64encode(prefix.encode()).decode(),
            "range_end": base64.b64encode(prefix_end_bytes(prefix.encode())).decode()}
    request = urllib.request.Request(f"http://{etcd.endpoint}/v3/kv/range",
                                     data=json.dumps(body).encode())
    with urllib.request.urlopen(request, timeout=5) as response:
        kvs = json.load(response).get("kvs", [])
    return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv.get("value", ""))
            for kv in kvs}


def etcd_file_bytes(etcd: Etcd) -> bytes:
    return b"".join(p.read_bytes() for p in (etcd.base_dir / "data").rglob("*") if p.is_file())


def create_secret(kubectl: Kubectl, name: str, value: str = MARKER) -> None:
    kubectl("create", "secret", "generic", name, f"--from-literal=password={value}")


def read_secret(kubectl: Kubectl, name: str) -> str:
    data = kubectl.json("get", "secret", name)["data"]["password"]
    return base64.b64decode(data).decode()


def rewrite_all_secrets(kubectl: Kubectl) -> None:
    """What Kubernetes' docs say to do after a rotation: read and replace every Secret."""
    kubectl("replace", "-f", "-", stdin=kubectl("get", "secrets", "-A", "-o", "json"))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    srv = ApiServer(tmp_path / "apiserver")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def kubectl(server: ApiServer, tmp_path: Path) -> Kubectl:
    return Kubectl("kubectl", server, tmp_path)


# -- on by default ---------------------------------------------------------------------

def test_secrets_are_encrypted_by_default_in_sqlite_yet_read_by_kubectl(
        server: ApiServer, kubectl: Kubectl) -> None:
    start(server, None)
    create_secret(kubectl, "db")

    assert read_secret(kubectl, "db") == MARKER
    raw = sqlite_file_bytes(server)
    assert MARKER.encode() not in raw and MARKER_B64.encode() not in raw
    value = stored(server, "/registry/secrets/")["/registry/secrets/default/db"]
    assert value.startswith(b"k8s:enc:aescbc:v1:key1:")
    secret = Http(server)("GET", "/api/v1/namespaces/default/secrets/db").json()
    assert secret["data"] == {"password": MARKER_B64}

    config = server.data_dir / "pki" / "encryption-config.yaml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    before = config.read_bytes()
    start(server, None)  # the same key is used again
    assert config.read_bytes() == before
    assert read_secret(kubectl, "db") == MARKER
    create_secret(kubectl, "after-restart")
    assert kubectl("get", "secrets", "-o", "name").split() == [
        "secret/after-restart", "secret/db"]


@pytest.mark.etcd
def test_secrets_are_encrypted_in_a_real_etcd_yet_read_by_kubectl(tmp_path: Path) -> None:
    if not etcd_available():
        pytest.skip("etcd is not installed")
    etcd = Etcd(tmp_path / "etcd").start()
    server = ApiServer(tmp_path / "apiserver", store=etcd.url)
    try:
        server.start()
        kubectl = Kubectl("kubectl", server, tmp_path)
        create_secret(kubectl, "db")
        kubectl("create", "configmap", "plain", f"--from-literal=note={MARKER}-cm")

        assert read_secret(kubectl, "db") == MARKER
        held = etcd_stored(etcd, "/registry/secrets/default/")
        assert held["/registry/secrets/default/db"].startswith(b"k8s:enc:aescbc:v1:key1:")
        assert all(MARKER_B64.encode() not in v for v in held.values())
        raw = etcd_file_bytes(etcd)
        assert MARKER.encode() not in raw.replace(f"{MARKER}-cm".encode(), b"")
        assert MARKER_B64.encode() not in raw
        # ConfigMaps are not named by the default configuration: stored as they are.
        assert etcd_stored(etcd, "/registry/configmaps/default/plain")[
            "/registry/configmaps/default/plain"].startswith(b"{")

        server.restart()  # the watch cache loads (and decrypts) everything again
        assert read_secret(kubectl, "db") == MARKER
    finally:
        server.stop()
        etcd.stop()


# -- configurations ----------------------------------------------------------------------

def test_identity_only_stores_secrets_plain(server: ApiServer, kubectl: Kubectl,
                                            tmp_path: Path) -> None:
    start(server, write_config(tmp_path / "identity.json", IDENTITY))
    create_secret(kubectl, "db")

    assert read_secret(kubectl, "db") == MARKER
    assert MARKER_B64.encode() in stored(server, "/registry/secrets/")[
        "/registry/secrets/default/db"]
    assert not (server.data_dir / "pki" / "encryption-config.yaml").exists()


def test_each_provider_writes_its_resources_and_the_whole_server_runs_encrypted(
        server: ApiServer, kubectl: Kubectl, tmp_path: Path) -> None:
    start(server, write_config(tmp_path / "all.json", entries=[
        {"resources": ["secrets"],
         "providers": [{"secretbox": {"keys": [{"name": "box", "secret": KEY_A}]}}]},
        {"resources": ["configmaps"],
         "providers": [{"aesgcm": {"keys": [{"name": "gcm", "secret": KEY_B}]}}]},
        {"resources": ["*.*"], "providers": [aescbc("rest", KEY_A)]}]))
    create_secret(kubectl, "db")
    kubectl("create", "configmap", "settings", f"--from-literal=note={MARKER}")
    kubectl("create", "namespace", "team")
    http = Http(server)
    listed = http("GET", "/api/v1/namespaces/default/configmaps").json()

    values = stored(server, "/registry/")
    assert values["/registry/secrets/default/db"].startswith(b"k8s:enc:secretbox:v1:box:")
    assert values["/registry/configmaps/default/settings"].startswith(b"k8s:enc:aesgcm:v1:gcm:")
    assert values["/registry/namespaces/team"].startswith(b"k8s:enc:aescbc:v1:rest:")
    assert MARKER.encode() not in sqlite_file_bytes(server)

    # A watch from the list's resourceVersion gets the next object decrypted.
    kubectl("create", "configmap", "later", "--from-literal=k=v2")
    watched = http("GET", "/api/v1/namespaces/default/configmaps", watch="true",
                   resourceVersion=listed["metadata"]["resourceVersion"], timeoutSeconds="1")
    events = [json.loads(line) for line in watched.text.splitlines()]
    assert [(e["type"], e["object"]["metadata"]["name"], e["object"]["data"])
            for e in events] == [("ADDED", "later", {"k": "v2"})]

    start(server, tmp_path / "all.json")  # everything is decrypted on the cache's load
    assert read_secret(kubectl, "db") == MARKER
    assert kubectl.json("get", "configmap", "settings")["data"] == {"note": MARKER}
    assert "team" in kubectl("get", "namespaces", "-o", "name")


# -- rotation and keys that are gone -----------------------------------------------------

def test_rotation_from_key_a_to_key_b(server: ApiServer, kubectl: Kubectl,
                                      tmp_path: Path) -> None:
    start(server, write_config(tmp_path / "a.json", aescbc("keyA", KEY_A), IDENTITY))
    create_secret(kubectl, "old")
    create_secret(kubectl, "untouched")

    # 1. the new key first, the old one still listed: both read, the new one writes
    start(server, write_config(tmp_path / "ba.json", aescbc("keyB", KEY_B),
                               aescbc("keyA", KEY_A), IDENTITY))
    create_secret(kubectl, "new", "second-value")
    assert read_secret(kubectl, "old") == MARKER
    assert read_secret(kubectl, "new") == "second-value"
    values = stored(server, "/registry/secrets/default/")
    assert values["/registry/secrets/default/old"].startswith(b"k8s:enc:aescbc:v1:keyA:")
    assert values["/registry/secrets/default/new"].startswith(b"k8s:enc:aescbc:v1:keyB:")

    # 2. an update that changes nothing still writes a value read with an old key (once)
    http, path = Http(server), "/api/v1/namespaces/default/secrets/old"
    before = http("GET", path).json()
    first = http("PUT", path, before, fieldManager="kubectl-create").json()
    assert first["metadata"]["resourceVersion"] != before["metadata"]["resourceVersion"]
    again = http("PUT", path, first, fieldManager="kubectl-create").json()
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert stored(server, "/registry/secrets/default/old")[
        "/registry/secrets/default/old"].startswith(b"k8s:enc:aescbc:v1:keyB:")

    # 3. rewrite every secret, as Kubernetes' docs say after adding a key
    rewrite_all_secrets(kubectl)
    values = stored(server, "/registry/secrets/default/")
    assert all(v.startswith(b"k8s:enc:aescbc:v1:keyB:") for v in values.values())

    # 4. drop the old key
    start(server, write_config(tmp_path / "b.json", aescbc("keyB", KEY_B), IDENTITY))
    assert read_secret(kubectl, "old") == MARKER
    assert read_secret(kubectl, "untouched") == MARKER
    assert read_secret(kubectl, "new") == "second-value"


def test_a_secret_whose_key_is_gone_is_an_internal_error_naming_the_key(
        server: ApiServer, kubectl: Kubectl, tmp_path: Path) -> None:
    start(server, write_config(tmp_path / "a.json", aescbc("keyA", KEY_A), IDENTITY))
    create_secret(kubectl, "orphan")
    kubectl("create", "configmap", "fine", "--from-literal=k=v")

    start(server, write_config(tmp_path / "b.json", aescbc("keyB", KEY_B), IDENTITY))

    got = kubectl.run("get", "secret", "orphan", check=False)
    assert got.returncode != 0 and "Traceback" not in got.stderr
    assert "InternalError" in got.stderr
    assert 'unable to transform key "/registry/secrets/default/orphan"' in got.stderr
    assert 'key "keyA"' in got.stderr
    http = Http(server)
    status = assert_status(http("GET", "/api/v1/namespaces/default/secrets/orphan"), 500,
                           "InternalError")
    assert 'key "keyA"' in status["message"]
    assert_status(http("GET", "/api/v1/namespaces/default/secrets"), 500, "InternalError")
    watch = http("GET", "/api/v1/namespaces/default/secrets", watch="true", timeoutSeconds="1")
    first = json.loads(watch.text.splitlines()[0])
    assert first["type"] == "ERROR" and 'key "keyA"' in first["object"]["message"]
    # everything else is served as before, and new secrets are written with the new key
    assert kubectl.json("get", "configmap", "fine")["data"] == {"k": "v"}
    create_secret(kubectl, "fresh")
    assert read_secret(kubectl, "fresh") == MARKER

    start(server, write_config(tmp_path / "ba.json", aescbc("keyB", KEY_B),
                               aescbc("keyA", KEY_A), IDENTITY))  # the key is back
    assert read_secret(kubectl, "orphan") == MARKER


def test_a_secret_written_before_encryption_still_reads_once_it_is_on(
        server: ApiServer, kubectl: Kubectl, tmp_path: Path) -> None:
    start(server, write_config(tmp_path / "off.json", IDENTITY))
    create_secret(kubectl, "legacy")
    assert MARKER_B64.encode() in stored(server, "/registry/secrets/")[
        "/registry/secrets/default/legacy"]

    start(server, None)  # the default: aescbc first, identity reads what came before
    assert read_secret(kubectl, "legacy") == MARKER
    create_secret(kubectl, "modern")
    values = stored(server, "/registry/secrets/default/")
    assert values["/registry/secrets/default/legacy"].startswith(b"{")
    assert values["/registry/secrets/default/modern"].startswith(b"k8s:enc:aescbc:v1:key1:")

    rewrite_all_secrets(kubectl)
    values = stored(server, "/registry/secrets/default/")
    assert values["/registry/secrets/default/legacy"].startswith(b"k8s:enc:aescbc:v1:key1:")
    assert read_secret(kubectl, "legacy") == MARKER


# -- bad configurations ------------------------------------------------------------------

def kyb_apiserver(data_dir: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kybernetes.cli.main", "apiserver", "--data-dir", str(data_dir),
         "--bind-address", "127.0.0.1", "--port", str(free_port()),
         "--encryption-provider-config", str(config)],
        capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(("providers", "problem"), [
    ([{"aescbc": {"keys": [{"name": "k", "secret": base64.b64encode(b"short").decode()}]}}],
     "resources[0].providers[0].aescbc.keys[0].secret: Invalid value: \"REDACTED\": secret "
     "is not of the expected length, got 5"),
    ([{"aesgcm": {"keys": [{"name": "k", "secret": "%%%"}]}}],
     "resources[0].providers[0].aesgcm.keys[0].secret: Invalid value: \"REDACTED\": secrets "
     "must be base64 encoded"),
    ([{"aescbc": {"keys": [{"name": "k", "secret": KEY_A}]}, "identity": {}}],
     "resources[0].providers[0]: more than one provider specified"),
    ([{"aes": {"keys": []}}], "resources[0].providers[0].aes: unknown field"),
])
def test_a_bad_configuration_is_refused_at_start_in_one_line(
        tmp_path: Path, providers: list[dict[str, object]], problem: str) -> None:
    config = write_config(tmp_path / "bad.json", *providers)

    refused = kyb_apiserver(tmp_path / "data", config)

    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0 and "Traceback" not in refused.stderr
    assert f"--encryption-provider-config {config}: " in refused.stderr
    assert problem in refused.stderr


def test_a_missing_configuration_file_is_refused_at_start(tmp_path: Path) -> None:
    refused = kyb_apiserver(tmp_path / "data", tmp_path / "absent.yaml")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "error opening encryption provider configuration file: No such file" in \
        refused.stderr
