"""An Indexed Job on a real two-node `kyb up` cluster (process runtime): each pod prints the
JOB_COMPLETION_INDEX the job controller gave it through the downward API, the Job
completes (`kubectl wait --for=condition=complete`), and `kubectl logs job/<name>` shows
a pod's output, as in Kubernetes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import KybCluster, process_cluster

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KybCluster]:
    with process_cluster(tmp_path / "kyb") as c:
        yield c


def test_indexed_job_pods_print_their_index(cluster: KybCluster, tmp_path: Path) -> None:
    manifest = tmp_path / "job.json"
    manifest.write_text(json.dumps({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "idx", "namespace": "default"},
        "spec": {"completions": 3, "parallelism": 3, "completionMode": "Indexed",
                 "template": {"spec": {"restartPolicy": "Never", "containers": [{
                     "name": "main", "image": "busybox",
                     "command": ["sh", "-c", "echo index=$JOB_COMPLETION_INDEX"],
                 }]}}}}))
    cluster.kubectl("create", "-f", str(manifest))
    out = cluster.kubectl("wait", "--for=condition=complete", "job/idx", "--timeout=120s",
                          check=False)
    assert "condition met" in out, out + cluster.kubectl("get", "pods", "-o", "wide") + \
        cluster.logs()
    pods = json.loads(cluster.kubectl("get", "pods", "-l", "batch.kubernetes.io/job-name=idx",
                                      "-o", "json"))["items"]
    seen = set()
    for pod in pods:
        index = pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
        logs = cluster.kubectl("logs", pod["metadata"]["name"])
        assert logs.split()[0] == f"index={index}", logs
        seen.add(index)
    assert seen == {"0", "1", "2"}
    job_logs = cluster.kubectl("logs", "job/idx")
    assert job_logs.startswith("index=") and job_logs.split()[0][6:] in seen
    rows = cluster.kubectl("get", "job", "idx").splitlines()
    assert rows[1].split()[:3] == ["idx", "Complete", "3/3"]
