"""The kubelet's HTTPS API: healthz, pods, stats, logs, exec, attach and port-forward.

The paths are the Kubernetes kubelet's, because the API server proxies
`pods/log` to `/containerLogs/<ns>/<pod>/<container>` and `pods/exec` to
`/exec/<ns>/<pod>/<container>` on the node's InternalIP and
status.daemonEndpoints.kubeletEndpoint.Port. Everything but /healthz needs a
client certificate from the cluster CA or a bearer token, and the API server's
yes to a SubjectAccessReview on nodes/<subresource> (:mod:`.auth`).

Exec and attach speak the WebSocket channel protocols and SPDY/3.1
(:mod:`.remotecommand`); port-forward speaks SPDY/3.1 (:mod:`.portforward`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from aiohttp import web

from kybernetes.client import load_kubeconfig
from kybernetes.kubelet import remotecommand
from kybernetes.kubelet.auth import (
    Caller,
    Unavailable,
    caller_from_cert,
    forbidden_message,
    request_attributes,
)
from kybernetes.kubelet.logs import LogOptions, read_log
from kybernetes.kubelet.portforward import PortForward
from kybernetes.kubelet.runtime.base import RUNNING, ContainerInfo, RuntimeError_
from kybernetes.kubelet.stats import (
    SAMPLE_PERIOD,
    ContainerRef,
    PodRef,
    SummaryBuilder,
    UsageRuntime,
    resource_metrics,
    rfc3339,
)
from kybernetes.kubelet.tls import serving_context
from kybernetes.tasks import cancel_and_wait, spawn

if TYPE_CHECKING:
    from kybernetes.kubelet.agent import Kubelet

log = logging.getLogger("kybernetes.kubelet.server")



def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


def exit_status(code: int, command: list[str]) -> dict[str, Any]:
    """The Status written on the error channel when an exec ends."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"{command}, exit code {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


class RequestAuth(Protocol):
    """Token authentication and authorization (:class:`.auth.KubeletAuth`)."""

    async def authenticate_token(self, token: str) -> Caller | None: ...

    async def authorize(self, caller: Caller, verb: str, subresource: str) -> bool: ...


class KubeletServer:
    """aiohttp app on --address:--port with TLS. Without `auth` any client certificate
    from the cluster CA may do anything (no kubeconfig: no CA, nothing is checked)."""

    def __init__(self, kubelet: Kubelet, *, kubeconfig: str | None = None,
                 auth: RequestAuth | None = None) -> None:
        self.kubelet = kubelet
        self.kubeconfig = kubeconfig
        self.auth = auth
        self._runner: web.AppRunner | None = None
        self._streams: set[asyncio.Task[Any]] = set()
        self._stats: SummaryBuilder | None = None
        self._sampler: asyncio.Task[None] | None = None

    async def start(self) -> None:
        config = self.kubelet.config
        client_ca = load_kubeconfig(self.kubeconfig).ca_pem if self.kubeconfig else None
        ctx = serving_context(config.root_dir, node_name=config.node_name,
                              addresses=[self.kubelet.node_ip, config.address, "127.0.0.1"],
                              client_ca=client_ca)
        self._require_cert = client_ca is not None
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/pods", self.pods)
        app.router.add_get("/stats/summary", self.stats_summary)
        app.router.add_get("/metrics/resource", self.metrics_resource)
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self.container_logs)
        for method in ("GET", "POST"):
            app.router.add_route(method, "/exec/{namespace}/{pod}/{container}", self.exec)
            app.router.add_route(method, "/exec/{namespace}/{pod}/{uid}/{container}", self.exec)
            app.router.add_route(method, "/attach/{namespace}/{pod}/{container}", self.attach)
            app.router.add_route(method, "/attach/{namespace}/{pod}/{uid}/{container}",
                                 self.attach)
            app.router.add_route(method, "/portForward/{namespace}/{pod}", self.port_forward)
            app.router.add_route(method, "/portForward/{namespace}/{pod}/{uid}",
                                 self.port_forward)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, config.address, config.port, ssl_context=ctx)
        await site.start()
        if isinstance(self.kubelet.runtime, UsageRuntime):
            self._stats = SummaryBuilder(config.node_name, self.kubelet.runtime,
                                         start_time=time.time())
            self._sampler = spawn(self._sample(), name=f"stats-{config.node_name}")
        port = self._runner.addresses[0][1]
        self.kubelet.serving_on(int(port))
        log.info("kubelet API serving", extra={"address": config.address, "port": port})

    async def aclose(self) -> None:
        if self._sampler is not None:
            await cancel_and_wait(self._sampler)
            self._sampler = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/healthz" or not self._require_cert:
            return await handler(request)
        try:
            caller = await self._authenticate(request)
        except Unavailable:
            caller = None
        if caller is None:
            return web.Response(status=401, text="Unauthorized")
        if self.auth is not None:
            refused = await self._authorize(caller, request)
            if refused is not None:
                return refused
        return await handler(request)

    async def _authenticate(self, request: web.Request) -> Caller | None:
        transport = request.transport
        caller = caller_from_cert(transport.get_extra_info("peercert") if transport else None)
        if caller is not None or self.auth is None:
            return caller
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return await self.auth.authenticate_token(token.strip())

    async def _authorize(self, caller: Caller, request: web.Request) -> web.Response | None:
        """None when allowed; else kube's 403 (or 500 when the API server cannot say)."""
        assert self.auth is not None
        verb, subresources = request_attributes(request.method, request.path)
        for subresource in subresources:
            try:
                if await self.auth.authorize(caller, verb, subresource):
                    return None
            except Unavailable:
                return web.Response(status=500, text=(
                    f"Authorization error (user={caller.name}, verb={verb}, "
                    f"resource=nodes, subresource={subresource})"))
        log.debug("forbidden", extra={"user": caller.name, "verb": verb,
                                      "subresources": list(subresources)})
        return web.Response(status=403, text=forbidden_message(caller, verb, subresources))

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def pods(self, request: web.Request) -> web.Response:
        items = [w.pod for w in list(self.kubelet.workers.values())]
        body = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def _summary(self) -> dict[str, Any]:
        if self._stats is None:
            raise web.HTTPNotFound(text=f"the {self.kubelet.runtime.name} runtime "
                                        "reports no resource usage")
        running = [c for c in await self.kubelet.runtime.list_containers()
                   if c.state == RUNNING]
        by_pod: dict[str, list[ContainerRef]] = {}
        for c in sorted(running, key=lambda c: c.attempt):
            by_pod.setdefault(c.pod_uid, []).append(ContainerRef(c.id, c.name, c.started_at))
        pods = [PodRef(w.pod["metadata"]["name"], w.pod["metadata"].get("namespace", ""),
                       w.uid, w.start_time or rfc3339(time.time()), tuple(by_pod[w.uid]))
                for w in list(self.kubelet.workers.values()) if w.uid in by_pod]
        return self._stats.summary(pods, memory_capacity=self.kubelet.allocatable["memory"])

    async def _sample(self) -> None:
        """A reading every SAMPLE_PERIOD, so usageNanoCores covers a recent window."""
        while True:
            await asyncio.sleep(SAMPLE_PERIOD)
            try:
                await self._summary()
            except Exception:
                log.debug("stats sample failed", exc_info=True)

    async def stats_summary(self, request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(await self._summary()),
                            content_type="application/json")

    async def metrics_resource(self, request: web.Request) -> web.Response:
        return web.Response(text=resource_metrics(await self._summary()),
                            content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})

    async def _container(self, request: web.Request, *,
                         previous: bool = False) -> ContainerInfo:
        ns, pod, name = (request.match_info[k] for k in ("namespace", "pod", "container"))
        worker = self.kubelet.worker_for(ns, pod)
        if worker is None:
            raise web.HTTPNotFound(text=f'pod "{pod}" not found in namespace "{ns}" '
                                        "on this node")
        attempts = sorted((c for c in await self.kubelet.runtime.list_containers(worker.uid)
                           if c.name == name), key=lambda c: c.attempt)
        if previous:
            attempts = attempts[:-1]
        if not attempts:
            what = "previous terminated container" if previous else "container"
            raise web.HTTPBadRequest(text=f'{what} "{name}" in pod "{pod}" not found')
        return attempts[-1]

    async def container_logs(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        info = await self._container(request, previous=_truthy(q.get("previous")))
        reader = getattr(self.kubelet.runtime, "read_logs", None)
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        options: LogOptions = {
            "follow": _truthy(q.get("follow")),
            "tail_lines": int(q["tailLines"]) if q.get("tailLines") else None,
            "limit_bytes": int(q["limitBytes"]) if q.get("limitBytes") else None}
        if reader is not None:
            chunks = reader(info.id, since_seconds=q.get("sinceSeconds"),
                            since_time=q.get("sinceTime"),
                            timestamps=_truthy(q.get("timestamps")), **options)
        else:
            path = self.kubelet.runtime.log_file(info.id)
            if path is None:
                await response.write_eof()
                return response
            chunks = read_log(path, running=lambda: self._running(info.id), **options)
        with contextlib.suppress(ConnectionResetError):
            async for chunk in chunks:
                await response.write(chunk)
            await response.write_eof()
        return response

    def _running(self, container_id: str) -> bool:
        running = getattr(self.kubelet.runtime, "is_running", None)
        return bool(running and running(container_id))

    async def exec(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        command = q.getall("command", [])
        info = await self._container(request)
        stdin, tty = _truthy(q.get("stdin")), _truthy(q.get("tty"))
        channels = await remotecommand.open_channels(
            request, stdin=stdin, stdout=_truthy(q.get("stdout", "1")),
            stderr=_truthy(q.get("stderr", "1")), tty=tty)
        try:
            session = await self.kubelet.runtime.exec_stream(info.id, command, tty=tty)
        except (RuntimeError_, OSError) as e:
            await channels.finish(_failure(getattr(e, "message", str(e))))
            return _done(request)
        try:
            await remotecommand.serve(channels, session, stdin=stdin,
                                      status=lambda code: exit_status(code, command))
        finally:
            await session.kill()
        return _done(request)

    async def attach(self, request: web.Request) -> web.StreamResponse:
        """Connect to a running container's stdin (the pipe the runtime holds) and
        output, as `kubectl attach` and `kubectl run -it` do."""
        q = request.query
        info = await self._container(request)
        attacher = getattr(self.kubelet.runtime, "attach", None)
        if attacher is None:
            raise web.HTTPBadRequest(text=f"the {self.kubelet.runtime.name} runtime "
                                          "does not support attach")
        stdin = _truthy(q.get("stdin"))
        channels = await remotecommand.open_channels(
            request, stdin=stdin, stdout=_truthy(q.get("stdout", "1")),
            stderr=_truthy(q.get("stderr", "1")), tty=_truthy(q.get("tty")))
        try:
            session = await attacher(info.id, stdin=stdin)
        except (RuntimeError_, OSError) as e:
            await channels.finish(_failure(getattr(e, "message", str(e))))
            return _done(request)
        try:
            await remotecommand.serve(channels, session, stdin=stdin,
                                      status=lambda code: {"metadata": {},
                                                           "status": "Success"})
        finally:
            await session.detach()
        return _done(request)

    async def port_forward(self, request: web.Request) -> web.StreamResponse:
        ns, pod = request.match_info["namespace"], request.match_info["pod"]
        worker = self.kubelet.worker_for(ns, pod)
        if worker is None or worker.sandbox is None:
            raise web.HTTPNotFound(text=f'pod "{pod}" not found in namespace "{ns}" '
                                        "on this node")
        if not remotecommand.is_spdy(request):
            raise web.HTTPBadRequest(text="port-forward needs a SPDY/3.1 upgrade "
                                          "(portforward.k8s.io)")
        host = "127.0.0.1" if worker.sandbox.host_network else worker.sandbox.ip
        await PortForward(pod, worker.uid, host).serve(request)
        return _done(request)


def _failure(message: str) -> dict[str, Any]:
    return {"metadata": {}, "status": "Failure", "message": message,
            "reason": "InternalError"}


def _done(request: web.Request) -> web.StreamResponse:
    """What an upgraded handler returns: the response aiohttp already sent."""
    return request.get("upgraded_response") or web.StreamResponse(status=101)
