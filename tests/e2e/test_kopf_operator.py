"""A real kopf operator against a cluster: it registers its CRD, and for a Widget made
with kubectl creates a ConfigMap the Widget owns and writes the Widget's status; the
garbage collector deletes the ConfigMap with its Widget."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import KybCluster, fake_runtime_cluster
from tests.support.poll import wait_for
from tests.support.procs import Proc

OPERATOR = Path(__file__).parent / "operators" / "widget_operator.py"
pytestmark = pytest.mark.timeout(300)

WIDGET = """\
apiVersion: demo.kyb.io/v1
kind: Widget
metadata: {name: w1, namespace: default}
spec: {colour: blue}
"""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KybCluster]:
    with fake_runtime_cluster(tmp_path / "kyb", nodes=1) as c:
        yield c


@pytest.fixture
def operator(cluster: KybCluster, tmp_path: Path) -> Iterator[Proc]:
    proc = Proc([sys.executable, "-m", "kopf", "run", "--standalone", "-A", str(OPERATOR)],
                log_path=tmp_path / "operator.log", env=cluster.env).start()
    try:
        yield proc
    finally:
        proc.stop()


def eventually(check: Any, what: str, proc: Proc, timeout: float = 60.0) -> Any:
    """The shared poller, failing at once if the operator exits; the operator's log is
    in the failure either way."""
    def while_alive() -> Any:
        assert proc.alive(), "the operator exited"
        return check()
    try:
        return wait_for(while_alive, within=timeout, interval=0.25, what=what)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{proc.log_tail()}") from None


def get(cluster: KybCluster, *args: str) -> dict[str, Any] | None:
    out = cluster.kubectl("get", *args, "-o", "json", "--ignore-not-found")
    return json.loads(out) if out.strip() else None


def test_kopf_operator_owns_a_config_map_and_writes_status(cluster: KybCluster,
                                                           operator: Proc) -> None:
    eventually(lambda: get(cluster, "crd", "widgets.demo.kyb.io"), "Widget CRD", operator)
    cluster.kubectl("wait", "--for=condition=Established", "crd/widgets.demo.kyb.io")
    subprocess.run(["kubectl", "apply", "-f", "-"], input=WIDGET, text=True, check=True,
                   env=cluster.env, capture_output=True, timeout=60)
    widget = eventually(lambda: (w := get(cluster, "widget", "w1"))
                        and "configMap" in w.get("status", {}) and w, "Widget status",
                        operator)
    assert widget["status"]["create_config"] == {"created": "w1-config"}
    config = get(cluster, "configmap", "w1-config")
    assert config is not None and config["data"] == {"colour": "blue"}
    owner = config["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "Widget", "w1", widget["metadata"]["uid"])
    cluster.kubectl("delete", "widget", "w1", "--timeout=60s")
    eventually(lambda: get(cluster, "configmap", "w1-config") is None,
               "ConfigMap collected with its Widget", operator)
