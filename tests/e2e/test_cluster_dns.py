"""Cluster DNS on a two-node `kyb up` cluster (process runtime, as root): from
inside a pod, busybox's `nslookup` and GNU `wget` reach Services by short name,
`name.ns` and FQDN through the kube-dns ClusterIP; a headless Service answers its
pods and a StatefulSet pod's `hostname.subdomain`; SRV for a named port; each pod
has its own resolv.conf, /etc/hosts and hostname (the host's stay as they were).
The same cluster serves `kubectl port-forward` to pods on both nodes and to a Service."""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import KybCluster, process_cluster
from tests.support.kubectl import KUBECTLS, port_forward_bodies
from tests.support.poll import wait_for

pytestmark = [pytest.mark.timeout(420),
              pytest.mark.skipif(os.geteuid() != 0, reason="per-pod networks need root")]

MANIFEST = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: front}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: busybox:stable
        command:
        - /bin/busybox
        - sh
        - -c
        - |
          d=$(/bin/busybox mktemp -d); /bin/busybox hostname > $d/index.html
          exec /bin/busybox httpd -f -p 8080 -h $d
        readinessProbe:
          tcpSocket: {port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 1
  hostAliases: [{ip: 10.1.2.3, hostnames: [alias.example]}]
  containers:
  - name: sh
    image: busybox:stable
    command: [/bin/busybox, sleep, "3600"]
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KybCluster]:
    with process_cluster(tmp_path_factory.mktemp("dns") / "kyb") as c:
        path = c.data_dir / "dns.yaml"
        path.write_text(MANIFEST)
        c.kubectl("apply", "-f", str(path))
        wait_for(lambda: ready(c, "client", "web-0", "web-1"), within=180,
                 what="the client and both web pods Ready")
        yield c


def ready(cluster: KybCluster, *names: str) -> bool:
    out = json.loads(cluster.kubectl("get", "pods", "-o", "json"))
    done = {p["metadata"]["name"] for p in out["items"]
            if any(c["type"] == "Ready" and c["status"] == "True"
                   for c in p["status"].get("conditions", []))}
    return set(names) <= done


def sh(cluster: KybCluster, pod: str, *argv: str) -> str:
    result = cluster.kubectl_run("exec", pod, "--", "/bin/busybox", *argv)
    assert result.returncode == 0, f"{argv}: {result.stdout}{result.stderr}"
    return result.stdout


def wget(cluster: KybCluster, url: str) -> str:
    """GNU wget (glibc's resolver: search list, ndots) from the host, as the process
    runtime runs host programs; Debian's busybox-static wget segfaults even on an IP."""
    result = cluster.kubectl_run("exec", "client", "--", "/usr/bin/wget", "-qO-", "-T", "5",
                                 "-t", "1", url)
    assert result.returncode == 0, f"{url}: {result.stdout}{result.stderr}"
    return result.stdout.strip()


def nslookup(cluster: KybCluster, *args: str) -> str:
    """busybox's nslookup asks every search domain at once and exits 1 when any of them
    is NXDOMAIN (as on any Kubernetes cluster): its output is what counts."""
    result = cluster.kubectl_run("exec", "client", "--", "/bin/busybox", "nslookup", *args)
    return result.stdout + result.stderr


def addresses(nslookup_output: str) -> list[str]:
    """The answers of busybox's nslookup (after its `Name:` lines)."""
    _, _, answers = nslookup_output.partition("Name:")
    return re.findall(r"Address:\s*([\d.]+)", answers)


def pod_ip(cluster: KybCluster, name: str) -> str:
    return cluster.kubectl("get", "pod", name, "-o", "jsonpath={.status.podIP}")


def test_pod_resolver_files_and_hostname(cluster: KybCluster) -> None:
    resolv = sh(cluster, "client", "cat", "/etc/resolv.conf")
    assert resolv.startswith("nameserver 10.96.0.10\n"
                             "search default.svc.cluster.local svc.cluster.local cluster.local")
    assert resolv.splitlines()[-1] == "options ndots:5"
    assert sh(cluster, "client", "hostname").strip() == "client"
    assert sh(cluster, "web-1", "hostname").strip() == "web-1"
    hosts = sh(cluster, "web-0", "cat", "/etc/hosts")
    assert f"{pod_ip(cluster, 'web-0')}\tweb-0.web.default.svc.cluster.local\tweb-0" in hosts
    assert "10.1.2.3\talias.example" in sh(cluster, "client", "cat", "/etc/hosts")
    # the host's own files and name are untouched
    assert "10.96.0.10" not in Path("/etc/resolv.conf").read_text()
    assert "alias.example" not in Path("/etc/hosts").read_text()
    assert socket.gethostname() not in ("client", "web-0", "web-1")
    svc = json.loads(cluster.kubectl("get", "svc", "kube-dns", "-n", "kube-system", "-o",
                                     "json"))
    assert svc["spec"]["clusterIP"] == "10.96.0.10"
    assert sorted((p["name"], p["protocol"]) for p in svc["spec"]["ports"]) == [
        ("dns", "UDP"), ("dns-tcp", "TCP")]


def test_service_names_from_a_pod(cluster: KybCluster) -> None:
    front = cluster.kubectl("get", "svc", "front", "-o", "jsonpath={.spec.clusterIP}")
    for name in ("front", "front.default.svc.cluster.local"):
        output = nslookup(cluster, name)
        assert addresses(output) == [front], output
    # busybox's nslookup uses the search list only for names without a dot (so
    # `name.ns` fails with it on any cluster); glibc's resolver follows ndots:5
    for name in ("front", "front.default", "front.default.svc.cluster.local"):
        assert wget(cluster, f"http://{name}/") in ("web-0", "web-1"), name


def test_headless_names_srv_and_ptr(cluster: KybCluster) -> None:
    ips = {pod_ip(cluster, "web-0"), pod_ip(cluster, "web-1")}
    assert set(addresses(nslookup(cluster, "web"))) == ips
    assert addresses(nslookup(cluster, "web-0.web.default.svc.cluster.local")) == [
        pod_ip(cluster, "web-0")]
    assert wget(cluster, "http://web-0.web:8080/") == "web-0"
    assert wget(cluster, "http://web-1.web.default.svc.cluster.local:8080/") == "web-1"
    srv = nslookup(cluster, "-type=srv", "_http._tcp.front.default.svc.cluster.local")
    assert "port = 80" in srv or " 80 front.default.svc.cluster.local" in srv, srv
    front = cluster.kubectl("get", "svc", "front", "-o", "jsonpath={.spec.clusterIP}")
    ptr = nslookup(cluster, front)
    assert "front.default.svc.cluster.local" in ptr, ptr
    assert "NXDOMAIN" in nslookup(cluster, "nope.default.svc.cluster.local")


@pytest.mark.parametrize("binary", [KUBECTLS[0], KUBECTLS[-1]])
def test_port_forward_to_pods_on_both_nodes_and_a_service(cluster: KybCluster,
                                                          binary: str) -> None:
    """The oldest kubectl speaks SPDY, the newest SPDY tunneled over a WebSocket."""
    for pod in ("web-0", "web-1"):
        assert port_forward_bodies(binary, cluster.env, f"pod/{pod}", ":8080") == \
            [f"{pod}\n"] * 3
    (body,) = set(port_forward_bodies(binary, cluster.env, "svc/front", ":80"))
    assert body in ("web-0\n", "web-1\n")
