"""Liveness, readiness and startup probes: one small loop per probe per container.

As the Kubernetes prober: a probe runs every `periodSeconds` after
`initialDelaySeconds`, each try bounded by `timeoutSeconds`; the result flips
only after `successThreshold` successes or `failureThreshold` failures in a
row. Readiness starts false, liveness true; liveness and readiness wait until
the startup probe (if any) has succeeded. Every flip calls `on_change`, which
wakes the pod worker: it restarts a container whose liveness (or startup)
failed and rewrites Ready.

Who runs one try is the runtime's choice (:meth:`Runtime.prober`): a
:class:`NetworkProber` execs in the container or reaches the pod's IP, which
is right wherever containers really run; the fake runtime has nothing to reach
and answers from the pod instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from kybernetes.tasks import cancel_and_wait, spawn

log = logging.getLogger("kybernetes.kubelet.probes")

Exec = Callable[[list[str], float], Awaitable[tuple[int, bytes]]]
_KINDS = ("startupProbe", "livenessProbe", "readinessProbe")


@dataclass
class Result:
    ok: bool
    message: str = ""


class Prober(Protocol):
    """Runs one try of a container's probe of the given kind; never raises."""

    async def probe(self, kind: str, probe: dict[str, Any], *, container: dict[str, Any],
                    pod_ip: str, exec_: Exec) -> Result: ...


def _port(value: Any, container: dict[str, Any]) -> int:
    if isinstance(value, int) or str(value).isdigit():
        return int(value)
    for port in container.get("ports") or []:
        if port.get("name") == value:
            return int(port["containerPort"])
    raise ValueError(f"port {value!r} is not a named port of the container")


async def run_probe(probe: dict[str, Any], *, container: dict[str, Any], pod_ip: str,
                    exec_: Exec, session: aiohttp.ClientSession | None = None) -> Result:
    """Run one try of a probe; never raises."""
    timeout = float(probe.get("timeoutSeconds") or 1)
    try:
        if "exec" in probe:
            code, out = await exec_(list(probe["exec"].get("command") or []), timeout)
            text = out.decode(errors="replace").strip()
            return Result(code == 0, text or f"command exited with {code}")
        if "httpGet" in probe:
            return await _http(probe["httpGet"], container, pod_ip, timeout, session)
        if "tcpSocket" in probe:
            host = probe["tcpSocket"].get("host") or pod_ip
            port = _port(probe["tcpSocket"]["port"], container)
            async with asyncio.timeout(timeout):
                _, writer = await asyncio.open_connection(host, port)
            writer.close()
            return Result(True)
        if "grpc" in probe:
            return Result(False, "grpc probes are not supported")
        return Result(True)
    except TimeoutError:
        return Result(False, f"probe timed out after {timeout:g}s")
    except (OSError, ValueError, aiohttp.ClientError) as e:
        return Result(False, str(e) or type(e).__name__)


async def _http(spec: dict[str, Any], container: dict[str, Any], pod_ip: str, limit: float,
                session: aiohttp.ClientSession | None) -> Result:
    scheme = (spec.get("scheme") or "HTTP").lower()
    host = spec.get("host") or pod_ip
    path = "/" + (spec.get("path") or "/").lstrip("/")
    url = f"{scheme}://{host}:{_port(spec['port'], container)}{path}"
    headers = {"User-Agent": "kube-probe/1.33"}
    headers.update({h["name"]: h["value"] for h in spec.get("httpHeaders") or []})
    own = session is None
    session = session or aiohttp.ClientSession()
    try:
        async with session.get(url, headers=headers, ssl=False, allow_redirects=False,
                               timeout=aiohttp.ClientTimeout(total=limit)) as response:
            if 200 <= response.status < 400:
                return Result(True)
            return Result(False, f"HTTP probe failed with statuscode: {response.status}")
    finally:
        if own:
            await session.close()


class NetworkProber:
    """The prober of runtimes whose containers really run: exec, HTTP or TCP.

    One per runtime. Its HTTP probes share one client session, made on the first and
    closed with the runtime (a session per probe loop cost a connector and its
    buffers per probed container). Connections are not kept alive, as the kubelet's
    prober disables keep-alives: each try connects afresh, so a server that stopped
    accepting fails the probe."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def probe(self, kind: str, probe: dict[str, Any], *, container: dict[str, Any],
                    pod_ip: str, exec_: Exec) -> Result:
        session = self._http_session() if "httpGet" in probe else None
        return await run_probe(probe, container=container, pod_ip=pod_ip, exec_=exec_,
                               session=session)

    def _http_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(force_close=True, limit=0))
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class ContainerProbes:
    """The probe loops of one running container and their current verdicts."""

    def __init__(self, container: dict[str, Any], *, pod_ip: str, exec_: Exec,
                 on_change: Callable[[str, Result], None], prober: Prober) -> None:
        self.container = container
        self.pod_ip = pod_ip
        self.exec_ = exec_
        self.on_change = on_change
        self.prober = prober
        self.started = "startupProbe" not in container
        self.ready = "readinessProbe" not in container
        self.live = True
        self.failed_kind = ""
        self._tasks: list[asyncio.Task[None]] = []
        # only a startup probe has the others wait (an Event per container adds up
        # over thousands of hollow pods)
        self._startup_done = None if self.started else asyncio.Event()

    def start(self, name: str) -> None:
        for kind in _KINDS:
            if kind in self.container:
                self._tasks.append(spawn(self._loop(kind, self.container[kind]),
                                         name=f"probe-{name}-{kind}"))

    async def aclose(self) -> None:
        await cancel_and_wait(*self._tasks)
        self._tasks.clear()

    async def _loop(self, kind: str, probe: dict[str, Any]) -> None:
        period = float(probe.get("periodSeconds") or 10)
        need_ok = int(probe.get("successThreshold") or 1)
        need_bad = int(probe.get("failureThreshold") or 3)
        if kind != "startupProbe" and self._startup_done is not None:
            await self._startup_done.wait()
        await asyncio.sleep(float(probe.get("initialDelaySeconds") or 0))
        oks = bads = 0
        while True:
            result = await self.prober.probe(kind, probe, container=self.container,
                                             pod_ip=self.pod_ip, exec_=self.exec_)
            oks, bads = (oks + 1, 0) if result.ok else (0, bads + 1)
            if not result.ok:
                self.on_change(f"{kind}-failed", result)
            if oks >= need_ok:
                self._set(kind, True, result)
            if bads >= need_bad:
                self._set(kind, False, result)
                if kind == "startupProbe":
                    return
            await asyncio.sleep(period)

    def _set(self, kind: str, ok: bool, result: Result) -> None:
        if kind == "startupProbe":
            if ok and not self.started:
                self.started = True
                if self._startup_done is not None:
                    self._startup_done.set()
                self.on_change(kind, result)
            elif not ok:
                self.live, self.failed_kind = False, kind
                self.on_change(kind, result)
        elif kind == "livenessProbe" and not ok and self.live:
            self.live, self.failed_kind = False, kind
            self.on_change(kind, result)
        elif kind == "readinessProbe" and ok != self.ready:
            self.ready = ok
            self.on_change(kind, result)
