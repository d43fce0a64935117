"""The real Helm 4 against a cluster on the fake runtime: the scaffold chart installs and
waits until Ready, upgrades, rolls back and uninstalls (Helm applies server-side and
waits with kstatus watches, so this exercises server-side apply, managedFields,
watches with sendInitialEvents and Deployment status)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import KybCluster, fake_runtime_cluster

ROOT = Path(__file__).resolve().parents[2]
HELM = shutil.which("helm") or str(ROOT / ".venv" / "bin" / "helm")
pytestmark = [pytest.mark.timeout(420),
              pytest.mark.skipif(not Path(HELM).exists(),
                                 reason="helm is not installed (scripts/install-helm.sh)")]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KybCluster]:
    with fake_runtime_cluster(tmp_path / "kyb", nodes=2) as c:
        yield c


def helm(cluster: KybCluster, *args: str, cwd: Path) -> str:
    result = subprocess.run([HELM, *args], capture_output=True, text=True, cwd=cwd,
                            env={**cluster.env, "HELM_CACHE_HOME": str(cwd / "cache"),
                                 "HELM_CONFIG_HOME": str(cwd / "config"),
                                 "HELM_DATA_HOME": str(cwd / "data")},
                            timeout=240, check=False)
    assert result.returncode == 0, (f"helm {' '.join(args)}:\n{result.stdout}\n"
                                    f"{result.stderr}\n{cluster.logs()}")
    return result.stdout


def revisions(cluster: KybCluster, cwd: Path) -> list[tuple[int, str]]:
    history = json.loads(helm(cluster, "history", "demo", "-o", "json", cwd=cwd))
    return [(h["revision"], h["status"]) for h in history]


def test_scaffold_chart_install_upgrade_rollback_uninstall(cluster: KybCluster,
                                                           tmp_path: Path) -> None:
    helm(cluster, "create", "demo", cwd=tmp_path)
    chart = str(tmp_path / "demo")
    helm(cluster, "install", "demo", chart, "--wait", "--timeout", "120s", cwd=tmp_path)
    deployment = json.loads(cluster.kubectl("get", "deployment", "demo", "-o", "json",
                                            "--show-managed-fields"))
    assert deployment["status"]["readyReplicas"] == 1
    managers = {m["manager"] for m in deployment["metadata"]["managedFields"]}
    assert "helm" in managers  # Helm 4 applies server-side

    helm(cluster, "upgrade", "demo", chart, "--set", "replicaCount=2",
         "--set", "podAnnotations.rev=two", "--wait", "--timeout", "120s", cwd=tmp_path)
    deployment = json.loads(cluster.kubectl("get", "deployment", "demo", "-o", "json"))
    assert deployment["spec"]["replicas"] == 2 and deployment["status"]["readyReplicas"] == 2
    assert deployment["spec"]["template"]["metadata"]["annotations"] == {"rev": "two"}

    helm(cluster, "rollback", "demo", "1", "--wait", "--timeout", "120s", cwd=tmp_path)
    deployment = json.loads(cluster.kubectl("get", "deployment", "demo", "-o", "json"))
    assert deployment["spec"]["replicas"] == 1
    # Server-side apply removes what the applier no longer sends.
    assert not deployment["spec"]["template"]["metadata"].get("annotations")
    assert revisions(cluster, tmp_path) == [(1, "superseded"), (2, "superseded"),
                                            (3, "deployed")]

    helm(cluster, "uninstall", "demo", "--wait", "--timeout", "120s", cwd=tmp_path)
    assert cluster.kubectl("get", "deployment,service,serviceaccount", "-l",
                           "app.kubernetes.io/instance=demo", "-o", "name") == ""
    assert cluster.kubectl("get", "secrets", "-l", "owner=helm", "-o", "name") == ""
