"""Resource usage readings: cumulative CPU time and memory working set.

What cAdvisor reads for the kubelet's stats: a container's cgroup (v2
``cpu.stat`` usage_usec, ``memory.current`` minus ``inactive_file``; v1
``cpuacct.usage``, ``memory.usage_in_bytes`` minus ``total_inactive_file``),
and for the node ``/proc/stat`` and ``/proc/meminfo``. A process-runtime
container without a cgroup (no limits, or not root) is read from ``/proc``:
the CPU time and resident memory of every process in its session's process
group. A docker-runtime container is read from the groups its main process is in
(``/proc/<pid>/cgroup``), whichever cgroup driver Docker uses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICK_NS = 10**9 // os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Usage:
    """One reading: cumulative CPU nanoseconds and memory bytes."""

    cpu_ns: int
    working_set: int
    usage_bytes: int
    rss: int = 0
    # when cpu_ns was true, where the runtime knows it exactly (a synthetic reading);
    # otherwise the kubelet stamps the reading itself
    at: float | None = None


def _stat_map(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def cgroup_v2(directory: Path) -> Usage | None:
    """A cgroup v2 group's usage, or None when it is gone."""
    try:
        cpu = _stat_map((directory / "cpu.stat").read_text())["usage_usec"] * 1000
        current = int((directory / "memory.current").read_text())
        mem = _stat_map((directory / "memory.stat").read_text())
    except (OSError, KeyError, ValueError):
        return None
    return Usage(cpu, max(current - mem.get("inactive_file", 0), 0), current,
                 mem.get("anon", 0))


def cgroup_v1(memory_dir: Path, cpuacct_dir: Path | None) -> Usage | None:
    """A cgroup v1 group's usage (CPU 0 without a cpuacct group), or None."""
    try:
        current = int((memory_dir / "memory.usage_in_bytes").read_text())
        mem = _stat_map((memory_dir / "memory.stat").read_text())
    except (OSError, ValueError):
        return None
    cpu = 0
    if cpuacct_dir is not None:
        try:
            cpu = int((cpuacct_dir / "cpuacct.usage").read_text())
        except (OSError, ValueError):
            cpu = 0
    return Usage(cpu, max(current - mem.get("total_inactive_file", 0), 0), current,
                 mem.get("total_rss", 0))


def proc_cgroups(text: str) -> dict[str, str]:
    """Controller (or "" for the v2 unified group) -> group path, from /proc/<pid>/cgroup;
    a line naming several controllers (``cpu,cpuacct``) gives the path to each and to the
    joint name, which is how that hierarchy is mounted."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        names = parts[1]
        if names:
            out[names] = parts[2]
        for name in names.split(","):
            out[name] = parts[2]
    return out


def _v1_dir(root: Path, groups: dict[str, str], controller: str) -> Path | None:
    """The directory of `controller`'s group, under its own mount or a joint one."""
    path = groups.get(controller)
    if path is None:
        return None
    joint = [name for name in groups if "," in name and controller in name.split(",")]
    for mount in [controller, *joint]:
        d = root / mount / path.lstrip("/")
        if d.is_dir():
            return d
    return None


def cgroup_usage(groups: dict[str, str], root: Path = Path("/sys/fs/cgroup")) -> Usage | None:
    """The usage of the groups `proc_cgroups` found: v1's memory and cpuacct groups when
    the memory controller is on v1, else the unified v2 group; None when they are gone."""
    memory = _v1_dir(root, groups, "memory")
    if memory is not None:
        return cgroup_v1(memory, _v1_dir(root, groups, "cpuacct"))
    if "" in groups:
        return cgroup_v2(root / groups[""].lstrip("/"))
    return None


def process_groups(proc: Path = Path("/proc")) -> dict[int, Usage]:
    """CPU time and resident memory summed per process group, from one /proc scan."""
    cpu: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        try:
            fields = (proc / entry.name / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pgrp = int(fields[2])
        # utime, stime (fields 14, 15) and rss in pages (24), 1-based as proc(5) counts
        cpu[pgrp] = cpu.get(pgrp, 0) + (int(fields[11]) + int(fields[12])) * _TICK_NS
        rss[pgrp] = rss.get(pgrp, 0) + int(fields[21]) * _PAGE
    return {g: Usage(cpu[g], rss[g], rss[g], rss[g]) for g in cpu}


def node_cpu_ns(stat_text: str) -> int:
    """Busy CPU time of the machine: the `cpu` line of /proc/stat less idle and iowait."""
    for line in stat_text.splitlines():
        if line.startswith("cpu "):
            ticks = [int(v) for v in line.split()[1:]]
            busy = sum(ticks[:8]) - ticks[3] - (ticks[4] if len(ticks) > 4 else 0)
            return busy * _TICK_NS
    return 0


def boot_time(stat_text: str | None = None) -> float | None:
    """When the machine booted (`btime` of /proc/stat): the node's first CPU rate is the
    average since then."""
    try:
        text = stat_text if stat_text is not None else Path("/proc/stat").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return None


def node_memory(meminfo_text: str) -> tuple[int, int, int]:
    """(working set, usage, available) bytes from /proc/meminfo, as cAdvisor's root cgroup:
    usage is total less free, the working set that less the inactive file cache."""
    kib = {}
    for line in meminfo_text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            kib[key] = int(parts[0]) * 1024
    usage = kib.get("MemTotal", 0) - kib.get("MemFree", 0)
    working_set = max(usage - kib.get("Inactive(file)", 0), 0)
    return working_set, usage, kib.get("MemAvailable", 0)


def node_usage() -> Usage:
    """This machine's usage, now."""
    try:
        cpu = node_cpu_ns(Path("/proc/stat").read_text())
        working_set, usage, _ = node_memory(Path("/proc/meminfo").read_text())
    except OSError:
        return Usage(0, 0, 0)
    return Usage(cpu, working_set, usage)
