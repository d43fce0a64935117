"""A real `kyb apiserver` process on a free loopback port, for tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from kybernetes.client import ApiClient
from tests.support.net import free_port, wait_http_ok
from tests.support.procs import Proc


class ApiServer:
    """Start, stop, kill and restart one API server on one data directory."""

    def __init__(self, data_dir: Path, *, store: str | None = None,
                 extra_args: tuple[str, ...] = ()) -> None:
        self.data_dir = data_dir
        self.store = store
        self.extra_args = extra_args
        self.port = free_port()
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    def start(self, timeout: float = 30.0) -> ApiServer:
        args = ["apiserver", "--data-dir", str(self.data_dir), "--bind-address", "127.0.0.1",
                "--port", str(self.port), *self.extra_args]
        if self.store:
            args += ["--store", self.store]
        self.proc = Proc.kyb(*args, log_path=self.data_dir / "logs" / "apiserver.log").start()
        try:
            wait_http_ok(f"{self.url}/readyz", timeout=timeout, is_alive=self.proc.alive)
        except Exception:
            tail = self.proc.log_tail()
            self.proc.stop()
            raise RuntimeError(f"apiserver did not start:\n{tail}") from None
        return self

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()

    def kill(self) -> None:
        if self.proc:
            self.proc.kill()

    def restart(self) -> ApiServer:
        self.stop()
        return self.start()


@contextlib.contextmanager
def started(server: ApiServer) -> Iterator[ApiServer]:
    """`server` started for the `with` block and stopped after it, even on failure
    (the body of every API server fixture)."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def connected(server: ApiServer) -> AsyncIterator[ApiClient]:
    """An ApiClient on `server`'s admin kubeconfig, closed afterwards."""
    client = ApiClient.from_kubeconfig(server.kubeconfig)
    try:
        yield client
    finally:
        await client.aclose()
