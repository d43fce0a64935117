"""Faults injected into a `kyb up --servers 3` cluster, and undoing every one of them.

By pid (from `kyb status -o json`): SIGKILL, SIGSTOP/SIGCONT of a process group. By
network namespace: iptables DROP of everything through a server host's eth0, both
directions (its own loopback keeps working, as on a machine whose cable is pulled).
By disk: one etcd member's data dir is a small tmpfs mounted before `kyb up`; filling
it with a file leaves the member no byte to write (a real ENOSPC, not etcd's quota).

:class:`Injector` remembers what it did so that :meth:`Injector.heal_all` undoes
whatever is still in place, and :func:`fault_cluster` calls it, takes the cluster
down, and removes what `kyb down` did not (processes, namespaces, the mount) even
when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.cluster import KybCluster

DISK_HOST = "kyb-server-3"  # the member whose data dir is the small tmpfs
# etcd preallocates its 64 MiB WAL segment and the next one, then the db grows: room
# for those and some slack; the rest is filled when the fault is injected
DISK_SIZE = "200m"
FILLER = ".kyb-fault-filler"
PARTITION_RULES = (("INPUT", "-i"), ("OUTPUT", "-o"))


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=30)


def netns_of(pid: int) -> str:
    """The named network namespace a process runs in ('' for the host's)."""
    return _run("ip", "netns", "identify", str(pid)).stdout.strip()


@dataclass
class Injector:
    stopped: set[int] = field(default_factory=set)
    partitioned: set[str] = field(default_factory=set)
    filled: set[Path] = field(default_factory=set)

    def kill(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)

    def stop(self, pids: list[int]) -> None:
        for pid in pids:
            self.stopped.add(pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGSTOP)

    def cont(self, pids: list[int]) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGCONT)
            self.stopped.discard(pid)

    def partition(self, netns: str) -> None:
        assert netns, "a partition needs the host's own network namespace (root)"
        self.partitioned.add(netns)
        for chain, direction in PARTITION_RULES:
            result = _run("ip", "netns", "exec", netns, "iptables", "-w", "-I", chain,
                          direction, "eth0", "-j", "DROP")
            assert result.returncode == 0, result.stderr

    def unpartition(self, netns: str) -> None:
        for chain, direction in PARTITION_RULES:
            while _run("ip", "netns", "exec", netns, "iptables", "-w", "-D", chain,
                       direction, "eth0", "-j", "DROP").returncode == 0:
                pass  # every copy, should one have been added twice
        self.partitioned.discard(netns)

    def fill(self, directory: Path) -> int:
        """Take every free byte of `directory`'s file system; returns how many."""
        self.filled.add(directory)
        st = os.statvfs(directory)
        free = st.f_bavail * st.f_frsize
        filler = directory / FILLER
        result = _run("fallocate", "-l", str(free), str(filler))
        if result.returncode != 0:  # a few pages went meanwhile: take what is left
            _run("dd", "if=/dev/zero", f"of={filler}", "bs=64k", "oflag=append",
                 "conv=notrunc")
        return free

    def unfill(self, directory: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            (directory / FILLER).unlink()
        self.filled.discard(directory)

    def heal_all(self) -> None:
        """Undo whatever is still in place (after a failed test too)."""
        self.cont(list(self.stopped))
        for netns in list(self.partitioned):
            self.unpartition(netns)
        for directory in list(self.filled):
            self.unfill(directory)


@dataclass
class FaultCluster:
    cluster: KybCluster
    injector: Injector
    disk: Path  # the tmpfs that is DISK_HOST's etcd data dir

    @property
    def data_dir(self) -> Path:
        return self.cluster.data_dir

    def cluster_status(self) -> dict[str, Any]:
        """The run's status file (its components, pids and etcd members)."""
        from kybernetes.cli import cluster_dir

        return cluster_dir.resolve(str(self.data_dir)).read_status() or {}


@contextlib.contextmanager
def fault_cluster(data_dir: Path, *up_args: str) -> Iterator[FaultCluster]:
    """`kyb up --servers 3 --nodes 1 --runtime fake` with DISK_HOST's etcd data dir on
    a tmpfs of its own; everything removed on the way out."""
    etcd_dirs = [data_dir / "etcd" / f"kyb-server-{i}" for i in (1, 2, 3)]
    for d in etcd_dirs:  # all three: `kyb up` counts the members by their dirs
        d.mkdir(parents=True, mode=0o700, exist_ok=True)
    disk = data_dir / "etcd" / DISK_HOST
    result = _run("mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE},mode=0700", "tmpfs",
                  str(disk))
    assert result.returncode == 0, result.stderr
    cluster = KybCluster(data_dir)
    injector = Injector()
    try:
        cluster.up("--servers", "3", "--nodes", "1", "--runtime", "fake",
                   "--timeout", "180", *up_args)
        yield FaultCluster(cluster, injector, disk)
    finally:
        injector.heal_all()
        leftovers = _our_processes(data_dir)
        namespaces = {ns for ns in map(netns_of, leftovers) if ns}
        cluster.down()
        for pid in _our_processes(data_dir):  # what `kyb down` did not stop
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
        existing = _run("ip", "netns", "list").stdout
        for ns in namespaces:
            if ns in existing:
                _run("ip", "netns", "del", ns)
        if _run("umount", str(disk)).returncode != 0:
            _run("umount", "-l", str(disk))


def _our_processes(data_dir: Path) -> list[int]:
    """Processes whose command line names this cluster's data dir (its supervisor and
    every component do), by pid: nothing of any other cluster."""
    under, exact = str(data_dir).encode() + b"/", b"\0" + str(data_dir).encode() + b"\0"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            cmdline = b"\0" + (entry / "cmdline").read_bytes()
            if under in cmdline or exact in cmdline:
                found.append(int(entry.name))
    return found
