"""The userspace data path in process, against real backend processes (no root)."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import pytest

from kybernetes.proxy.metrics import Metrics
from kybernetes.proxy.model import ProxyState, ServicePort
from kybernetes.proxy.userspace import UserspaceProxier
from tests.integration.proxy.harness import Backend, backends, http_get, udp_ask
from tests.support.net import free_port

HOST = "127.0.0.1"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def pods() -> Iterator[list[Backend]]:
    specs = [{"name": n, "host": HOST, "tcp": free_port(), "udp": free_udp_port()}
             for n in ("a", "b", "c")]
    with backends(specs) as started:
        yield started


@pytest.fixture
async def proxier() -> AsyncIterator[UserspaceProxier]:
    p = UserspaceProxier(Metrics(), bind_address=HOST)
    try:
        yield p
    finally:
        await p.aclose()


def state(sp: ServicePort, endpoints: list[tuple[str, int]]) -> ProxyState:
    return ProxyState({sp.key: sp}, {sp.key: endpoints})


def tcp_port(**kw: object) -> ServicePort:
    return ServicePort("ns", "web", "http", "TCP", "10.96.0.10", 80, **kw)  # type: ignore[arg-type]


async def ask_many(port: int, n: int) -> Counter[bytes]:
    return Counter([await asyncio.to_thread(http_get, HOST, port) for _ in range(n)])


async def test_round_robin_spreads_evenly_over_ready_endpoints(
        proxier: UserspaceProxier, pods: list[Backend]) -> None:
    sp = tcp_port()
    await proxier.sync(state(sp, [(HOST, p.tcp) for p in pods]))
    port = proxier.listeners[sp.key].bound_port
    assert await ask_many(port, 30) == {b"a": 10, b"b": 10, b"c": 10}
    # endpoints change: the listener stays, traffic follows at once
    await proxier.sync(state(sp, [(HOST, pods[0].tcp)]))
    assert proxier.listeners[sp.key].bound_port == port
    assert await ask_many(port, 5) == {b"a": 5}
    metrics = proxier.metrics
    assert metrics.connections[sp.key] == 35 and metrics.bytes_out[sp.key] > 0


async def test_random_mode_reaches_every_endpoint(pods: list[Backend]) -> None:
    p = UserspaceProxier(Metrics(), bind_address=HOST, lb_mode="random")
    try:
        sp = tcp_port()
        await p.sync(state(sp, [(HOST, b.tcp) for b in pods]))
        seen = await ask_many(p.listeners[sp.key].bound_port, 90)
        assert set(seen) == {b"a", b"b", b"c"} and all(n >= 12 for n in seen.values())
    finally:
        await p.aclose()


async def test_client_ip_affinity_pins_a_client(proxier: UserspaceProxier,
                                                pods: list[Backend]) -> None:
    sp = tcp_port(affinity_timeout=60)
    await proxier.sync(state(sp, [(HOST, p.tcp) for p in pods]))
    seen = await ask_many(proxier.listeners[sp.key].bound_port, 12)
    assert len(seen) == 1


async def test_refused_endpoint_is_skipped(proxier: UserspaceProxier,
                                           pods: list[Backend]) -> None:
    sp = tcp_port()
    dead = (HOST, free_port())
    await proxier.sync(state(sp, [dead, (HOST, pods[1].tcp)]))
    assert await ask_many(proxier.listeners[sp.key].bound_port, 6) == {b"b": 6}
    assert proxier.metrics.errors[sp.key] >= 3


async def test_no_endpoint_closes_the_connection(proxier: UserspaceProxier) -> None:
    sp = tcp_port()
    await proxier.sync(state(sp, []))
    with pytest.raises(ConnectionError):
        await asyncio.to_thread(http_get, HOST, proxier.listeners[sp.key].bound_port)


async def test_bulk_transfer_is_complete(proxier: UserspaceProxier,
                                         pods: list[Backend]) -> None:
    sp = tcp_port()
    await proxier.sync(state(sp, [(HOST, pods[0].tcp)]))
    body = await asyncio.to_thread(http_get, HOST, proxier.listeners[sp.key].bound_port,
                                   "/bytes/20000000", timeout=10)
    assert len(body) == 20_000_000
    assert body == (bytes(range(256)) * (20_000_000 // 256 + 1))[:20_000_000]  # in order


async def test_udp_sessions_relay_and_follow_endpoints(proxier: UserspaceProxier,
                                                       pods: list[Backend]) -> None:
    sp = ServicePort("ns", "dns", "", "UDP", "10.96.0.53", 53)
    await proxier.sync(state(sp, [(HOST, p.udp) for p in pods]))
    port = proxier.listeners[sp.key].bound_port
    answers: Counter[bytes] = Counter()
    for _ in range(6):  # a new client socket each time: a new session, round-robin
        answers[(await asyncio.to_thread(udp_ask, HOST, port, b"hi")).split(b":")[0]] += 1
    assert answers == {b"a": 2, b"b": 2, b"c": 2}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # one session stays put
        first = await asyncio.to_thread(udp_ask, HOST, port, b"1", sock=s)
        assert await asyncio.to_thread(udp_ask, HOST, port, b"2", sock=s) == \
            first.replace(b":1", b":2")
        await proxier.sync(state(sp, [(HOST, pods[2].udp)]))  # its endpoint may go away
        assert await asyncio.to_thread(udp_ask, HOST, port, b"3", sock=s) == b"c:3"


async def test_deleted_service_closes_its_listener(proxier: UserspaceProxier,
                                                   pods: list[Backend]) -> None:
    sp = tcp_port(node_port=free_port())
    await proxier.sync(state(sp, [(HOST, pods[0].tcp)]))
    assert proxier.listeners[sp.key].bound_port == sp.node_port  # listens on the NodePort
    assert await asyncio.to_thread(http_get, HOST, sp.node_port) == b"a"
    await proxier.sync(ProxyState({}, {}))
    with pytest.raises(ConnectionRefusedError):
        await asyncio.to_thread(http_get, HOST, sp.node_port)


def half_closed_request(port: int) -> bytes:
    with socket.create_connection((HOST, port), timeout=2) as s:
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        s.shutdown(socket.SHUT_WR)  # the client is done sending; the answer must still come
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


async def test_half_close_is_passed_on_and_connections_are_released(
        proxier: UserspaceProxier, pods: list[Backend]) -> None:
    sp = tcp_port()
    await proxier.sync(state(sp, [(HOST, pods[0].tcp)]))
    port = proxier.listeners[sp.key].bound_port
    answer = await asyncio.to_thread(half_closed_request, port)
    assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"a")
    for _ in range(100):
        if proxier.metrics.active[sp.key] == 0:
            break
        await asyncio.sleep(0.01)
    assert proxier.metrics.active[sp.key] == 0
    assert proxier.metrics.bytes_in[sp.key] == len(b"GET / HTTP/1.1\r\n\r\n")
