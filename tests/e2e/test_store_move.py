"""A one-server (SQLite) cluster moved to `kyb up --servers 3` (etcd) on the same data
dir (issue 14): every object is there with its uid, a Secret still decrypts, the RC's
pods run again, the old admin kubeconfig and a ServiceAccount token still work, and a
new object's resourceVersion is above every old one. Refused while the one-server
cluster runs; 3 -> 1 refused. Fake runtime, host network: the stores are under test."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import KybCluster, kyb
from tests.support.etcd import etcd_available
from tests.support.poll import wait_for

pytestmark = [pytest.mark.etcd, pytest.mark.timeout(420),
              pytest.mark.skipif(not etcd_available(), reason="etcd is not installed")]
ENV = {"KYB_HOST_NETWORK": "1"}
RC = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "web"},
      "spec": {"replicas": 2, "selector": {"app": "web"}, "template": {
          "metadata": {"labels": {"app": "web"}},
          "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}


def _objects(cluster: KybCluster, kubeconfig: Path) -> dict[tuple[str, str] | str, Any]:
    """(kind, name) -> (uid, resourceVersion) of the objects made here, and the
    highest resourceVersion seen anywhere ("max")."""
    doc = json.loads(cluster.kubectl("--kubeconfig", str(kubeconfig), "get",
                                     "configmap,secret,rc,serviceaccount", "-n", "moved",
                                     "-o", "json"))
    found: dict[tuple[str, str] | str, Any] = {(o["kind"], o["metadata"]["name"]):
                                               o["metadata"]["uid"] for o in doc["items"]}
    every = json.loads(cluster.kubectl("--kubeconfig", str(kubeconfig), "get",
                                       "configmap,secret,rc,pods,nodes,leases", "-A",
                                       "-o", "json"))
    found["max"] = max(int(o["metadata"]["resourceVersion"]) for o in every["items"])
    return found


def _rc_ready(cluster: KybCluster) -> bool:
    rc = json.loads(cluster.kubectl("get", "rc", "web", "-n", "moved", "-o", "json"))
    return rc.get("status", {}).get("readyReplicas") == 2


def _as_token(cluster: KybCluster, token: str) -> subprocess.CompletedProcess[str]:
    """kubectl with the ServiceAccount token alone (no client certificate)."""
    server = json.loads(cluster.kubectl("config", "view", "-o", "json"))[
        "clusters"][0]["cluster"]["server"]
    return subprocess.run(
        ["kubectl", "--kubeconfig", "/dev/null", "--server", server,
         "--certificate-authority", str(cluster.data_dir / "pki" / "ca.crt"),
         "--token", token, "get", "configmap", "-n", "moved"],
        capture_output=True, text=True, timeout=30, check=False)


def test_one_server_moves_to_three(tmp_path: Path) -> None:
    cluster = KybCluster(tmp_path / "c", env=ENV)
    old_kubeconfig = tmp_path / "old-kubeconfig"
    try:
        cluster.up("--nodes", "1", "--runtime", "fake")
        cluster.kubectl("create", "namespace", "moved")
        cluster.kubectl("create", "configmap", "settings", "-n", "moved", "--from-literal=a=1")
        cluster.kubectl("create", "secret", "generic", "pw", "-n", "moved",
                        "--from-literal=p=s3")
        cluster.kubectl("create", "serviceaccount", "reader", "-n", "moved")
        cluster.kubectl("create", "rolebinding", "reader", "-n", "moved", "--clusterrole=view",
                        "--serviceaccount=moved:reader")
        cluster.kubectl_run("apply", "-n", "moved", "-f", "-", stdin=json.dumps(RC))
        token = cluster.kubectl("create", "token", "reader", "-n", "moved",
                                "--duration=2h").strip()
        wait_for(lambda: _rc_ready(cluster), within=90, interval=1, what="the RC's pods")
        shutil.copy(cluster.data_dir / "kubeconfig", old_kubeconfig)
        before = _objects(cluster, old_kubeconfig)
        busy = kyb("up", "--servers", "3", "--data-dir", str(cluster.data_dir), env=ENV)
        assert busy.returncode == 2 and "already running" in busy.stderr, busy.stderr
    finally:
        cluster.down()

    try:
        cluster.up("--servers", "3", "--nodes", "1", "--runtime", "fake", "--timeout", "180")
        assert not (cluster.data_dir / "state.db").exists()
        assert (cluster.data_dir / "state.db.before-etcd").exists()
        log = (cluster.data_dir / "logs" / "supervisor.log").read_text()
        print(next(line for line in log.splitlines() if "keys from SQLite" in line))
        after = _objects(cluster, old_kubeconfig)  # the old kubeconfig works
        uids = {k: v for k, v in before.items() if k != "max"}
        assert {k: after.get(k) for k in uids} == uids
        assert cluster.kubectl("get", "secret", "pw", "-n", "moved", "-o",
                               "jsonpath={.data.p}") == "czM="  # base64 of s3: decrypted
        assert after["max"] > before["max"]  # copies land above the old revisions
        wait_for(lambda: _rc_ready(cluster), within=90, interval=1, what="the RC's pods")
        reading = _as_token(cluster, token)
        assert reading.returncode == 0 and "settings" in reading.stdout, reading.stderr
        cluster.kubectl("create", "configmap", "new", "-n", "moved")
        created = json.loads(cluster.kubectl("get", "configmap", "new", "-n", "moved",
                                             "-o", "json"))
        assert int(created["metadata"]["resourceVersion"]) > before["max"]
    finally:
        cluster.down()
    back = kyb("up", "--servers", "1", "--data-dir", str(cluster.data_dir), env=ENV)
    assert back.returncode == 2 and "moving back to one server" in back.stderr, back.stderr
