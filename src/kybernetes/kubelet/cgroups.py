"""Memory and CPU limits for process-runtime containers, through cgroups.

cgroup v2 when the unified hierarchy offers the memory controller
(`memory.max`, `cpu.max`, `memory.events` oom_kill), else cgroup v1's
`memory` and `cpu` hierarchies (`memory.limit_in_bytes`, `cpu.cfs_quota_us`,
`memory.oom_control` oom_kill). Each container gets its own group under
`kyb-<node tag>/<pod uid>/<container>-<attempt>`; the child process joins it
before it execs (see the process runtime), so no byte escapes the limit.
Without root or without controllers, limits are not enforced and say so once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from kybernetes.api.quantity import cpu_millis, memory_bytes
from kybernetes.kubelet.usage import Usage, cgroup_v1, cgroup_v2

log = logging.getLogger("kybernetes.kubelet.cgroups")
ROOT = Path("/sys/fs/cgroup")
_PERIOD_US = 100_000


def _v2_has_memory() -> bool:
    try:
        return "memory" in (ROOT / "cgroup.controllers").read_text().split()
    except OSError:
        return False


def _write(path: Path, value: str) -> None:
    path.write_text(value)


class Cgroups:
    """Creates, reads and removes the cgroups of one node's containers."""

    def __init__(self, tag: str) -> None:
        self.base = f"kyb-{tag}"
        self.version = 0
        if os.geteuid() == 0 and _v2_has_memory():
            self.version = 2
        elif os.geteuid() == 0 and (ROOT / "memory" / "cgroup.procs").exists():
            self.version = 1

    @property
    def enabled(self) -> bool:
        return self.version != 0

    def _dirs(self, rel: str) -> list[Path]:
        if self.version == 2:
            return [ROOT / self.base / rel]
        return [ROOT / ctl / self.base / rel for ctl in ("memory", "cpu")
                if (ROOT / ctl / "cgroup.procs").exists()]

    def create(self, rel: str, resources: dict[str, Any]) -> list[str]:
        """Make the groups for one container; the `cgroup.procs` files to join."""
        limits = resources.get("limits") or {}
        if not self.enabled or not ({"memory", "cpu"} & set(limits)):
            return []  # nothing to enforce: spare the kernel a cgroup per container
        if self.version == 2:
            self._enable_v2(rel)
        procs = []
        for d in self._dirs(rel):
            d.mkdir(parents=True, exist_ok=True)
            self._limit(d, limits)
            procs.append(str(d / "cgroup.procs"))
        return procs

    def _enable_v2(self, rel: str) -> None:
        path = ROOT
        for part in [self.base, *Path(rel).parts[:-1]]:
            with contextlib.suppress(OSError):
                _write(path / "cgroup.subtree_control", "+memory +cpu")
            path = path / part
            path.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):
            _write(path / "cgroup.subtree_control", "+memory +cpu")

    def _limit(self, d: Path, limits: dict[str, Any]) -> None:
        mem = memory_bytes(limits["memory"]) if "memory" in limits else None
        cpu = cpu_millis(limits["cpu"]) if "cpu" in limits else None
        if self.version == 2:
            if mem is not None:
                _write(d / "memory.max", str(mem))
                with contextlib.suppress(OSError):
                    _write(d / "memory.swap.max", "0")
            if cpu is not None:
                _write(d / "cpu.max", f"{max(cpu * _PERIOD_US // 1000, 1000)} {_PERIOD_US}")
            return
        if mem is not None and (d / "memory.limit_in_bytes").exists():
            _write(d / "memory.limit_in_bytes", str(mem))
            with contextlib.suppress(OSError):
                _write(d / "memory.memsw.limit_in_bytes", str(mem))
        if cpu is not None and (d / "cpu.cfs_quota_us").exists():
            _write(d / "cpu.cfs_period_us", str(_PERIOD_US))
            _write(d / "cpu.cfs_quota_us", str(max(cpu * _PERIOD_US // 1000, 1000)))

    def oom_killed(self, rel: str) -> bool:
        """Whether the kernel's OOM killer fired in this group."""
        for d in self._dirs(rel):
            for name in ("memory.events", "memory.oom_control"):
                try:
                    for line in (d / name).read_text().splitlines():
                        key, _, value = line.partition(" ")
                        if key == "oom_kill" and int(value) > 0:
                            return True
                except OSError:
                    continue
        return False

    def usage(self, rel: str) -> Usage | None:
        """The group's CPU and memory usage; None when it has no group."""
        if self.version == 2:
            return cgroup_v2(ROOT / self.base / rel)
        if self.version == 1:
            cpuacct = [ROOT / ctl / self.base / rel for ctl in ("cpu", "cpuacct")
                       if (ROOT / ctl / self.base / rel / "cpuacct.usage").exists()]
            return cgroup_v1(ROOT / "memory" / self.base / rel, cpuacct[0] if cpuacct else None)
        return None

    def pids(self, rel: str) -> list[int]:
        out: set[int] = set()
        for d in self._dirs(rel):
            with contextlib.suppress(OSError):
                out.update(int(p) for p in (d / "cgroup.procs").read_text().split())
        return sorted(out)

    def remove(self, rel: str) -> None:
        """Remove a container's groups (and its pod's, once empty)."""
        for d in self._dirs(rel):
            for path in (d, d.parent):
                with contextlib.suppress(OSError):
                    path.rmdir()

    def remove_all(self) -> None:
        """Remove every group of this node (they must be empty)."""
        roots = [ROOT / self.base] if self.version == 2 else \
            [ROOT / ctl / self.base for ctl in ("memory", "cpu")]
        for root in roots:
            if not root.exists():
                continue
            for dirpath, _dirs, _files in sorted(os.walk(root), key=lambda w: -len(w[0])):
                with contextlib.suppress(OSError):
                    Path(dirpath).rmdir()
            if root.exists():
                shutil.rmtree(root, ignore_errors=True)
