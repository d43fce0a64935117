"""`kyb backup` of a running cluster, objects deleted, `kyb restore` into a new data
dir, `kyb up` there: the objects are back (a Secret decrypts with the restored PKI).
One server (SQLite): the restored cluster's resourceVersions go on past the old
one's. Two servers (etcd, host network, to stay cheap): the same through an etcd
snapshot (etcdctl)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kybernetes.cli.etcd_backup import ETCDCTL
from kybernetes.cli.servers import ETCD
from tests.support.cluster import KybCluster, kyb

pytestmark = pytest.mark.timeout(300)
ENV = {"KYB_HOST_NETWORK": "1"}


def _resource_version(cluster: KybCluster, name: str) -> int:
    obj = json.loads(cluster.kubectl("get", "configmap", name, "-o", "json"))
    return int(obj["metadata"]["resourceVersion"])


def _round_trip(tmp_path: Path, *up_args: str) -> tuple[int, int]:
    """Back up, delete, restore elsewhere, start: (the old cluster's last
    resourceVersion, the restored cluster's first)."""
    backup = tmp_path / "backup.tar.gz"
    old = KybCluster(tmp_path / "old", env=ENV)
    try:
        old.up("--nodes", "1", "--runtime", "fake", *up_args)
        old.kubectl("create", "namespace", "kept")
        old.kubectl("create", "configmap", "settings", "-n", "kept", "--from-literal=a=1")
        old.kubectl("create", "secret", "generic", "pw", "-n", "kept", "--from-literal=p=s3")
        made = kyb("backup", "--data-dir", str(old.data_dir), str(backup), env=ENV)
        assert made.returncode == 0, made.stderr
        old.kubectl("delete", "namespace", "kept", "--wait=false")
        old.kubectl("create", "configmap", "after", "-n", "default")
        last_rv = _resource_version(old, "after")
        busy = kyb("restore", "--data-dir", str(old.data_dir), str(backup), env=ENV)
        assert busy.returncode == 2 and "is running" in busy.stderr
    finally:
        old.down()
    restored = kyb("restore", "--data-dir", str(tmp_path / "new"), str(backup), env=ENV)
    assert restored.returncode == 0, restored.stderr
    new = KybCluster(tmp_path / "new", env=ENV)
    try:
        new.up("--nodes", "1", "--runtime", "fake", *up_args)
        assert new.kubectl("get", "configmap", "settings", "-n", "kept", "-o",
                           "jsonpath={.data.a}") == "1"
        assert new.kubectl("get", "secret", "pw", "-n", "kept", "-o",
                           "jsonpath={.data.p}") == "czM="  # base64 of s3
        assert new.kubectl_run("get", "configmap", "after").returncode != 0
        new.kubectl("create", "configmap", "later", "-n", "default")
        return last_rv, _resource_version(new, "later")
    finally:
        new.down()


def test_sqlite_backup_then_restore(tmp_path: Path) -> None:
    last_rv, first_rv = _round_trip(tmp_path)
    assert first_rv > last_rv  # the restore bumped the revision
    bad = kyb("restore", "--data-dir", str(tmp_path / "none"), str(tmp_path / "missing"))
    assert bad.returncode == 2 and not (tmp_path / "none").exists()


@pytest.mark.etcd
@pytest.mark.skipif(not (os.path.exists(ETCD) and os.path.exists(ETCDCTL)),
                    reason="needs Debian's etcd-server and etcd-client")
def test_etcd_snapshot_then_restore(tmp_path: Path) -> None:
    _round_trip(tmp_path, "--servers", "2")
