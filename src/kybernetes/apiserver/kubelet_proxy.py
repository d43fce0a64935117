"""pods/log, pods/exec, pods/attach and pods/portforward: forwarded to the pod's kubelet.

The kubelet is found as Kubernetes finds it: the pod's ``spec.nodeName``, that
Node's InternalIP (``status.addresses``) and
``status.daemonEndpoints.kubeletEndpoint.Port``. The API server presents its
``kube-apiserver-kubelet-client`` certificate; the kubelet's self-signed
serving certificate is not verified (Kubernetes' default too).

* log: ``/containerLogs/<ns>/<pod>/<container>`` with the same query
  (follow, tailLines, timestamps, previous, sinceSeconds, limitBytes), streamed.
* exec, attach: WebSocket upgrades (``v5.channel.k8s.io`` and older channel
  protocols, kubectl ≥ 1.30 and the Python client) are bridged message by message
  to the kubelet's ``/exec|/attach`` paths.
* portforward over a WebSocket with ``SPDY/3.1+portforward.k8s.io`` (kubectl ≥ 1.31,
  KEP-4006): the WebSocket carries SPDY bytes; we dial the kubelet with a SPDY
  upgrade and copy the bytes between the two, as kube's tunneling handler does.
* SPDY/3.1 upgrades (exec/attach of kubectl ≤ 1.29, port-forward of ≤ 1.30, and the
  fallback of newer ones): the kubelet is dialed with the same upgrade and the two
  connections are joined byte for byte (kube's UpgradeAwareHandler).
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import WSMsgType, web

from kybernetes.api import resources as r
from kybernetes.api.errors import ApiError, BadRequest, ServiceUnavailable
from kybernetes.apiserver import pki
from kybernetes.apiserver.registry import Registry
from kybernetes.apiserver.request_info import RequestInfo
from kybernetes.streaming import upgrade, websockets

LOG_PARAMS = ("follow", "tailLines", "timestamps", "previous", "sinceSeconds", "sinceTime",
              "limitBytes", "pretty")
TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
KUBELET_PATHS = {"exec": "exec", "attach": "attach", "portforward": "portForward"}
DEFAULT_KUBELET_PORT = 10250


class KubeletProxy:
    def __init__(self, registry: Registry, data_dir: pki.Where) -> None:
        self.registry = registry
        self.data_dir = data_dir
        self._ssl: ssl.SSLContext | None = None

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            cert, key = pki.kubelet_client_cert(self.data_dir)
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.load_cert_chain(cert, key)
            self._ssl = ctx
        return self._ssl

    async def handle(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        pod = await self.registry.get(self.registry.kinds.of(r.PODS), info.namespace,
                                      str(info.name))
        base = await self._kubelet_url(pod)
        ns, name = info.namespace, info.name
        if info.subresource == "log":
            container = _container(pod, request.query.get("container"))
            query = {k: v for k, v in request.query.items() if k in LOG_PARAMS}
            return await self._stream_log(
                request, f"{base}/containerLogs/{ns}/{name}/{container}?{urlencode(query)}")
        path = KUBELET_PATHS[str(info.subresource)]
        if path == "portForward":
            target = f"{base}/portForward/{ns}/{name}"
        else:
            target = f"{base}/{path}/{ns}/{name}/{_container(pod, request.query.get('container'))}"
        url = f"{target}?{request.rel_url.raw_query_string}"  # encoded: keeps newlines
        upgrade_to = request.headers.get("Upgrade", "").lower()
        if upgrade_to.startswith("spdy/"):
            return await self._join_spdy(request, url)
        if "websocket" not in upgrade_to:
            raise BadRequest(f"pods/{info.subresource} needs a WebSocket or SPDY/3.1 upgrade")
        if TUNNEL_PROTOCOL in _ws_protocols(request):
            return await self._tunnel_spdy(request, url)
        return await self._bridge(request, url)

    async def _dial_spdy(self, url: str, protocols: list[str]) -> tuple[upgrade.ClientConn,
                                                                         dict[str, str]]:
        headers = [("Upgrade", "SPDY/3.1"),
                   *(("X-Stream-Protocol-Version", p) for p in protocols)]
        try:
            return await upgrade.dial(url, headers, ssl_context=self.ssl_context())
        except upgrade.UpgradeRefused as e:
            raise _kubelet_error(e.status, e.body) from None
        except (OSError, TimeoutError) as e:
            raise ServiceUnavailable(f"error dialing the kubelet: {e}") from None

    async def _join_spdy(self, request: web.Request, url: str) -> web.StreamResponse:
        protocols = [p.strip() for v in request.headers.getall("X-Stream-Protocol-Version", [])
                     for p in v.split(",") if p.strip()]
        kubelet, answer = await self._dial_spdy(url, protocols)
        headers = {"Upgrade": answer.get("upgrade", "SPDY/3.1")}
        if answer.get("x-stream-protocol-version"):
            headers["X-Stream-Protocol-Version"] = answer["x-stream-protocol-version"]
        client = await upgrade.accept(request, headers)
        await upgrade.pump(client, kubelet)
        return request["upgraded_response"]

    async def _tunnel_spdy(self, request: web.Request, url: str) -> web.StreamResponse:
        kubelet, _ = await self._dial_spdy(url, ["portforward.k8s.io"])
        client = web.WebSocketResponse(protocols=(TUNNEL_PROTOCOL,), max_msg_size=0)
        await client.prepare(request)
        await upgrade.pump(_WebSocketBytes(client), kubelet)
        return client

    async def _kubelet_url(self, pod: dict[str, Any]) -> str:
        node_name = (pod.get("spec") or {}).get("nodeName")
        name = pod["metadata"]["name"]
        if not node_name:
            raise BadRequest(f"pod {name} does not have a host assigned")
        node = await self.registry.get(self.registry.kinds.of(r.NODES), None, node_name)
        return node_url(node)

    async def _stream_log(self, request: web.Request, url: str) -> web.StreamResponse:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session, \
                    session.get(url, ssl=self.ssl_context()) as upstream:
                if upstream.status != 200:
                    raise _kubelet_error(upstream.status, await upstream.text())
                response = web.StreamResponse(headers={"Content-Type": "text/plain"})
                await response.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response
        except aiohttp.ClientError as e:
            raise ServiceUnavailable(f"error dialing the kubelet: {e}") from None

    async def _bridge(self, request: web.Request, url: str) -> web.StreamResponse:
        wanted = _ws_protocols(request)
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None,
                                                                      sock_connect=10))
        try:
            try:
                upstream = await session.ws_connect(url.replace("https://", "wss://", 1),
                                                    protocols=wanted, ssl=self.ssl_context(),
                                                    max_msg_size=0)
            except aiohttp.WSServerHandshakeError as e:
                raise _kubelet_error(e.status, e.message) from None
            except aiohttp.ClientError as e:
                raise ServiceUnavailable(f"error dialing the kubelet: {e}") from None
            client = web.WebSocketResponse(
                protocols=(upstream.protocol,) if upstream.protocol else (), max_msg_size=0)
            await client.prepare(request)
            await websockets.pump_both(client, upstream, name="ws-kubelet")
            return client
        finally:
            await session.close()


def _ws_protocols(request: web.Request) -> list[str]:
    return [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip()]


class _WebSocketBytes:
    """A WebSocket as a byte stream: binary messages in, one message per write out."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    async def read(self) -> bytes:
        async for msg in self.ws:
            if msg.type == WSMsgType.BINARY and msg.data:
                return bytes(msg.data)
        return b""

    async def write(self, data: bytes) -> None:
        await self.ws.send_bytes(data)

    async def close(self) -> None:
        await self.ws.close()


def _container(pod: dict[str, Any], wanted: str | None) -> str:
    """The container a request names, or the pod's only one."""
    spec = pod.get("spec") or {}
    names = [c.get("name") for c in (spec.get("containers") or [])]
    every = names + [c.get("name") for field in ("initContainers", "ephemeralContainers")
                     for c in (spec.get(field) or [])]
    pod_name = pod["metadata"]["name"]
    if wanted:
        if wanted not in every:
            raise BadRequest(f"container {wanted} is not valid for pod {pod_name}")
        return wanted
    if len(names) == 1:
        return str(names[0])
    raise BadRequest(f"a container name must be specified for pod {pod_name}, choose one of: "
                     f"[{' '.join(str(n) for n in names)}]")


def _kubelet_error(status: int, text: str) -> ApiError:
    if status == 404:
        return BadRequest(f"the kubelet does not serve this request: {text.strip()[:200]}")
    reason = {401: "Unauthorized", 403: "Forbidden"}.get(status, "BadRequest")
    return ApiError(text.strip()[:500] or f"kubelet answered {status}", code=status,
                    reason="InternalError" if status >= 500 else reason)


def node_url(node: dict[str, Any]) -> str:
    """`https://<InternalIP>:<kubelet port>` of a Node (BadRequest without an address)."""
    status = node.get("status") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    host = addresses.get("InternalIP") or addresses.get("ExternalIP") or \
        addresses.get("Hostname")
    if not host:
        raise BadRequest(f"node {node['metadata']['name']} has no address for its kubelet")
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get(
        "Port") or DEFAULT_KUBELET_PORT
    host = f"[{host}]" if ":" in host else host
    return f"https://{host}:{port}"
