"""The README's promise, end to end: `kyb up --nodes 2`, the web example behind its
Service with the real kubectl, self-healing, scaling, restart with state, cleanup;
and the two-tier guestbook wired through the Service environment variables."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from kybernetes.cli import cluster_dir
from kybernetes.client.kubeconfig import load_kubeconfig
from tests.support.cluster import KybCluster

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "examples" / "web" / "web.yaml"
GUESTBOOK = ROOT / "examples" / "guestbook" / "guestbook.yaml"
pytestmark = pytest.mark.timeout(420)


class Cluster(KybCluster):
    """A two-node process-runtime cluster, and what the web example needs of it."""

    def up(self, *args: str) -> None:
        super().up("--nodes", "2", "--runtime", "process", *args)

    def get(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def running_pods(self, selector: str) -> list[dict]:
        pods = self.get("pods", "-l", selector)["items"]
        return [p for p in pods if p["status"].get("phase") == "Running"
                and not p["metadata"].get("deletionTimestamp")
                and any(c["type"] == "Ready" and c["status"] == "True"
                        for c in p["status"].get("conditions", []))]

    def wait_ready_pods(self, count: int, timeout: float, selector: str = "app=web"
                        ) -> list[dict]:
        deadline = time.monotonic() + timeout
        pods: list[dict] = []
        while time.monotonic() < deadline:
            pods = self.running_pods(selector)
            if len(pods) == count and len(self.get("pods", "-l", selector)["items"]) == count:
                return pods
            time.sleep(0.2)
        raise AssertionError(f"wanted {count} Ready pods ({selector}), have {len(pods)}\n"
                             f"{self.logs()}")

    def node_ips(self) -> list[str]:
        ips = []
        for node in self.get("nodes")["items"]:
            ips += [a["address"] for a in node["status"]["addresses"]
                    if a["type"] == "InternalIP"]
        return ips

    def http(self, url: str, data: bytes | None = None, timeout: float = 20) -> str:
        """The body of a request that is retried until the Service answers."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url, data=data, timeout=3) as r:
                    return r.read().decode()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def component_users(self) -> dict[str, tuple[str, list[str]]]:
        """The user (CN) and groups (O) of the kubeconfig each running component was
        started with, read from its command line."""
        users: dict[str, tuple[str, list[str]]] = {}
        status = cluster_dir.resolve(str(self.data_dir)).read_status()
        assert status is not None
        for component in status["components"]:
            argv = Path(f"/proc/{component['pid']}/cmdline").read_bytes().decode().split("\0")
            if "--kubeconfig" not in argv:
                continue
            config = load_kubeconfig(argv[argv.index("--kubeconfig") + 1])
            assert config.cert_pem, component["name"]
            subject = x509.load_pem_x509_certificate(config.cert_pem).subject
            users[component["name"]] = (
                str(subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value),
                [str(a.value) for a in
                 subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)])
        return users

    def answers_through_service(self, want: set[str], timeout: float = 20) -> set[str]:
        """Names of the pods that answered requests sent to the Service's NodePort."""
        seen: set[str] = set()
        deadline = time.monotonic() + timeout
        ips = self.node_ips()
        while time.monotonic() < deadline and not want <= seen:
            for ip in ips:
                try:
                    with urllib.request.urlopen(f"http://{ip}:30080/", timeout=2) as r:
                        seen.add(r.read().decode().strip().removeprefix("hello from "))
                except OSError:
                    time.sleep(0.1)
        return seen


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path / "kyb")
    try:
        yield c
    finally:
        c.down()


def test_web_example_end_to_end(cluster: Cluster) -> None:
    cluster.up()
    nodes = cluster.get("nodes")["items"]
    assert len(nodes) == 2
    assert all(any(c["type"] == "Ready" and c["status"] == "True"
                   for c in n["status"]["conditions"]) for n in nodes)
    # every component runs as its own least-privilege user, none as the admin
    node_names = sorted(n["metadata"]["name"] for n in nodes)
    assert cluster.component_users() == {
        "controller-manager": ("system:kube-controller-manager", []),
        "scheduler": ("system:kube-scheduler", []),
        **{f"kubelet-{n}": (f"system:node:{n}", ["system:nodes"]) for n in node_names},
        **{f"proxy-{n}": ("system:kube-proxy", []) for n in node_names},
        # cluster DNS and the pod-network agents, with per-node networks (root): kube's
        # kube-dns ServiceAccount user, and our agents' own
        **({"dns": ("system:serviceaccount:kube-system:kube-dns",
                    ["system:serviceaccounts", "system:serviceaccounts:kube-system"]),
            **{f"{agent}-{n}": (f"system:serviceaccount:kube-system:kyb-{agent}",
                                ["system:serviceaccounts", "system:serviceaccounts:kube-system"])
               for n in node_names for agent in ("pod-network", "network-policy")}}
           if os.geteuid() == 0 and os.environ.get("KYB_HOST_NETWORK") != "1" else {})}

    cluster.kubectl("apply", "-f", str(WEB))
    pods = cluster.wait_ready_pods(3, timeout=10)
    assert {p["spec"]["nodeName"] for p in pods} == {n["metadata"]["name"] for n in nodes}
    names = {p["metadata"]["name"] for p in pods}
    assert cluster.answers_through_service(names) == names

    victim = sorted(names)[0]
    cluster.kubectl("delete", "pod", victim)
    pods = cluster.wait_ready_pods(3, timeout=20)
    assert victim not in {p["metadata"]["name"] for p in pods}

    cluster.kubectl("scale", "rc", "web", "--replicas=5")
    pods = cluster.wait_ready_pods(5, timeout=20)
    names = {p["metadata"]["name"] for p in pods}
    assert cluster.answers_through_service(names) == names

    cluster.down()
    cluster.up()
    assert cluster.get("rc", "web")["spec"]["replicas"] == 5
    assert cluster.get("service", "web")["spec"]["ports"][0]["nodePort"] == 30080
    cluster.wait_ready_pods(5, timeout=30)

    cluster.kubectl("delete", "-f", str(WEB))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and cluster.get("pods", "-l", "app=web")["items"]:
        time.sleep(0.2)
    assert cluster.get("pods", "-l", "app=web")["items"] == []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_serving(name) for name in names):
        time.sleep(0.2)
    assert not [name for name in names if _serving(name)], "pod processes left running"


def test_guestbook_frontend_reaches_backend_through_its_service(cluster: Cluster) -> None:
    cluster.up()
    cluster.kubectl("apply", "-f", str(GUESTBOOK))
    cluster.wait_ready_pods(1, timeout=30, selector="app=guestbook,tier=backend")
    frontends = cluster.wait_ready_pods(2, timeout=30, selector="app=guestbook,tier=frontend")
    node_ip = cluster.node_ips()[0]
    cluster.http(f"http://{node_ip}:30081/", data=b"signed by the e2e test")
    served_by: set[str] = set()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(served_by) < 2:
        page = cluster.http(f"http://{node_ip}:30081/")
        assert "signed by the e2e test" in page
        served_by.add(page.split("served by ", 1)[1].split(")", 1)[0])
    assert served_by == {p["metadata"]["name"] for p in frontends}
    cluster.kubectl("delete", "-f", str(GUESTBOOK))


def _serving(pod_name: str) -> bool:
    """Whether a web pod's httpd process still runs on this machine."""
    result = subprocess.run(["pgrep", "-f", f"/tmp/kyb-web/{pod_name}"], capture_output=True,
                            check=False)
    return result.returncode == 0
