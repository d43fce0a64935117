"""A runtime that runs nothing: containers are records that go Running at once.

This is what kubemark's hollow kubelet and kwok do: the whole kubelet above the
runtime (registration, leases, pod workers, status) is real, so a thousand fake
nodes load the API server, scheduler and controllers as a thousand machines
would, while costing a few kilobytes each. A pod whose name matches
`fail_pattern` has containers that exit with code 1 at once, so tests can
drive crash loops and failed pods without real processes.

Probes have nothing to reach here, so every probe passes, and a chart with
liveness and readiness probes becomes Ready on hollow nodes. A pod annotated
`fake.kyb.io/failing-probes: readinessProbe,livenessProbe` (any of
startupProbe, livenessProbe, readinessProbe) has those probes fail instead.

A pod annotated `fake.kyb.io/exit: "<seconds>[:<code>]"` has its containers exit that
long after they start, with that code (0 by default), as a batch workload's would: Jobs
run to completion (or fail with a chosen code) on hollow nodes. With 0 seconds the
container has exited by the time the kubelet first looks, as a real one that exits at
once may have, so the pod's first status is already its final one.

A pod annotated `fake.kyb.io/cpu: "400m"` has each of its containers burn that much
CPU (a quantity) instead of the steady 1-50 millicores, so a HorizontalPodAutoscaler
has load to act on; the value is read when a container starts.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kybernetes import __version__
from kybernetes.api.quantity import cpu_millis, is_quantity
from kybernetes.kubelet.probes import Exec, Prober, Result
from kybernetes.kubelet.pull_secrets import RegistryAuth
from kybernetes.kubelet.runtime.base import (
    EXITED,
    RUNNING,
    ChangeNotifier,
    ContainerConfig,
    ContainerInfo,
    RuntimeError_,
    Sandbox,
)
from kybernetes.kubelet.usage import Usage

FAILING_PROBES = "fake.kyb.io/failing-probes"
EXIT = "fake.kyb.io/exit"
CPU = "fake.kyb.io/cpu"


def planned_exit(pod: dict[str, Any]) -> tuple[float, int] | None:
    """(seconds after start, exit code) from the pod's `fake.kyb.io/exit`, or None."""
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(EXIT)
    if not value:
        return None
    after, _, code = str(value).partition(":")
    try:
        return max(float(after), 0.0), int(code or 0)
    except ValueError:
        return None


class FixedVerdicts:
    """A prober that answers without probing: the `failing` kinds fail, the rest pass."""

    def __init__(self, failing: frozenset[str]) -> None:
        self.failing = failing

    async def probe(self, kind: str, probe: dict[str, Any], *, container: dict[str, Any],
                    pod_ip: str, exec_: Exec) -> Result:
        if kind in self.failing:
            return Result(False, f"{kind} set to fail by the {FAILING_PROBES} annotation")
        return Result(True)


_ALL_PASS = FixedVerdicts(frozenset())  # shared: most pods have no failing probes


class FakeRuntime(ChangeNotifier):
    """Containers are dict entries; nothing is executed."""

    name = "fake"

    def __init__(self, *, node_ip: str = "127.0.0.1", fail_pattern: str | None = None) -> None:
        self.node_ip = node_ip
        self.fail = re.compile(fail_pattern) if fail_pattern else None
        self._sandboxes: dict[str, Sandbox] = {}
        self._containers: dict[str, ContainerInfo] = {}
        self._by_pod: dict[str, dict[str, None]] = {}  # pod uid -> its container ids, in order
        self._millicores: dict[str, int] = {}  # by container id, from the CPU annotation
        self._ids = itertools.count(1)
        ChangeNotifier.__init__(self)

    @property
    def version(self) -> str:
        return f"fake://{__version__}"

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def configure(self, *, pod_cidr: str | None) -> None:
        return None

    async def teardown(self) -> None:
        self._containers.clear()
        self._sandboxes.clear()

    async def run_sandbox(self, pod: dict[str, Any], *, ip: str | None) -> Sandbox:
        uid = pod["metadata"]["uid"]
        sandbox = self._sandboxes.get(uid)
        if sandbox is None:
            host = bool(pod["spec"].get("hostNetwork")) or ip is None
            sandbox = Sandbox(pod_uid=uid, ip=self.node_ip if host else ip or "",
                              host_network=host, id=f"fake-sandbox-{uid}")
            self._sandboxes[uid] = sandbox
        return sandbox

    async def remove_sandbox(self, pod_uid: str) -> None:
        self._sandboxes.pop(pod_uid, None)

    async def list_sandboxes(self) -> list[Sandbox]:
        return list(self._sandboxes.values())

    async def pull_image(self, spec: dict[str, Any], on_event: Callable[[str, str], None],
                         auth: RegistryAuth | None = None) -> str:
        return f'Container image "{spec.get("image", "")}" already present on machine'

    async def start_container(self, sandbox: Sandbox, config: ContainerConfig) -> ContainerInfo:
        if config.spec.get("image", "") == "":
            raise RuntimeError_("container has no image", reason="InvalidImageName")
        now = time.time()
        cid = f"fake://{next(self._ids):08x}"
        info = ContainerInfo(id=cid, pod_uid=sandbox.pod_uid, name=config.spec["name"],
                             attempt=config.attempt, state=RUNNING,
                             image=config.spec.get("image", ""),
                             image_id=f"fake://{config.spec.get('image', '')}", started_at=now)
        name = config.pod["metadata"].get("name", "")
        if config.init or (self.fail and self.fail.search(name)):
            failed = bool(self.fail and self.fail.search(name))
            info = info.replace(state=EXITED, finished_at=now, exit_code=1 if failed else 0,
                                reason="Error" if failed else "Completed")
        elif (plan := planned_exit(config.pod)) is not None:
            if plan[0] > 0:
                asyncio.get_running_loop().call_later(plan[0], self._exit, cid, plan[1])
            else:  # gone before the kubelet looks: one status write, already finished
                info = info.replace(state=EXITED, finished_at=now, exit_code=plan[1],
                                    reason="Completed" if plan[1] == 0 else "Error")
        self._containers[cid] = info
        self._by_pod.setdefault(info.pod_uid, {})[cid] = None
        cpu = ((config.pod.get("metadata") or {}).get("annotations") or {}).get(CPU)
        if cpu is not None and is_quantity(cpu):
            self._millicores[cid] = cpu_millis(cpu)
        return info

    def _exit(self, container_id: str, code: int) -> None:
        """A planned exit: the container stops on its own and the kubelet hears of it."""
        info = self._containers.get(container_id)
        if info is None or info.state != RUNNING:
            return
        self._containers[container_id] = info.replace(
            state=EXITED, finished_at=time.time(), exit_code=code,
            reason="Completed" if code == 0 else "Error")
        self.notify(info.pod_uid)

    async def stop_container(self, container_id: str, *, grace: float) -> None:
        info = self._containers.get(container_id)
        if info and info.state == RUNNING:
            self._containers[container_id] = info.replace(
                state=EXITED, finished_at=time.time(), exit_code=0, reason="Completed")

    async def remove_container(self, container_id: str) -> None:
        info = self._containers.pop(container_id, None)
        self._millicores.pop(container_id, None)
        if info is not None:
            ids = self._by_pod.get(info.pod_uid, {})
            ids.pop(container_id, None)
            if not ids:
                self._by_pod.pop(info.pod_uid, None)

    async def list_containers(self, pod_uid: str | None = None) -> list[ContainerInfo]:
        """A pod's containers by its index: every pod worker asks on each pass."""
        if pod_uid is None:
            return list(self._containers.values())
        return [self._containers[c] for c in self._by_pod.get(pod_uid, ())]

    def usage(self, container_ids: list[str]) -> dict[str, Usage]:
        """Synthetic but plausible usage (so hollow nodes can be benchmarked): each
        running container burns a steady 1-50 millicores and holds 4-64 MiB, both
        fixed by its id."""
        now = time.time()
        out: dict[str, Usage] = {}
        for cid in container_ids:
            info = self._containers.get(cid)
            if info is None or info.state != RUNNING:
                continue
            seed = zlib.crc32(cid.encode())
            millicores = self._millicores.get(cid, 1 + seed % 50)
            memory = (4 + (seed >> 8) % 61) * 1024 * 1024
            cpu_ns = int((now - (info.started_at or now)) * millicores * 1_000_000)
            out[cid] = Usage(cpu_ns, memory, memory + 1024 * 1024, memory, at=now)
        return out

    def node_usage(self, pods: Usage) -> Usage:
        """The node's synthetic usage: its containers' plus a steady system overhead."""
        base_cpu = int(time.monotonic() * 50_000_000)  # 50 millicores of system work
        base_memory = 256 * 1024 * 1024
        return Usage(pods.cpu_ns + base_cpu, pods.working_set + base_memory,
                     pods.usage_bytes + base_memory)

    async def exec_sync(self, container_id: str, command: list[str], *,
                        time_limit: float) -> tuple[int, bytes]:
        return 0, b""

    async def exec_stream(self, container_id: str, command: list[str], *, tty: bool) -> Any:
        raise RuntimeError_("the fake runtime cannot exec", reason="NotSupported")

    def log_file(self, container_id: str) -> Path | None:
        return None

    def prober(self, pod: dict[str, Any]) -> Prober:
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        kinds = annotations.get(FAILING_PROBES, "").split(",")
        failing = frozenset(k.strip() for k in kinds if k.strip())
        return FixedVerdicts(failing) if failing else _ALL_PASS
