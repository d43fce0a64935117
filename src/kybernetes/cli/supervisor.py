"""Supervised child processes for `kyb up`: start, restart on crash, stop in order.

Each component is its own OS process (its own process group, its log in
``DIR/logs/<name>.log``). A component that exits while the cluster is up is
restarted with a growing delay (1 s doubling to 30 s) and the restart is reported,
so a crash is visible, never silent. Stopping sends SIGTERM, waits, then SIGKILLs
the whole process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kybernetes import tasks

MAX_RESTART_DELAY = 30.0


@dataclass
class Component:
    name: str
    argv: list[str]
    log_path: Path
    stop_timeout: float = 10.0
    # what `kyb status` shows: apiserver, etcd, scheduler…; the host or node it runs
    # on; where it answers directly (an API server's or etcd member's URL)
    kind: str = ""
    host: str = ""
    url: str = ""
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = 0.0
    last_exit: int | None = None
    state: str = "stopped"
    _watcher: asyncio.Task[Any] | None = field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "pid": self.process.pid if self.process else None,
                "state": self.state, "restarts": self.restarts, "lastExit": self.last_exit,
                "log": str(self.log_path), "kind": self.kind, "host": self.host,
                "url": self.url}


class Supervisor:
    """Runs components and keeps them running until `stop_all`."""

    def __init__(self, *, on_change: Callable[[str], None]) -> None:
        self.components: dict[str, Component] = {}
        self._on_change = on_change
        self._stopping = False

    async def start(self, component: Component) -> None:
        self.components[component.name] = component
        await self._spawn(component)
        component._watcher = tasks.spawn(self._watch(component),
                                         name=f"supervise-{component.name}")

    async def _spawn(self, component: Component) -> None:
        component.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(component.log_path, "ab") as log:  # noqa: ASYNC230 - a local file
            component.process = await asyncio.create_subprocess_exec(
                *component.argv, stdout=log, stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
            )
        component.started_at = time.monotonic()
        component.state = "running"
        self._on_change(f"started {component.name} (pid {component.process.pid})")

    async def _watch(self, component: Component) -> None:
        delay = min(1.0, MAX_RESTART_DELAY)
        while True:
            assert component.process is not None
            code = await component.process.wait()
            component.last_exit = code
            _kill_group(component.process.pid, signal.SIGKILL)
            if self._stopping or component.state == "stopping":
                component.state = "stopped"
                return
            component.state = "restarting"
            if time.monotonic() - component.started_at > 60:
                delay = min(1.0, MAX_RESTART_DELAY)
            self._on_change(f"{component.name} exited with code {code}; restarting in "
                            f"{delay:.0f}s (see {component.log_path})")
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RESTART_DELAY)
            component.restarts += 1
            await self._spawn(component)
            self._on_change(f"restarted {component.name} (restart #{component.restarts})")

    async def stop(self, name: str) -> None:
        component = self.components.get(name)
        if component is None or component.process is None:
            return
        component.state = "stopping"
        process = component.process
        _kill_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), component.stop_timeout)
        except TimeoutError:
            _kill_group(process.pid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 5)
        _kill_group(process.pid, signal.SIGKILL)
        if component._watcher is not None:
            await tasks.cancel_and_wait(component._watcher)
        component.state = "stopped"
        self._on_change(f"stopped {name}")

    async def stop_all(self, order: list[list[str]]) -> None:
        """Stop in stages (each stage's components together), then anything left."""
        self._stopping = True
        named = {n for stage in order for n in stage}
        stages = [*order, [n for n in self.components if n not in named]]
        for stage in stages:
            await asyncio.gather(*(self.stop(n) for n in stage if n in self.components))

    def summaries(self) -> list[dict[str, Any]]:
        return [c.summary() for c in self.components.values()]


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
