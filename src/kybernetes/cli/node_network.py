"""How `kyb up --nodes N` gives every node a network of its own.

As root, like kind gives each node a container: node *i* lives in a network
namespace ``kyb-<cluster>-n<i>`` with address ``172.30.<c>.<10+i>`` on a host
bridge whose host side is ``172.30.<c>.1``. Its kubelet and proxy run inside that
namespace, so their ports, NodePorts and iptables rules are the node's own. Nodes
reach each other's pod CIDRs ``10.<200+c>.<i>.0/24`` by routes of their own (the
`kyb pod-network` agent in each node's namespace, see kybernetes.podnetwork); the
host also routes each pod CIDR to its node, only so that the host itself (users'
curl, the tests) reaches pods. Without root, nodes share the host network: node
*i* takes loopback address ``127.0.1.<i>`` (all of 127/8 is local on Linux), its own
kubelet port, and the userspace proxy.

Two clusters on one machine: the tag *c* names every link, namespace, route and
rule a cluster makes, and its bridge carries the cluster's data dir as its alias.
A new cluster takes a tag whose bridge does not exist and whose addresses no route
on the host uses; a cluster whose stored tag is held by another live cluster's
bridge refuses to start, and `teardown` removes nothing of a bridge it does not own.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kybernetes.cli.errors import CliError


@dataclass(frozen=True)
class NodeAddressing:
    name: str
    index: int
    ip: str
    pod_cidr: str
    netns: str | None  # None: the host network


def is_root() -> bool:
    return os.geteuid() == 0


TAGS = 50
# 10.244/16 is what nodes on the host network (KYB_HOST_NETWORK=1) use as pod CIDRs:
# tag 44 would route the same addresses
RESERVED_TAGS = frozenset({44})


def cluster_tag(data_dir: str) -> int:
    """A small number for this cluster's link names and subnets, kept in the data dir.

    The first choice is a hash of the data dir; a tag whose bridge already exists
    belongs to another cluster on this machine (two clusters started at once, or
    one that was not taken down), and one whose subnets the host already routes is
    someone else's, so the next free one is taken instead.
    """
    path = Path(data_dir) / "network-tag"
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        pass
    start = int(hashlib.sha256(data_dir.encode()).hexdigest(), 16) % TAGS
    routed = _routed_networks()
    tag = next((t for t in ((start + i) % TAGS for i in range(TAGS))
                if t not in RESERVED_TAGS and not Path(f"/sys/class/net/kyb{t}").exists()
                and not any(n.overlaps(own) for n in routed for own in _tag_networks(t))),
               start)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(tag))
    except OSError:
        pass  # a read-only data dir: the hash alone
    return tag


def _tag_networks(tag: int) -> tuple[ipaddress.IPv4Network, ...]:
    return (ipaddress.IPv4Network(f"172.30.{tag}.0/24"),
            ipaddress.IPv4Network(f"10.{200 + tag}.0.0/16"))


def _routed_networks() -> list[ipaddress.IPv4Network]:
    """The destinations of the host's routes (but the default route)."""
    try:
        out = subprocess.run(["ip", "-4", "-o", "route", "show"], capture_output=True,
                             text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    networks = []
    for line in out.splitlines():
        dest = line.split(maxsplit=1)[0] if line.strip() else "default"
        if dest != "default":
            with contextlib.suppress(ValueError):
                networks.append(ipaddress.IPv4Network(dest, strict=False))
    return networks


class NodeNetwork:
    """Creates and removes the per-node namespaces, bridge and routes."""

    def __init__(self, data_dir: str, node_count: int, *, isolated: bool) -> None:
        self.data_dir = str(Path(data_dir).resolve())
        self.tag = cluster_tag(data_dir)
        self.isolated = isolated
        self.bridge = f"kyb{self.tag}"
        self.host_ip = f"172.30.{self.tag}.1" if isolated else "127.0.0.1"
        self.nodes = [self._addressing(i) for i in range(1, node_count + 1)]

    def _addressing(self, i: int) -> NodeAddressing:
        name = f"kyb-node-{i}"
        pod_cidr = f"10.{200 + self.tag}.{i}.0/24" if self.isolated else f"10.244.{i}.0/24"
        if self.isolated:
            return NodeAddressing(name, i, f"172.30.{self.tag}.{10 + i}", pod_cidr,
                                  f"kyb{self.tag}-n{i}")
        return NodeAddressing(name, i, f"127.0.1.{i}", pod_cidr, None)

    @property
    def cluster_cidr(self) -> str:
        return f"10.{200 + self.tag}.0.0/16" if self.isolated else "10.244.0.0/16"

    def setup(self) -> None:
        """Build the layout (idempotent: a half-built one from a crash is replaced)."""
        if not self.isolated:
            return
        owner = self.owner()
        if owner not in (None, self.data_dir):
            used_by = (f"the cluster in {owner}: stop that one (kyb down --data-dir {owner})"
                       if owner else f"something else (a bridge without our alias; `ip link "
                       f"del {self.bridge}` if it is a leftover)")
            raise CliError(f"this cluster's network (tag {self.tag}: bridge {self.bridge}, "
                           f"{self.host_ip}/24, pods {self.cluster_cidr}) is in use by "
                           f"{used_by}, or use a new --data-dir")
        self.teardown()
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("link", "set", self.bridge, "alias", self._alias)
        _ip("addr", "add", f"{self.host_ip}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        _sysctl("net.ipv4.ip_forward", "1")
        for node in self.nodes:
            assert node.netns
            host_end, node_end = f"{self.bridge}n{node.index}", f"{self.bridge}h{node.index}"
            _ip("netns", "add", node.netns)
            _ip("link", "add", host_end, "type", "veth", "peer", "name", node_end)
            _ip("link", "set", host_end, "master", self.bridge, "up")
            _ip("link", "set", node_end, "netns", node.netns)
            _ns(node.netns, "ip", "link", "set", "lo", "up")
            _ns(node.netns, "ip", "link", "set", node_end, "name", "eth0")
            _ns(node.netns, "ip", "addr", "add", f"{node.ip}/24", "dev", "eth0")
            _ns(node.netns, "ip", "link", "set", "eth0", "up")
            _ns(node.netns, "ip", "route", "add", "default", "via", self.host_ip)
            _ns(node.netns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            _ns(node.netns, "sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1")
            _ip("route", "replace", node.pod_cidr, "via", node.ip)
        # Traffic between nodes and pods crosses the host bridge: let it through
        # whatever a Docker Engine did to the FORWARD policy.
        _iptables("-I", "FORWARD", "-i", self.bridge, "-j", "ACCEPT")
        _iptables("-I", "FORWARD", "-o", self.bridge, "-j", "ACCEPT")

    @property
    def _alias(self) -> str:
        return self.data_dir[-250:]  # an interface alias holds at most 255 bytes

    def owner(self) -> str | None:
        """The data dir of the cluster whose bridge has this tag ('' when the bridge
        carries no alias: made by someone else), or None when there is no bridge."""
        try:
            alias = Path(f"/sys/class/net/{self.bridge}/ifalias").read_text().strip()
        except OSError:
            return None
        return self.data_dir if alias == self._alias else alias

    def teardown(self) -> None:
        """Remove everything `setup` made; missing pieces are fine. Nothing at all
        when the bridge of this tag belongs to another cluster."""
        if not self.isolated or self.owner() not in (None, self.data_dir):
            return
        for node in self.nodes:
            _ip("route", "del", node.pod_cidr, check=False)
            if node.netns:
                _ip("netns", "del", node.netns, check=False)
        _ip("link", "del", self.bridge, check=False)
        for chain_dir in ("-i", "-o"):
            while _iptables("-D", "FORWARD", chain_dir, self.bridge, "-j", "ACCEPT",
                            check=False):
                pass

    def command_prefix(self, node: NodeAddressing) -> list[str]:
        """What to put before a node component's argv to run it on that node.

        nsenter rather than `ip netns exec`: the latter remounts /sys, which hides
        the cgroup hierarchies the kubelet enforces limits with.
        """
        if not node.netns:
            return []
        return ["nsenter", f"--net=/run/netns/{node.netns}", "--"]


def _run(argv: list[str], *, check: bool) -> bool:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise CliError(f"{argv[0]} is not installed: install iproute2 and iptables, "
                       "or run kyb up without root") from None
    if result.returncode != 0 and check:
        raise CliError(f"{' '.join(argv)} failed: {result.stderr.strip()} "
                       "(run `kyb down` to clean up, or run without root for host networking)")
    return result.returncode == 0


def _ip(*args: str, check: bool = True) -> bool:
    return _run(["ip", *args], check=check)


def _ns(netns: str, *argv: str) -> bool:
    return _run(["ip", "netns", "exec", netns, *argv], check=True)


def _sysctl(key: str, value: str) -> bool:
    return _run(["sysctl", "-qw", f"{key}={value}"], check=True)


def _iptables(*args: str, check: bool = True) -> bool:
    return _run(["iptables", "-w", *args], check=check)
