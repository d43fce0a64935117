"""Pod networking for the process runtime: a node bridge and a netns per pod.

What the CNI `bridge` plugin with host-local IPAM does, with `ip` from
iproute2: one Linux bridge per node holds the pod CIDR's first address (the
pods' gateway); each pod gets a network namespace `kyb-<tag>-<uid>` and a veth
pair whose host end joins the bridge and whose other end is the pod's `eth0`
with the pod's address and a default route through the gateway. The host (and
so the node's other pods) reach every pod directly; a NAT rule masquerades
pod traffic leaving the pod CIDR so pods reach the outside, and
FORWARD rules let pod traffic through a host whose policy drops it (as Docker's does).

Commands go through `ip -batch`: the host-side commands of pods that arrive
together share one `ip` process (:class:`IpBatcher`), and each pod's own
`eth0` is configured over netlink (:mod:`.netlink`), so a pod's network costs a
few milliseconds. Names start with `kyb` (and carry a per-node tag)
so leftovers are easy to find and two kubelets on one host never collide.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kybernetes.kubelet.ipam import IpPool
from kybernetes.kubelet.netlink import NETNS_THREAD, configure_pod_interface

log = logging.getLogger("kybernetes.kubelet.network")
NETNS_DIR = Path("/var/run/netns")


class NetworkError(Exception):
    """An `ip` command failed; the message has its stderr."""


def _run(argv: list[str], stdin: bytes | None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, input=stdin, capture_output=True, check=False)


async def _ip(*args: str, batch: str | None = None, check: bool = True) -> str:
    """Run `ip` in a worker thread: fork and exec never stall the event loop."""
    return await run_tool("ip", *args, batch=batch, check=check)


async def run_tool(tool: str, *args: str, batch: str | None = None, check: bool = True) -> str:
    """Run an iproute2 tool (`ip`, `bridge`) in a worker thread, `batch` on its stdin;
    its stdout, or NetworkError with its stderr when it fails and `check`."""
    argv = [tool, *args] + (["-batch", "-"] if batch is not None else [])
    done = await asyncio.to_thread(_run, argv, batch.encode() if batch is not None else None)
    if check and done.returncode != 0:
        raise NetworkError(f"{tool} {' '.join(args)}: "
                           f"{done.stderr.decode(errors='replace').strip()}")
    return done.stdout.decode()


async def iptables(*args: str) -> bool:
    """Whether `iptables -w 5 <args>` succeeded (run in a worker thread)."""
    done = await asyncio.to_thread(_run, ["iptables", "-w", "5", *args], None)
    return done.returncode == 0


def node_tag(node_name: str, root_dir: Path) -> str:
    """Six hex digits naming this kubelet's network objects."""
    return hashlib.sha256(f"{node_name}\0{root_dir}".encode()).hexdigest()[:6]


@functools.cache
def can_use_netns() -> bool:
    """Root with network namespaces (asked once: a stat in /proc costs a millisecond)."""
    return os.geteuid() == 0 and Path("/proc/self/ns/net").exists()


class IpBatcher:
    """Runs the `ip` commands asked for while one `ip -batch` runs in the next one.

    Pods created together set up (and tear down) their host sides through one process
    instead of one each, phase by phase: every namespace first, then every veth, then
    the bridge ports (a `netns add` after a link went up waits on the kernel: 100 pods'
    commands interleaved take 1.2 s, in phases 0.2 s). A batch runs past failing lines
    (`-force`); when one failed, each checked request of it is run again alone after its
    `undo` lines, so a failure is reported to the pod that caused it only."""

    def __init__(self) -> None:
        self._pending: list[_IpRequest] = []
        self._runner: asyncio.Task[None] | None = None

    async def run(self, *phases: str, undo: str = "", check: bool = True) -> None:
        """Run `phases` (each newline-terminated `ip` commands) in the next batch;
        NetworkError with `ip`'s stderr when they fail and `check`."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append(_IpRequest(phases, undo, check, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._drain(),
                                                                  name="ip-batch")
        await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._run_batch(batch)
            except BaseException as e:  # no `ip`, or cancelled: the waiters must not hang
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(e)
                if not isinstance(e, Exception):
                    raise

    @staticmethod
    async def _run_batch(batch: list[_IpRequest]) -> None:
        def settle(future: asyncio.Future[None], error: NetworkError | None = None) -> None:
            if future.done():  # its waiter was cancelled
                return
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

        if len(batch) > 1:
            depth = max(len(r.phases) for r in batch)
            done = await _ip_batch("".join(r.phases[k] for k in range(depth)
                                           for r in batch if k < len(r.phases)), force=True)
            if done.returncode == 0:
                for request in batch:
                    settle(request.future)
                return
        for request in batch:
            if len(batch) > 1 and not request.check:  # its lines ran (-force): done
                settle(request.future)
                continue
            if len(batch) > 1 and request.undo:
                await _ip_batch(request.undo, force=True)
            done = await _ip_batch("".join(request.phases), force=not request.check)
            failed = request.check and done.returncode != 0
            settle(request.future, NetworkError(
                f"ip -batch: {done.stderr.decode(errors='replace').strip()}") if failed else None)


@dataclass(frozen=True)
class _IpRequest:
    phases: tuple[str, ...]
    undo: str
    check: bool
    future: asyncio.Future[None]


async def _ip_batch(lines: str, *, force: bool) -> subprocess.CompletedProcess[bytes]:
    """`ip -batch` of `lines` in a worker thread; with `force`, past failing lines."""
    return await asyncio.to_thread(
        _run, ["ip", *(["-force"] if force else []), "-batch", "-"], lines.encode())


class NodeNetwork:
    """The bridge of one node and the network namespaces of its pods."""

    def __init__(self, *, tag: str, gateway: str, prefix: int, cidr: str) -> None:
        self.tag = tag
        self.bridge = f"kyb{tag}"
        self.gateway = gateway
        self.prefix = prefix
        self.cidr = cidr
        self._host = IpBatcher()

    @classmethod
    def for_pod_cidr(cls, tag: str, pod_cidr: str | None) -> NodeNetwork | None:
        """The bridge for `pod_cidr`; None without a CIDR or without network namespaces."""
        if not pod_cidr or not can_use_netns():
            return None
        pool = IpPool(pod_cidr)
        return cls(tag=tag, gateway=pool.gateway, prefix=pool.prefix, cidr=str(pool.network))

    def netns_name(self, uid: str) -> str:
        return f"kyb-{self.tag}-{uid}"

    def netns_path(self, uid: str) -> Path:
        return NETNS_DIR / self.netns_name(uid)

    def _veth(self, uid: str) -> str:
        return "kyv" + hashlib.sha256(f"{self.tag}{uid}".encode()).hexdigest()[:12]

    async def setup(self) -> None:
        """Create the bridge with the gateway address and the iptables rules (idempotent)."""
        links = await _ip("-o", "link", "show", "dev", self.bridge, check=False)
        if not links:
            await _ip(batch=f"link add {self.bridge} type bridge\n"
                            f"addr add {self.gateway}/{self.prefix} dev {self.bridge}\n"
                            f"link set {self.bridge} up\n")
        for table, chain, rule in self._rules():
            if not await iptables("-t", table, "-C", chain, *rule):
                await iptables("-t", table, "-A", chain, *rule)

    def _rules(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """Masquerade traffic leaving the pod CIDR; let the pod CIDR through FORWARD."""
        tag = ("-m", "comment", "--comment", f"kyb {self.tag}")
        return [("nat", "POSTROUTING", ("-s", self.cidr, "!", "-d", self.cidr, *tag,
                                        "-j", "MASQUERADE")),
                ("filter", "FORWARD", ("-s", self.cidr, *tag, "-j", "ACCEPT")),
                ("filter", "FORWARD", ("-d", self.cidr, *tag, "-j", "ACCEPT"))]

    async def teardown(self) -> None:
        """Remove the pods' namespaces, the bridge and the iptables rules."""
        for uid in self.pod_namespaces():
            await self.remove_pod(uid)
        await _ip("link", "del", self.bridge, check=False)
        for table, chain, rule in self._rules():
            await iptables("-t", table, "-D", chain, *rule)

    async def add_pod(self, uid: str, ip: str, *, pid: int | None = None) -> str:
        """Make the pod's namespace (or name that of process `pid`) and wire it to the
        bridge; returns the netns path."""
        ns, veth = self.netns_name(uid), self._veth(uid)
        if self.netns_path(uid).exists():
            await self.remove_pod(uid)
        make = f"netns attach {ns} {pid}" if pid else f"netns add {ns}"
        await self._host.run(f"{make}\n",
                             f"link add {veth} type veth peer name eth0 netns {ns}\n",
                             f"link set {veth} master {self.bridge} up\n",
                             undo=self._removal(uid))
        path = str(self.netns_path(uid))
        try:  # over netlink from one thread: no `ip -n` process per pod
            await asyncio.get_running_loop().run_in_executor(
                NETNS_THREAD, configure_pod_interface, path, ip, self.prefix, self.gateway)
        except OSError as e:
            raise NetworkError(f"configuring eth0 in {ns}: {e}") from e
        return path

    async def remove_pod(self, uid: str) -> None:
        """Delete the pod's namespace (its veth pair goes with it)."""
        await self._host.run(self._removal(uid), check=False)

    def _removal(self, uid: str) -> str:
        return f"link del {self._veth(uid)}\nnetns del {self.netns_name(uid)}\n"

    def pod_namespaces(self) -> list[str]:
        """UIDs of the pods whose namespaces exist."""
        prefix = f"kyb-{self.tag}-"
        try:
            return [p.name[len(prefix):] for p in NETNS_DIR.iterdir()
                    if p.name.startswith(prefix)]
        except OSError:
            return []
