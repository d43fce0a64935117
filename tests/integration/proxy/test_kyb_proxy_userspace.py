"""`kyb proxy --mode userspace` against a real API server and real backends.

As root the proxy also captures the cluster IP with its KYB-PORTALS chains, so the
Service is reached the way a pod or the host reaches it: at clusterIP:port.
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.proxy.cluster import Api, ProxyProcess, subsets
from tests.integration.proxy.harness import (
    Backend,
    assert_no_rules_left,
    backends,
    eventually,
    host_netfilter_lock,
    http_get,
    kyb_chains,
    udp_ask,
)
from tests.support.apiserver import ApiServer
from tests.support.net import free_port

pytestmark = pytest.mark.root
HOST = "127.0.0.1"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@pytest.fixture
def pods() -> Iterator[list[Backend]]:
    with backends([{"name": n, "host": HOST, "tcp": free_port(), "udp": free_udp_port()}
                   for n in ("a", "b", "c")]) as started:
        yield started


@pytest.fixture
def locked() -> Iterator[None]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    with host_netfilter_lock():
        yield
        assert_no_rules_left()


def spread(ip: str, port: int, n: int) -> Counter[bytes]:
    return Counter(http_get(ip, port) for _ in range(n))


def test_userspace_proxy_carries_service_traffic(
        apiserver: ApiServer, pods: list[Backend], locked: None, tmp_path: Path) -> None:
    api = Api(apiserver)
    svc = api.service("web", [{"name": "http", "port": 80, "protocol": "TCP"}],
                      type="NodePort")
    cluster_ip, node_port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
    api.endpoints("web", subsets([(HOST, p.tcp) for p in pods], port_name="http"))
    proxy = ProxyProcess(apiserver, tmp_path, mode="userspace").start()
    try:
        # round-robin over every ready endpoint, through the cluster IP and the NodePort
        eventually(lambda: http_get(cluster_ip, 80))
        assert sorted(spread(cluster_ip, 80, 30).values()) == [10, 10, 10]
        assert set(spread(HOST, node_port, 6)) == {b"a", b"b", b"c"}

        # an endpoint that turns unready stops getting traffic within a second
        api.endpoints("web", subsets([(HOST, p.tcp) for p in pods[:2]],
                                     [(HOST, pods[2].tcp)], port_name="http"))
        eventually(lambda: set(spread(cluster_ip, 80, 6)) == {b"a", b"b"}, timeout=1.0)

        # ClientIP affinity pins the client
        api.patch_service("web", {"sessionAffinity": "ClientIP"})
        eventually(lambda: len(spread(cluster_ip, 80, 8)) == 1, timeout=2.0)

        assert 'kyb_proxy_connections_total{service="default/web:http"}' in proxy.metrics()

        # deleting the Service closes the listener and removes its portal
        api.delete_service("web")
        eventually(lambda: not any(cluster_ip in rule for rule in kyb_chains()), timeout=2.0)
        eventually(lambda: refuses(HOST, node_port), timeout=2.0)
    finally:
        assert proxy.stop() == 0


def refuses(host: str, port: int) -> bool:
    """Whether nothing listens on host:port any more (the listener was closed)."""
    try:
        http_get(host, port)
    except ConnectionRefusedError:
        return True
    return False


def test_userspace_proxy_relays_udp(apiserver: ApiServer, pods: list[Backend], locked: None,
                                    tmp_path: Path) -> None:
    api = Api(apiserver)
    svc = api.service("dns", [{"name": "dns", "port": 53, "protocol": "UDP"}])
    api.endpoints("dns", subsets([(HOST, p.udp) for p in pods], port_name="dns",
                                 protocol="UDP"))
    proxy = ProxyProcess(apiserver, tmp_path, mode="userspace").start()
    try:
        ip = svc["spec"]["clusterIP"]
        eventually(lambda: udp_ask(ip, 53, b"q", timeout=0.3))
        names = Counter(udp_ask(ip, 53, b"q").split(b":")[0] for _ in range(6))
        assert names == {b"a": 2, b"b": 2, b"c": 2}  # a new client socket per question
    finally:
        assert proxy.stop() == 0
