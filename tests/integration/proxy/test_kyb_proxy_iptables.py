"""`kyb proxy --mode iptables`: DNAT across a real veth into a namespace of "pods".

The pods are backend processes inside a network namespace with three addresses
behind a veth pair; the proxy programs the host's nat table; the test is the
host-side client. Every namespace, process and rule is removed even on failure.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.proxy.cluster import Api, ProxyProcess, subsets
from tests.integration.proxy.harness import (
    Backend,
    PodNetwork,
    assert_no_rules_left,
    backends,
    eventually,
    host_netfilter_lock,
    http_get,
    kyb_chains,
    udp_ask,
)
from tests.support.apiserver import ApiServer
from tests.support.procs import Proc

pytestmark = pytest.mark.root
PORT, UDP_PORT = 8080, 5353


@pytest.fixture
def net() -> Iterator[PodNetwork]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    with host_netfilter_lock(), PodNetwork(3) as network:
        yield network
        assert_no_rules_left()


@pytest.fixture
def pods(net: PodNetwork) -> Iterator[list[Backend]]:
    with backends([{"name": name, "host": ip, "tcp": PORT, "udp": UDP_PORT,
                    "netns": net.netns}
                   for name, ip in zip("abc", net.pod_ips, strict=True)]) as started:
        yield started


def spread(ip: str, port: int, n: int) -> Counter[bytes]:
    return Counter(http_get(ip, port) for _ in range(n))


def test_iptables_proxy_carries_service_traffic(apiserver: ApiServer, net: PodNetwork,
                                                pods: list[Backend], tmp_path: Path) -> None:
    api = Api(apiserver)
    svc = api.service("web", [{"name": "http", "port": 80}], type="NodePort")
    cluster_ip, node_port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
    api.endpoints("web", subsets([(ip, PORT) for ip in net.pod_ips], port_name="http"))
    proxy = ProxyProcess(apiserver, tmp_path, mode="iptables", bind_address="0.0.0.0").start()
    try:
        eventually(lambda: http_get(cluster_ip, 80, timeout=0.5))
        seen = spread(cluster_ip, 80, 90)  # random: each of 3 gets 30 ± 4.5 on average
        assert set(seen) == {b"a", b"b", b"c"} and min(seen.values()) >= 12, seen

        # NodePort on a node address and on localhost (route_localnet + masquerade)
        assert set(spread(net.host_ip, node_port, 30)) == {b"a", b"b", b"c"}
        assert http_get("127.0.0.1", node_port) in (b"a", b"b", b"c")

        # an endpoint that turns unready stops getting traffic within a second
        api.endpoints("web", subsets([(ip, PORT) for ip in net.pod_ips[:2]],
                                     [(net.pod_ips[2], PORT)], port_name="http"))
        eventually(lambda: set(spread(cluster_ip, 80, 20)) == {b"a", b"b"}, timeout=1.0)

        # ClientIP affinity (the recent module) pins the client
        api.patch_service("web", {"sessionAffinity": "ClientIP"})
        eventually(lambda: len(spread(cluster_ip, 80, 10)) == 1, timeout=2.0)

        assert 'kyb_proxy_connections_total{service="default/web:http"}' in proxy.metrics()

        # no ready endpoint: rejected at once rather than left to time out
        api.endpoints("web", [])
        eventually(lambda: _refused(cluster_ip, 80), timeout=1.0)

        # deleting the Service removes its rules
        api.delete_service("web")
        eventually(lambda: not any(cluster_ip in rule for rule in _saved()), timeout=2.0)
    finally:
        assert proxy.stop() == 0


def test_iptables_proxy_udp_and_restart(apiserver: ApiServer, net: PodNetwork,
                                        pods: list[Backend], tmp_path: Path) -> None:
    api = Api(apiserver)
    dns = api.service("dns", [{"name": "dns", "port": 53, "protocol": "UDP"}])
    web = api.service("web", [{"name": "http", "port": 80}])
    api.endpoints("dns", subsets([(ip, UDP_PORT) for ip in net.pod_ips], port_name="dns",
                                 protocol="UDP"))
    api.endpoints("web", subsets([(ip, PORT) for ip in net.pod_ips], port_name="http"))
    proxy = ProxyProcess(apiserver, tmp_path, mode="iptables", bind_address="0.0.0.0").start()
    try:
        ip = dns["spec"]["clusterIP"]
        answers = Counter(udp_ask(ip, 53, b"q").split(b":")[0] for _ in range(60))
        assert set(answers) == {b"a", b"b", b"c"}

        # a crash: the rules stay, so the Service stays reachable while the proxy is down
        web_ip = web["spec"]["clusterIP"]
        proxy.proc.kill()
        assert set(spread(web_ip, 80, 30)) == {b"a", b"b", b"c"}
        proxy = ProxyProcess(apiserver, tmp_path, mode="iptables", bind_address="0.0.0.0")
        proxy.proc.start()
        assert set(spread(web_ip, 80, 30)) == {b"a", b"b", b"c"}  # and while it starts
        proxy.wait_healthy()
        # the new proxy owns the chains it found: a change still takes effect
        api.endpoints("web", subsets([(net.pod_ips[1], PORT)], port_name="http"))
        eventually(lambda: set(spread(web_ip, 80, 10)) == {b"b"}, timeout=1.0)

        # a graceful restart under a stream of connection attempts: the stopping proxy
        # leaves its rules, the next one adopts them and replaces them in one restore
        assert proxy.stop() == 0  # (--cleanup-on-exit, as `kyb up` on the host network)
        assert not any(web_ip in rule for rule in _saved())
        proxy = ProxyProcess(apiserver, tmp_path, mode="iptables", bind_address="0.0.0.0",
                             keep_rules=True).start()
        eventually(lambda: http_get(web_ip, 80, timeout=0.2), timeout=5)
        with ConnectionStream(web_ip, 80) as stream:
            time.sleep(0.3)
            assert proxy.stop() == 0  # SIGTERM: the rules stay
            assert any(web_ip in rule for rule in _saved())
            proxy = ProxyProcess(apiserver, tmp_path, mode="iptables",
                                 bind_address="0.0.0.0").start()
            api.endpoints("web", subsets([(net.pod_ips[2], PORT)], port_name="http"))
            eventually(lambda: set(spread(web_ip, 80, 10)) == {b"c"}, timeout=2.0)
            time.sleep(0.3)
        assert stream.attempts > 50 and stream.failures == [], \
            f"{len(stream.failures)} of {stream.attempts} connection attempts failed"
    finally:
        proxy.stop()


class ConnectionStream:
    """A thread making a new connection every 10 ms; remembers when one failed."""

    def __init__(self, ip: str, port: int) -> None:
        self.ip, self.port = ip, port
        self.attempts = 0
        self.failures: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.attempts += 1
            try:
                http_get(self.ip, self.port, timeout=1.0)
            except OSError:
                self.failures.append(time.monotonic())
            self._stop.wait(0.01)

    def __enter__(self) -> ConnectionStream:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)


def test_cleanup_removes_what_a_killed_proxy_left(apiserver: ApiServer, net: PodNetwork,
                                                  tmp_path: Path) -> None:
    api = Api(apiserver)
    api.service("web", [{"name": "http", "port": 80}], type="NodePort")
    api.endpoints("web", subsets([(net.pod_ips[0], PORT)], port_name="http"))
    proxy = ProxyProcess(apiserver, tmp_path, mode="iptables", bind_address="0.0.0.0").start()
    try:
        eventually(lambda: any("KYB-SEP-" in rule for rule in _saved()))
    finally:
        proxy.proc.kill()
    assert kyb_chains() != []
    cleanup = Proc.kyb("proxy", "--cleanup", log_path=tmp_path / "cleanup.log").start()
    assert cleanup.popen is not None and cleanup.popen.wait(30) == 0
    assert kyb_chains() == []


def _saved() -> list[str]:
    out = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "KYB-" in line]


def _refused(ip: str, port: int) -> bool:
    try:
        http_get(ip, port, timeout=0.5)
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return False
