"""`kyb join` into a one-node `kyb up` cluster (fake runtime, host network): the
bootstrapsigner signs cluster-info with each new token, the CA is taken only under
its pinned hash and a signature that checks with the token, a wrong hash or token or
an impostor serving a tampered cluster-info leaves nothing behind, and a joined
machine's kubelet (certificate bootstrapped through a CSR the controller manager
approves for the token) registers a Ready node that runs a pod."""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kybernetes.api import bootstrap_jws as jws
from kybernetes.api import bootstrap_tokens as bt
from kybernetes.cli import cluster_dir
from tests.support.cluster import KybCluster, fake_runtime_cluster, kyb
from tests.support.net import free_port
from tests.support.poll import wait_for
from tests.support.procs import Proc
from tests.support.webhook_server import ThrowAwayCA

pytestmark = pytest.mark.timeout(300)
NODE = "joined-1"


def _join_args(cluster: KybCluster) -> dict[str, str]:
    """The flags of the `kyb join` command `kyb up` printed (its status keeps it)."""
    command = (cluster_dir.resolve(str(cluster.data_dir)).read_status() or {}).get("join", "")
    words = shlex.split(command)
    assert words[:2] == ["kyb", "join"], command
    return dict(zip(words[2::2], words[3::2], strict=True))


def test_a_machine_joins_with_a_token(tmp_path: Path) -> None:
    with fake_runtime_cluster(tmp_path / "kyb") as cluster:
        flags = _join_args(cluster)
        assert bt.TOKEN_RE.match(flags["--token"])
        ca = (cluster.data_dir / "pki" / "ca.crt").read_bytes()
        assert flags["--ca-cert-hash"] == bt.ca_cert_hash(ca)
        made = kyb("token", "create", "--data-dir", str(cluster.data_dir), "--ttl", "1h")
        assert made.returncode == 0 and re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}\n",
                                                    made.stdout), made.stderr
        common = ["join", "--server", flags["--server"], "--node-name", NODE,
                  "--runtime", "fake"]

        wrong_hash = tmp_path / "wrong-hash"
        refused = kyb(*common, "--token", made.stdout.strip(), "--data-dir", str(wrong_hash),
                      "--ca-cert-hash", "sha256:" + "0" * 64)
        assert refused.returncode == 2
        assert "none of the public keys" in refused.stderr and not wrong_hash.exists()
        wrong_token = tmp_path / "wrong-token"
        refused = kyb(*common, "--token", "abcdef.0123456789abcdef", "--data-dir",
                      str(wrong_token), "--ca-cert-hash", flags["--ca-cert-hash"])
        assert refused.returncode == 2
        assert 'token id "abcdef" is invalid for this cluster' in refused.stderr
        assert not wrong_token.exists()

        info = json.loads(cluster.kubectl("get", "configmap", "-n", "kube-public",
                                          "cluster-info", "-o", "json"))
        token_id, token_secret = made.stdout.strip().split(".")
        assert jws.signature_is_valid(info["data"][jws.SIGNATURE_PREFIX + token_id],
                                      info["data"]["kubeconfig"], token_id, token_secret)
        with _impostor(info) as fake_server:  # the real CA and signature, another server
            tampered = tmp_path / "tampered"
            refused = kyb(*common[:2], fake_server, *common[3:], "--token",
                          made.stdout.strip(), "--ca-cert-hash", flags["--ca-cert-hash"],
                          "--data-dir", str(tampered))
        assert refused.returncode == 2
        assert "failed to verify JWS signature" in refused.stderr and not tampered.exists()

        joined = Proc.kyb(*common, "--token", made.stdout.strip(),
                          "--ca-cert-hash", flags["--ca-cert-hash"],
                          "--data-dir", str(tmp_path / "machine"), "--node-ip", "127.0.0.1",
                          "--kubelet-port", str(free_port()),
                          "--proxy-arg=--healthz-port=0", "--proxy-arg=--metrics-port=0",
                          log_path=tmp_path / "join.log")
        try:
            joined.start()
            wait_for(lambda: "Ready" in cluster.kubectl_run(
                "get", "node", NODE, "-o",
                "jsonpath={.status.conditions[?(@.type=='Ready')].status}").stdout.replace(
                    "True", "Ready"), within=90, interval=0.5,
                what=f"node {NODE} Ready\n{joined.log_tail()}")
            csrs = json.loads(cluster.kubectl("get", "csr", "-o", "json"))["items"]
            mine = [c for c in csrs
                    if c["spec"]["username"] == f"system:bootstrap:{made.stdout[:6]}"]
            assert mine and mine[0]["status"]["conditions"][0]["reason"] == "AutoApproved"
            cluster.kubectl("run", "on-joined", "--image", "busybox", "--restart", "Never",
                            "--overrides", json.dumps({"spec": {"nodeName": NODE}}),
                            "--", "sleep", "3600")
            wait_for(lambda: cluster.kubectl_run(
                "get", "pod", "on-joined", "-o", "jsonpath={.status.phase}").stdout
                == "Running", within=60, interval=0.5,
                what=f"the pod running on {NODE}\n{joined.log_tail()}")
        finally:
            assert joined.stop(timeout=30) == 0, joined.log_tail()
            cluster.kubectl("delete", "node", NODE, "--ignore-not-found", check=False)
        other = kyb(*common[:-4], "--node-name", "joined-2", "--runtime", "fake",
                    "--token", made.stdout.strip(), "--ca-cert-hash", flags["--ca-cert-hash"],
                    "--data-dir", str(tmp_path / "machine"))
        assert other.returncode == 2 and "is the data dir of node joined-1" in other.stderr


@contextlib.contextmanager
def _impostor(cluster_info: dict[str, Any]) -> Iterator[str]:
    """An HTTPS server that is not the cluster's, answering with `cluster_info` moved to
    its own address (the CA and signatures copied): what a man in the middle can do
    without the token."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    url = f"https://127.0.0.1:{server.server_address[1]}"
    real = re.search(r"server: (\S+)", cluster_info["data"]["kubeconfig"])
    assert real is not None
    data = dict(cluster_info["data"], kubeconfig=cluster_info["data"]["kubeconfig"].replace(
        real.group(1), url))
    body = json.dumps(dict(cluster_info, data=data)).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server.RequestHandlerClass = Handler
    server.socket = ThrowAwayCA().server_context().wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
