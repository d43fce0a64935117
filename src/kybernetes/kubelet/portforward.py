"""Port-forward (``portforward.k8s.io`` over SPDY/3.1), as the kubelet serves it.

For every connection kubectl accepts locally it opens two streams that share a
``requestID``: ``streamType: error`` and ``streamType: data``, both naming the pod
``port``. Once both are there we connect to the pod's IP and that port from the
kubelet's own network namespace (the node's bridge reaches every pod on it) and copy
bytes both ways; a failure is written as text on the error stream. When the pod side
ends, both streams are closed (FIN), which is what kubectl waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from kybernetes.kubelet.remotecommand import negotiate
from kybernetes.streaming import spdy, upgrade
from kybernetes.tasks import cancel_and_wait, spawn

log = logging.getLogger("kybernetes.kubelet.portforward")

PROTOCOLS = ("portforward.k8s.io",)
CONNECT_TIMEOUT = 10.0


class PortForward:
    """One kubectl port-forward connection to one pod."""

    def __init__(self, pod_name: str, uid: str, host: str) -> None:
        self.pod_name = pod_name
        self.uid = uid
        self.host = host
        self._pending: dict[str, dict[str, spdy.Stream]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def serve(self, request: web.Request) -> None:
        protocol = negotiate(request, PROTOCOLS)
        conn = await upgrade.accept(request, {"Upgrade": "SPDY/3.1",
                                              "X-Stream-Protocol-Version": protocol})
        session = spdy.Session(conn.read, conn.write, self._on_stream)
        try:
            await session.run()
        finally:
            await cancel_and_wait(*self._tasks)
            await conn.close()

    def _on_stream(self, stream: spdy.Stream) -> None:
        kind = stream.header("streamType")
        request_id = stream.header("requestID") or stream.header("port")
        if kind not in ("error", "data"):
            spawn(stream.reset(), name="portforward-reset")
            return
        pair = self._pending.setdefault(request_id, {})
        pair[kind] = stream
        if len(pair) == 2:
            del self._pending[request_id]
            task = spawn(self._forward(pair["data"], pair["error"]), name="portforward")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _forward(self, data: spdy.Stream, error: spdy.Stream) -> None:
        port_text = data.header("port")
        try:
            try:
                port = int(port_text)
                if not 0 < port < 65536:
                    raise ValueError
            except ValueError:
                raise OSError(f'invalid port "{port_text}"') from None
            async with asyncio.timeout(CONNECT_TIMEOUT):
                reader, writer = await asyncio.open_connection(self.host, port)
        except (OSError, TimeoutError) as e:
            message = (f"error forwarding port {port_text} to pod {self.pod_name}, "
                       f"uid {self.uid}: {e or 'timed out'}")
            log.info("port-forward failed", extra={"pod": self.pod_name, "error": str(e)})
            await error.write(message.encode())
            await data.close()
            await error.close()
            return

        async def upstream() -> None:  # kubectl → pod; its FIN half-closes the socket
            with contextlib.suppress(ConnectionError, OSError):
                while chunk := await data.read():
                    writer.write(chunk)
                    await writer.drain()
                if writer.can_write_eof():
                    writer.write_eof()

        sender = spawn(upstream(), name="portforward-in")
        try:
            with contextlib.suppress(ConnectionError, OSError):
                while chunk := await reader.read(65536):
                    await data.write(chunk)
        finally:
            await cancel_and_wait(sender)
            writer.close()
            await data.close()
            await error.close()
