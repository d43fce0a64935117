"""The API server as a process: crash safety, restarts, flags and token authentication."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from tests.support.apiserver import ApiServer
from tests.support.http import admin_cert
from tests.support.net import free_port
from tests.support.poll import wait_for


def test_every_acknowledged_create_survives_sigkill(tmp_path: Path) -> None:
    server = ApiServer(tmp_path / "crash").start()
    acknowledged: list[str] = []
    stop = threading.Event()
    ca = str(tmp_path / "crash" / "pki" / "ca.crt")

    def writer(worker: int) -> None:
        session = requests.Session()
        session.cert = admin_cert(server)
        for i in range(100000):
            if stop.is_set():
                return
            name = f"w{worker}-{i}"
            try:
                response = session.post(f"{server.url}/api/v1/namespaces/default/configmaps",
                                        json={"metadata": {"name": name}}, verify=ca,
                                        timeout=5)
            except requests.RequestException:
                return
            if response.status_code == 201:
                acknowledged.append(name)

    try:
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while len(acknowledged) < 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        server.kill()
        stop.set()
        for t in threads:
            t.join(10)
        assert len(acknowledged) >= 200
        server.start()
        session = requests.Session()
        session.cert = admin_cert(server)
        items = session.get(f"{server.url}/api/v1/namespaces/default/configmaps", verify=ca,
                            timeout=10).json()["items"]
        stored = {i["metadata"]["name"] for i in items}
        assert set(acknowledged) <= stored
    finally:
        server.stop()


def test_restart_reuses_pki_and_keeps_kubeconfig_valid(tmp_path: Path) -> None:
    server = ApiServer(tmp_path / "again").start()
    try:
        ca_before = (tmp_path / "again" / "pki" / "ca.crt").read_bytes()
        server.restart()
        assert (tmp_path / "again" / "pki" / "ca.crt").read_bytes() == ca_before
        session = requests.Session()
        session.cert = admin_cert(server)
        ns = session.get(f"{server.url}/api/v1/namespaces", timeout=5,
                         verify=str(tmp_path / "again" / "pki" / "ca.crt")).json()
        assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= {
            i["metadata"]["name"] for i in ns["items"]}
    finally:
        server.stop()


def test_verbose_logs_one_http_line_per_request(tmp_path: Path) -> None:
    quiet = ApiServer(tmp_path / "quiet").start()
    loud = ApiServer(tmp_path / "loud", extra_args=("-v",)).start()
    try:
        for server in (quiet, loud):
            response = requests.get(
                f"{server.url}/api/v1/namespaces/default/configmaps/nope?x=1", timeout=5,
                cert=admin_cert(server), headers={"User-Agent": "probe/1.0"},
                verify=str(server.data_dir / "pki" / "ca.crt"))
            assert response.status_code == 404

        def http_lines(server: ApiServer) -> list[str]:
            log = (server.data_dir / "logs" / "apiserver.log").read_text()
            return [line for line in log.splitlines()
                    if "msg=HTTP " in line and "userAgent=probe/1.0" in line]
        (line,) = wait_for(lambda: http_lines(loud), what="the request's HTTP line")
        audit = response.headers["Audit-Id"]
        for part in ("verb=GET", 'URI="/api/v1/namespaces/default/configmaps/nope?x=1"',
                     "user=kubernetes-admin", "srcIP=127.0.0.1", "resp=404",
                     f"auditID={audit}"):
            assert part in line, (part, line)
        assert not http_lines(quiet)  # quiet by default
    finally:
        quiet.stop()
        loud.stop()


def test_bearer_tokens_from_token_file(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    tokens.write_text('secret-token,alice,uid-1,"dev,ops"\n')
    server = ApiServer(tmp_path / "tok", extra_args=("--token-auth-file", str(tokens))).start()
    try:
        ca = str(tmp_path / "tok" / "pki" / "ca.crt")
        ok = requests.get(f"{server.url}/api", verify=ca, timeout=5,
                          headers={"Authorization": "Bearer secret-token"})
        assert ok.status_code == 200
        unbound = requests.get(f"{server.url}/api/v1/namespaces", verify=ca, timeout=5,
                               headers={"Authorization": "Bearer secret-token"})
        assert unbound.status_code == 403  # authenticated, but RBAC grants alice nothing
        bad = requests.get(f"{server.url}/api/v1/namespaces", verify=ca, timeout=5,
                           headers={"Authorization": "Bearer wrong"})
        assert bad.status_code == 401 and bad.json()["reason"] == "Unauthorized"
    finally:
        server.stop()


def kyb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kybernetes.cli.main", *args],
                          capture_output=True, text=True, timeout=30)


def test_bad_flags_and_busy_port_are_one_line(tmp_path: Path) -> None:
    bad = kyb("apiserver", "--data-dir", str(tmp_path / "a"), "--bind-address", "nope")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0
    assert "is not an IP address" in bad.stderr
    bad_store = kyb("apiserver", "--data-dir", str(tmp_path / "a"), "--store", "mysql://x",
                    "--bind-address", "127.0.0.1", "--port", str(free_port()))
    assert bad_store.returncode == 2 and "unknown store scheme" in bad_store.stderr
    assert "Traceback" not in bad_store.stderr
    server = ApiServer(tmp_path / "busy").start()
    try:
        busy = kyb("apiserver", "--data-dir", str(tmp_path / "b"), "--bind-address",
                   "127.0.0.1", "--port", str(server.port))
        assert busy.returncode == 2
        assert f"port {server.port} is already in use" in busy.stderr
        assert "Traceback" not in busy.stderr
    finally:
        server.stop()
