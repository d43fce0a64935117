"""Pod networking for the process runtime: a node bridge and a netns per pod.

What the CNI `bridge` plugin with host-local IPAM does, with `ip` from
iproute2: one Linux bridge per node holds the pod CIDR's first address (the
pods' gateway); each pod gets a network namespace `kyb-<tag>-<uid>` and a veth
pair whose host end joins the bridge and whose other end is the pod's `eth0`
with the pod's address and a default route through the gateway. The host (and
so the node's other pods) reach every pod directly; a NAT rule masquerades
pod traffic leaving the pod CIDR so pods reach the outside, and
FORWARD rules let pod traffic through a host whose policy drops it (as Docker's does).

Commands go through `ip -batch` (two processes per pod), so a pod's network
costs a few milliseconds. Names start with `kyb` (and carry a per-node tag)
so leftovers are easy to find and two kubelets on one host never collide.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import subprocess
from pathlib import Path

from kybernetes.kubelet.ipam import IpPool

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


def can_use_netns() -> bool:
    return os.geteuid() == 0 and Path("/proc/self/ns/net").exists()


class NodeNetwork:
    """The bridge of one node and the network namespaces of its pods."""

    def __init__(self, *, tag: str, gateway: str, prefix: int, cidr: str) -> None:
        self.tag = tag
        self.bridge = f"kyb{tag}"
        self.gateway = gateway
        self.prefix = prefix
        self.cidr = cidr

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
        await _ip(batch=f"{make}\n"
                        f"link add {veth} type veth peer name eth0 netns {ns}\n"
                        f"link set {veth} master {self.bridge} up\n")
        await _ip("-n", ns, batch=f"addr add {ip}/{self.prefix} dev eth0\n"
                                  "link set eth0 up\nlink set lo up\n"
                                  f"route add default via {self.gateway}\n")
        return str(self.netns_path(uid))

    async def remove_pod(self, uid: str) -> None:
        """Delete the pod's namespace (its veth pair goes with it)."""
        await _ip("link", "del", self._veth(uid), check=False)
        await _ip("netns", "del", self.netns_name(uid), check=False)

    def pod_namespaces(self) -> list[str]:
        """UIDs of the pods whose namespaces exist."""
        prefix = f"kyb-{self.tag}-"
        try:
            return [p.name[len(prefix):] for p in NETNS_DIR.iterdir()
                    if p.name.startswith(prefix)]
        except OSError:
            return []
