"""Probe thresholds and kinds, driven by a scripted exec and a real local TCP/HTTP server."""

from __future__ import annotations

import asyncio

from aiohttp import web

from kybernetes.kubelet.probes import ContainerProbes, NetworkProber, Result, run_probe
from tests.support.net import serving


def _scripted(codes: list[int]):
    calls = iter(codes)

    async def exec_(command: list[str], limit: float) -> tuple[int, bytes]:
        return next(calls, codes[-1]), b"out"
    return exec_


async def _settle(probes: ContainerProbes, check, tries: int = 200) -> None:
    for _ in range(tries):  # 2 s at most
        if check(probes):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("probe state did not settle")


async def test_readiness_needs_failure_threshold_misses_in_a_row_to_flip() -> None:
    changes: list[str] = []
    spec = {"name": "c", "readinessProbe": {"exec": {"command": ["x"]}, "periodSeconds": 0.01,
                                            "failureThreshold": 3}}
    probes = ContainerProbes(spec, pod_ip="127.0.0.1", exec_=_scripted([0, 1, 1, 0, 1, 1, 1]),
                             on_change=lambda kind, _r: changes.append(kind),
                             prober=NetworkProber())
    assert probes.ready is False  # readiness starts false
    probes.start("t")
    try:
        await _settle(probes, lambda p: "readinessProbe-failed" in changes and not p.ready
                      and changes.count("readinessProbe") >= 2)
    finally:
        await probes.aclose()
    # ready on the first success; the two misses then were not enough; three in a row were
    assert changes.count("readinessProbe") == 2


async def test_liveness_waits_for_the_startup_probe_then_fails_once() -> None:
    changes: list[str] = []
    spec = {"name": "c",
            "startupProbe": {"exec": {"command": ["s"]}, "periodSeconds": 0.01,
                             "failureThreshold": 50},
            "livenessProbe": {"exec": {"command": ["l"]}, "periodSeconds": 0.01,
                              "failureThreshold": 1}}

    async def exec_(command: list[str], limit: float) -> tuple[int, bytes]:
        return (0 if len(changes) > 3 else 1) if command == ["s"] else 1, b""
    probes = ContainerProbes(spec, pod_ip="127.0.0.1", exec_=exec_,
                             on_change=lambda kind, _r: changes.append(kind),
                             prober=NetworkProber())
    assert probes.started is False and probes.live is True
    probes.start("t")
    try:
        await _settle(probes, lambda p: not p.live)
    finally:
        await probes.aclose()
    assert changes.index("startupProbe") < changes.index("livenessProbe")
    assert probes.failed_kind == "livenessProbe"


async def test_http_and_tcp_probes_against_a_real_server() -> None:
    async def ok_handler(_r: web.Request) -> web.Response:
        return web.Response(text="fine")

    async def bad_handler(_r: web.Request) -> web.Response:
        return web.Response(status=503)
    app = web.Application()
    app.router.add_get("/ok", ok_handler)
    app.router.add_get("/bad", bad_handler)
    async with serving(app) as url:
        port = int(url.rsplit(":", 1)[1])
        container = {"ports": [{"name": "http", "containerPort": port}]}
        ok = await run_probe({"httpGet": {"path": "/ok", "port": "http"}}, container=container,
                             pod_ip="127.0.0.1", exec_=_scripted([0]))
        bad = await run_probe({"httpGet": {"path": "bad", "port": port}}, container=container,
                              pod_ip="127.0.0.1", exec_=_scripted([0]))
        tcp = await run_probe({"tcpSocket": {"port": port}}, container=container,
                              pod_ip="127.0.0.1", exec_=_scripted([0]))
    closed = await run_probe({"tcpSocket": {"port": port}}, container=container,
                             pod_ip="127.0.0.1", exec_=_scripted([0]))
    assert ok == Result(True)
    assert bad == Result(False, "HTTP probe failed with statuscode: 503")
    assert tcp.ok and not closed.ok


async def test_a_network_prober_shares_one_session_but_connects_afresh_each_try() -> None:
    peers: list[object] = []

    async def handler(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername") if request.transport
                     else None)
        return web.Response(text="fine")
    app = web.Application()
    app.router.add_get("/", handler)
    prober = NetworkProber()
    probe = {"httpGet": {"path": "/", "port": 0}}
    async with serving(app) as url:
        probe["httpGet"]["port"] = int(url.rsplit(":", 1)[1])
        for _ in range(3):
            result = await prober.probe("readinessProbe", probe, container={},
                                        pod_ip="127.0.0.1", exec_=_scripted([0]))
            assert result == Result(True)
        session = prober._session
        await prober.aclose()
        assert session is not None and session.closed
        # a runtime's prober outlives a closed session: the next try makes another
        assert (await prober.probe("readinessProbe", probe, container={}, pod_ip="127.0.0.1",
                                   exec_=_scripted([0]))).ok
        await prober.aclose()
    # no keep-alive (as the kubelet's prober): every try was its own connection
    assert len(peers) == 4 and len(set(peers)) == 4
