"""A CRI v1 client: the RuntimeService and ImageService stubs over one gRPC channel.

The stubs (`api_pb2`, `api_pb2_grpc`) are generated from `api.proto` beside this file
by scripts/gen-cri.sh at setup time. Errors keep the shape Kubernetes shows them in
(Go's `rpc error: code = NotFound desc = …`), since they end up in container
statuses and events.
"""

from __future__ import annotations

from typing import Any

import grpc
import grpc.aio

try:
    from kybernetes.kubelet.runtime.cri import api_pb2 as pb
    from kybernetes.kubelet.runtime.cri import api_pb2_grpc as rpc
except ImportError as e:  # a checkout where scripts/setup.sh has not run since
    raise ImportError(f"the CRI stubs are not generated ({e}): run scripts/gen-cri.sh "
                      "(scripts/setup.sh does)") from e

__all__ = ["CriClient", "CriError", "pb"]

_MAX_MESSAGE = 16 * 1024 * 1024  # the kubelet's maxMsgSize


class CriError(Exception):
    """A failed CRI call; `code` is the gRPC status name (NOT_FOUND, …)."""

    def __init__(self, code: str, details: str) -> None:
        self.code = code
        self.details = details
        go_code = "".join(part.capitalize() for part in code.split("_"))
        super().__init__(f"rpc error: code = {go_code} desc = {details}")


class CriClient:
    """Calls to one CRI endpoint (`unix:///path/to.sock`), each with a deadline."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.channel = grpc.aio.insecure_channel(endpoint, options=[
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ("grpc.max_send_message_length", _MAX_MESSAGE)])
        self.runtime = rpc.RuntimeServiceStub(self.channel)
        self.images = rpc.ImageServiceStub(self.channel)

    async def call(self, stub: Any, method: str, request: Any, *,
                   deadline: float = 120.0) -> Any:
        """`stub.method(request)` within `deadline` seconds; a CriError for any failure."""
        try:
            return await getattr(stub, method)(request, timeout=deadline)
        except grpc.aio.AioRpcError as e:
            raise CriError(e.code().name, e.details() or "") from e

    async def runtime_call(self, method: str, request: Any, *, deadline: float = 120.0) -> Any:
        return await self.call(self.runtime, method, request, deadline=deadline)

    async def image_call(self, method: str, request: Any, *, deadline: float = 300.0) -> Any:
        return await self.call(self.images, method, request, deadline=deadline)

    async def aclose(self) -> None:
        await self.channel.close()
