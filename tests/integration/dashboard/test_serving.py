"""`kyb dashboard` as `kyb up` runs it: plain HTTP on loopback; off loopback HTTPS
only, with a certificate from the cluster CA; 401 to any API request without a token
(no API server needed: nothing is asked of it without one)."""

from __future__ import annotations

import http.client
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kybernetes.apiserver import pki
from kybernetes.cli import cluster_dir
from kybernetes.cli.dashboard import for_cluster
from tests.support.net import free_port, wait_http_ok
from tests.support.procs import Proc


def _cluster(tmp_path: Path) -> cluster_dir.ClusterDir:
    cdir = cluster_dir.resolve(str(tmp_path / "kyb"))
    cdir.prepare()
    pki.ensure_ca(cdir.root)
    return cdir


def test_on_loopback_it_serves_http_and_answers_401_without_a_token(tmp_path: Path) -> None:
    cdir = _cluster(tmp_path)
    argv, url = for_cluster(cdir, "https://127.0.0.1:1", "127.0.0.1", free_port())
    assert url.startswith("http://127.0.0.1:") and "--tls-cert-file" not in argv
    config = (cdir.root / "identities" / "dashboard.kubeconfig").read_text()
    assert "client-certificate" not in config and "token" not in config
    proc = Proc.kyb("dashboard", *argv, log_path=tmp_path / "dashboard.log").start()
    try:
        wait_http_ok(url + "healthz", timeout=30, is_alive=proc.alive)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + "api/k8s/api/v1/secrets", timeout=10)
        assert refused.value.code == 401
        with urllib.request.urlopen(url, timeout=10) as page:
            assert "script-src 'self'" in page.headers["Content-Security-Policy"]
            assert b'src="/static/app.js"' in page.read()
    finally:
        proc.stop()


def test_off_loopback_it_serves_https_with_a_certificate_from_the_cluster_ca(
        tmp_path: Path) -> None:
    cdir = _cluster(tmp_path)
    port = free_port()
    argv, url = for_cluster(cdir, "https://127.0.0.1:1", "0.0.0.0", port)
    assert url == f"https://127.0.0.1:{port}/"
    proc = Proc.kyb("dashboard", *argv, log_path=tmp_path / "dashboard.log").start()
    try:
        wait_http_ok(url + "healthz", timeout=30, is_alive=proc.alive)
        trust = ssl.create_default_context(cafile=str(pki.pki_dir(cdir.root) / "ca.crt"))
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + "api/k8s/api/v1/pods", timeout=10, context=trust)
        assert refused.value.code == 401
        assert json.loads(refused.value.read())["reason"] == "Unauthorized"
        with pytest.raises((urllib.error.URLError, http.client.HTTPException, OSError)):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
    finally:
        proc.stop()


def test_off_loopback_without_a_certificate_it_refuses_to_start(tmp_path: Path) -> None:
    cdir = _cluster(tmp_path)
    argv, _ = for_cluster(cdir, "https://127.0.0.1:1", "127.0.0.1", free_port())
    argv[argv.index("--bind-address") + 1] = "0.0.0.0"
    proc = Proc.kyb("dashboard", *argv, log_path=tmp_path / "dashboard.log").start()
    assert proc.popen is not None
    assert proc.popen.wait(30) == 2
    assert "is not loopback" in (tmp_path / "dashboard.log").read_text()
