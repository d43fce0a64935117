"""`kyb proxy --mode iptables`: LoadBalancer ingress IPs, the Local traffic policies and
the healthCheckNodePort, with a real API server, real rules and an off-node client.

Two namespaces behind veth pairs: the "pods" (three backends, `a` on this proxy's
node `node-1`, `b` and `c` on `node-2` by their EndpointSlice's nodeName) and an
outside client; the host forwards between them (FORWARD accepts for the two veths,
removed afterwards), so its traffic is not the node's own and keeps its address.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.proxy.cluster import Api, ProxyProcess
from tests.integration.proxy.harness import (
    Backend,
    PodNetwork,
    assert_no_rules_left,
    backends,
    eventually,
    host_netfilter_lock,
    http_get,
)
from tests.support.apiserver import ApiServer

pytestmark = pytest.mark.root
PORT = 8080
READY = {"ready": True, "serving": True, "terminating": False}
PORTS = [{"name": "http", "port": PORT, "protocol": "TCP"}]

CLIENT = """
import socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for _ in range(n):
    try:
        with socket.create_connection((host, port), timeout=0.5) as s:
            s.sendall(b"GET /peer HTTP/1.0\\r\\n\\r\\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        print(data.partition(b"\\r\\n\\r\\n")[2].decode())
    except OSError as e:
        print("error", type(e).__name__)
"""


@pytest.fixture
def nets() -> Iterator[tuple[PodNetwork, PodNetwork]]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    with host_netfilter_lock(), PodNetwork(3) as pods, PodNetwork(1) as client:
        accepts = [["FORWARD", "-i", iface, "-j", "ACCEPT"] for iface in
                   (pods.host_if, client.host_if)]
        for rule in accepts:
            subprocess.run(["iptables", "-w", "5", "-I", *rule], check=True)
        try:
            yield pods, client
        finally:
            for rule in accepts:
                subprocess.run(["iptables", "-w", "5", "-D", *rule], check=False)
        assert_no_rules_left()


@pytest.fixture
def pods(nets: tuple[PodNetwork, PodNetwork]) -> Iterator[list[Backend]]:
    net = nets[0]
    with backends([{"name": name, "host": ip, "tcp": PORT, "netns": net.netns}
                   for name, ip in zip("abc", net.pod_ips, strict=True)]) as started:
        yield started


def from_client(client: PodNetwork, host: str, port: int, n: int = 10) -> Counter[str]:
    """`n` GET /peer from the client namespace: Counter of 'backend peer' answers."""
    out = subprocess.run(["ip", "netns", "exec", client.netns, sys.executable, "-c", CLIENT,
                          host, str(port), str(n)], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return Counter(out.splitlines())


def test_load_balancer_and_local_policies(apiserver: ApiServer, nets: tuple[PodNetwork,
                                                                            PodNetwork],
                                          pods: list[Backend], tmp_path: Path) -> None:
    net, client = nets
    api = Api(apiserver)
    svc = api.service("web", [{"name": "http", "port": 80}], type="LoadBalancer",
                      externalTrafficPolicy="Local")
    node_port = svc["spec"]["ports"][0]["nodePort"]
    check_port = svc["spec"]["healthCheckNodePort"]
    api.set_ingress("web", [net.host_ip])  # as the service-lb-controller would
    a, b, c = ({"ip": ip, "nodeName": node}
               for ip, node in zip(net.pod_ips, ("node-1", "node-2", "node-2"), strict=True))
    api.slices("web", [(READY, [a], PORTS), (READY, [b, c], PORTS)])  # two slices
    proxy = ProxyProcess(apiserver, tmp_path, mode="iptables", bind_address="0.0.0.0").start()
    me = client.pod_ips[0]
    try:
        # externalTrafficPolicy Local: the LB IP and the NodePort reach only this node's
        # endpoint, and it sees the client's own address (no SNAT)
        local = f"a {me}"
        eventually(lambda: from_client(client, net.host_ip, 80, 1) == {local: 1}, timeout=5)
        assert from_client(client, net.host_ip, 80, 20) == {local: 20}
        assert from_client(client, client.host_ip, node_port, 10) == {local: 10}
        # the cluster IP stays cluster-wide; the node itself reaches every endpoint too
        seen = Counter(http_get(svc["spec"]["clusterIP"], 80) for _ in range(40))
        assert set(seen) == {b"a", b"b", b"c"}, seen
        assert {http_get(net.host_ip, 80) for _ in range(40)} == {b"a", b"b", b"c"}
        # the health check node port: 200 with one local endpoint
        assert health(check_port) == (200, {"service": {"namespace": "default", "name": "web"},
                                            "localEndpoints": 1, "serviceProxyHealthy": True})

        # Cluster policy: every endpoint, masqueraded (the backend sees the node)
        api.patch_service("web", {"externalTrafficPolicy": "Cluster"})
        eventually(lambda: len(from_client(client, net.host_ip, 80, 20)) > 1, timeout=5)
        answers = from_client(client, net.host_ip, 80, 30)
        assert {k.split()[0] for k in answers} == {"a", "b", "c"}, answers
        assert all(k.split()[1] != me for k in answers), answers

        # internalTrafficPolicy Local: the cluster IP goes to this node's endpoint only;
        # with none here, traffic is dropped (not rejected), as kube-proxy does
        api.patch_service("web", {"internalTrafficPolicy": "Local"})
        eventually(lambda: {http_get(svc["spec"]["clusterIP"], 80)
                            for _ in range(10)} == {b"a"}, timeout=5)
        api.slices("web", [(READY, [{**a, "nodeName": "node-2"}, b, c], PORTS)])
        eventually(lambda: _times_out(svc["spec"]["clusterIP"], 80), timeout=5)

        # Local again, now with no endpoint here: the health check says 503 (an outside
        # balancer would skip this node) and external traffic is dropped too
        again = api.patch_service("web", {"externalTrafficPolicy": "Local"})
        check_port = again["spec"]["healthCheckNodePort"]  # a new one (Cluster freed it)
        eventually(lambda: health(check_port)[1]["localEndpoints"] == 0, timeout=5)
        assert health(check_port)[0] == 503
        assert from_client(client, net.host_ip, 80, 1) == {"error TimeoutError": 1}
    finally:
        assert proxy.stop() == 0


def health(port: int) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _times_out(ip: str, port: int) -> bool:
    try:
        http_get(ip, port, timeout=0.3)
    except TimeoutError:
        return True
    except OSError:
        return False
    return False
