"""The one interface every container runtime implements.

The kubelet's pod workers never care whether a container is a host process, a
Docker container or nothing at all: they ask a :class:`Runtime` for a sandbox
(the pod's network namespace and IP), start containers in it, read back
:class:`ContainerInfo` records, stop and remove them. This is the shape of the
Kubernetes CRI (RunPodSandbox, CreateContainer/StartContainer, StopContainer,
ListContainers, ExecSync), cut down to what the kubelet here uses.

Every record carries the pod UID, the container name and the attempt number
(the restart count when it was started), so a kubelet that restarts can rebuild
its view of the world from :meth:`Runtime.list_containers` alone: the runtime is
the source of truth for what runs, the API server for what should.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kybernetes.kubelet.probes import Prober
from kybernetes.kubelet.pull_secrets import RegistryAuth

CREATED, RUNNING, EXITED = "created", "running", "exited"


class ChangeNotifier:
    """Tells the kubelet which pod's containers changed on their own (an exit, an OOM
    kill), so its worker re-syncs at once instead of at the next periodic check."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[str], None]] = []

    def on_change(self, callback: Callable[[str], None]) -> None:
        self._callbacks.append(callback)

    def notify(self, pod_uid: str) -> None:
        for callback in self._callbacks:
            callback(pod_uid)


class RuntimeError_(Exception):
    """A runtime operation failed; `reason` is what the container status shows."""

    def __init__(self, message: str, *, reason: str = "CreateContainerError") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass
class Sandbox:
    """A pod's shared context: its network namespace and address (and, on the process
    runtime, the holder of its shared PID namespace: its pid and start time)."""

    pod_uid: str
    ip: str
    host_network: bool
    netns: str = ""
    id: str = ""
    pid_holder: int = 0
    pid_holder_start: str = ""


@dataclass
class ContainerInfo:
    """What a runtime knows about one container (one attempt of one spec container)."""

    id: str
    pod_uid: str
    name: str
    attempt: int
    state: str
    image: str = ""
    image_id: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    reason: str = ""
    message: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    def replace(self, **changes: Any) -> ContainerInfo:
        return dataclasses.replace(self, **changes)


@dataclass
class ContainerConfig:
    """Everything needed to start one container."""

    pod: dict[str, Any]
    spec: dict[str, Any]
    attempt: int
    env: dict[str, str]
    mounts: list[tuple[str, str, bool]]  # (host path, container path, read only)
    log_path: Path
    init: bool = False


class Runtime(Protocol):
    """A container runtime, as the kubelet's pod workers use it."""

    name: str

    @property
    def version(self) -> str:
        """`process://0.1.0`, `docker://27.5.1` or `fake://0.1.0`, for nodeInfo."""

    def on_change(self, callback: Callable[[str], None]) -> None:
        """Call `callback(pod_uid)` whenever a container of that pod changes state."""

    async def start(self) -> None: ...

    async def aclose(self) -> None:
        """Let go of what is running (it stays, for the next kubelet to adopt)."""

    async def configure(self, *, pod_cidr: str | None) -> None:
        """Prepare pod networking once the node's pod CIDR is known."""

    async def teardown(self) -> None:
        """Remove node-wide resources (bridge, cgroups) once every pod is gone."""

    async def run_sandbox(self, pod: dict[str, Any], *, ip: str | None) -> Sandbox:
        """Create (or find) the pod's sandbox."""

    async def remove_sandbox(self, pod_uid: str) -> None: ...

    async def list_sandboxes(self) -> list[Sandbox]: ...

    async def pull_image(self, spec: dict[str, Any], on_event: Callable[[str, str], None],
                         auth: RegistryAuth | None = None) -> str:
        """Make the container's image present (with the pod's registry credentials, from
        its imagePullSecrets); the Pulled event's message.

        Raises RuntimeError_ with reason ErrImagePull or ErrImageNeverPull."""

    async def start_container(self, sandbox: Sandbox, config: ContainerConfig) -> ContainerInfo:
        """Create and start a container; raise RuntimeError_ when it cannot start."""

    async def stop_container(self, container_id: str, *, grace: float) -> None:
        """SIGTERM, wait up to `grace` seconds, SIGKILL; returns once it has exited."""

    async def remove_container(self, container_id: str) -> None: ...

    async def list_containers(self, pod_uid: str | None = None) -> list[ContainerInfo]: ...

    async def exec_sync(self, container_id: str, command: list[str], *,
                        time_limit: float) -> tuple[int, bytes]:
        """Run a command in the container; (exit code, combined output)."""

    async def exec_stream(self, container_id: str, command: list[str], *,
                          tty: bool) -> ExecSession:
        """Start an interactive command in the container."""

    def log_file(self, container_id: str) -> Path | None:
        """Where the container's stdout/stderr are written (None if unknown)."""

    def prober(self, pod: dict[str, Any]) -> Prober:
        """Who runs the probes of the pod's containers."""


class ExecSession(Protocol):
    """A running exec: write stdin, read stdout/stderr, wait for the exit code."""

    async def write_stdin(self, data: bytes) -> None: ...

    async def close_stdin(self) -> None: ...

    def output(self) -> AsyncIterator[tuple[int, bytes]]:
        """(channel 1 or 2, bytes) until both streams end."""

    async def wait(self) -> int: ...

    async def kill(self) -> None: ...

    async def resize(self, width: int, height: int) -> None: ...
