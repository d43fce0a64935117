"""`kyb backup` of a running one-server (SQLite) cluster, objects deleted, `kyb restore`
into a new data dir, `kyb up` there: the objects are back (a Secret decrypts with the
restored PKI), and the restored cluster's resourceVersions go on past the old one's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cluster import KybCluster, fake_runtime_cluster, kyb

pytestmark = pytest.mark.timeout(300)
ENV = {"KYB_HOST_NETWORK": "1"}


def test_backup_then_restore_brings_the_objects_back(tmp_path: Path) -> None:
    backup = tmp_path / "backup.tar.gz"
    with fake_runtime_cluster(tmp_path / "old") as old:
        old.kubectl("create", "namespace", "kept")
        old.kubectl("create", "configmap", "settings", "-n", "kept", "--from-literal=a=1")
        old.kubectl("create", "secret", "generic", "pw", "-n", "kept", "--from-literal=p=s3")
        made = kyb("backup", "--data-dir", str(old.data_dir), str(backup))
        assert made.returncode == 0, made.stderr
        old.kubectl("delete", "namespace", "kept", "--wait=false")
        old.kubectl("create", "configmap", "after", "-n", "default")
        last_rv = int(json.loads(old.kubectl("get", "configmap", "after", "-o", "json"))
                      ["metadata"]["resourceVersion"])
        busy = kyb("restore", "--data-dir", str(old.data_dir), str(backup))
        assert busy.returncode == 2 and "is running" in busy.stderr
    bad = kyb("restore", "--data-dir", str(tmp_path / "none"), str(tmp_path / "missing"))
    assert bad.returncode == 2 and not (tmp_path / "none").exists()

    restored = kyb("restore", "--data-dir", str(tmp_path / "new"), str(backup))
    assert restored.returncode == 0, restored.stderr
    new = KybCluster(tmp_path / "new", env=ENV)
    try:
        new.up("--nodes", "1", "--runtime", "fake")
        assert new.kubectl("get", "configmap", "settings", "-n", "kept", "-o",
                           "jsonpath={.data.a}") == "1"
        assert new.kubectl("get", "secret", "pw", "-n", "kept", "-o",
                           "jsonpath={.data.p}") == "czM="  # base64 of s3
        assert new.kubectl_run("get", "configmap", "after").returncode != 0
        new.kubectl("create", "configmap", "later", "-n", "default")
        rv = int(json.loads(new.kubectl("get", "configmap", "later", "-o", "json"))
                 ["metadata"]["resourceVersion"])
        assert rv > last_rv
    finally:
        new.down()
