"""Running iptables for the proxy: atomic restores of our own chains, jumps, cleanup.

Every chain the proxy owns starts with ``KYB-``. A sync writes the whole nat table
state of those chains in one ``iptables-restore --noflush`` input: declaring a
chain (``:KYB-X - [0:0]``) empties it, the rules follow, and chains no longer
wanted are declared and deleted (``-X``) in the same input; the kernel swaps it in
at once, so a packet sees the old rules or the new, never a mix. Other users'
chains are never touched. The jumps from the built-in chains (PREROUTING, OUTPUT,
POSTROUTING) are added once with ``-C`` / ``-I`` (kube-proxy's EnsureRule).

Calls block (they fork iptables), so the async wrappers run them in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger("kybernetes.proxy.netfilter")
T = TypeVar("T")

PREFIX = "KYB-"
TABLES = ("nat", "filter")


class NetfilterError(Exception):
    """iptables refused a command; the message has its stderr."""


@dataclass(frozen=True, slots=True)
class Jump:
    """A rule in a built-in chain that jumps to one of ours."""

    table: str
    chain: str
    target: str
    match: tuple[str, ...] = ()
    comment: str = "kybernetes proxy"

    def spec(self) -> list[str]:
        return [*self.match, "-m", "comment", "--comment", self.comment, "-j", self.target]


def available() -> bool:
    return shutil.which("iptables-restore") is not None and shutil.which("iptables") is not None


def _run(argv: Sequence[str], *, stdin: bytes | None = None, check: bool = True
         ) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(list(argv), input=stdin, capture_output=True, timeout=30,
                          check=False)
    if check and done.returncode != 0:
        raise NetfilterError(f"{' '.join(argv[:4])}…: {done.stderr.decode().strip()}")
    return done


def restore(text: str) -> None:
    """Apply an iptables-restore input atomically, leaving other chains alone."""
    _run(["iptables-restore", "-w", "5", "--noflush"], stdin=text.encode())


def save(table: str, *, counters: bool = False) -> str:
    """`iptables-save` of one table (empty when the table is not loaded)."""
    argv = ["iptables-save", "-t", table] + (["-c"] if counters else [])
    return _run(argv, check=False).stdout.decode()


def existing_chains(table: str, prefix: str = PREFIX) -> set[str]:
    """Our chains present in `table` now."""
    return {line[1:].split()[0] for line in save(table).splitlines()
            if line.startswith(":") and line[1:].startswith(prefix)}


def ensure_jumps(jumps: Iterable[Jump]) -> None:
    """Insert each jump at the top of its built-in chain unless it is there."""
    for jump in jumps:
        base = ["iptables", "-w", "5", "-t", jump.table]
        if _run([*base, "-C", jump.chain, *jump.spec()], check=False).returncode != 0:
            _run([*base, "-I", jump.chain, "1", *jump.spec()])


def remove_jumps(table: str, prefix: str = PREFIX) -> None:
    """Delete every rule in a built-in chain of `table` that jumps to one of ours."""
    deletes = []
    for line in save(table).splitlines():
        parts = line.split()
        if (len(parts) > 2 and parts[0] == "-A" and not parts[1].startswith(prefix)
                and "-j" in parts and parts[parts.index("-j") + 1].startswith(prefix)):
            deletes.append(f"-D {line[3:]}\n")  # iptables-save quoting suits restore
    if deletes:
        restore(f"*{table}\n{''.join(deletes)}COMMIT\n")


def delete_chains(table: str, chains: Iterable[str]) -> str:
    """The restore lines that empty and delete `chains`."""
    chains = sorted(chains)
    return "".join(f":{c} - [0:0]\n" for c in chains) + "".join(f"-X {c}\n" for c in chains)


def cleanup(prefix: str = PREFIX) -> int:
    """Remove every jump to and every chain of ours; returns the chains removed."""
    if not available():
        return 0
    removed = 0
    for table in TABLES:
        remove_jumps(table, prefix)
        chains = existing_chains(table, prefix)
        if chains:
            restore(f"*{table}\n{delete_chains(table, chains)}COMMIT\n")
        removed += len(chains)
    return removed


def set_sysctl(name: str, value: str) -> None:
    """Best effort: write /proc/sys/<name> (dots → slashes)."""
    path = "/proc/sys/" + name.replace(".", "/")
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        log.warning("cannot set sysctl", extra={"sysctl": name, "error": str(e)})


def clear_udp_conntrack(cluster_ip: str, endpoint_ip: str) -> None:
    """Forget UDP flows NATed from `cluster_ip` to a removed endpoint."""
    if shutil.which("conntrack"):
        _run(["conntrack", "-D", "-p", "udp", "--orig-dst", cluster_ip,
              "--dst-nat", endpoint_ip], check=False)


class Runner:
    """Runs blocking netfilter calls in a thread, one at a time.

    A caller cancelled mid-call cannot stop the thread, so the next call (and
    :meth:`drain`, before cleanup) first waits for the one still running: rules
    are never applied after, or concurrently with, their removal.
    """

    def __init__(self) -> None:
        self._last: asyncio.Future[Any] | None = None

    async def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        await self.drain()
        self._last = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
        return await asyncio.shield(self._last)

    async def drain(self) -> None:
        if self._last is not None:
            await asyncio.wait([self._last])
