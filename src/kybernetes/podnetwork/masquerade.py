"""Kubernetes' network model: pods reach pods by their own addresses, never NATed.

The kubelet masquerades traffic leaving its node's pod CIDR (so pods reach the
outside world); this rule, first in nat POSTROUTING, returns before that for
traffic from the cluster's pod CIDR to the cluster's pod CIDR — flannel's
``-s 10.244.0.0/16 -d 10.244.0.0/16 -j RETURN``.
"""

from __future__ import annotations

import subprocess

from kybernetes.kubelet.network import iptables


def comment(node_name: str) -> str:
    return f"kyb pod-network {node_name}"


class NoMasquerade:
    """Adds and removes the RETURN rule for one node's agent."""

    def __init__(self, node_name: str, cluster_cidr: str) -> None:
        self.rule = ("POSTROUTING", "-s", cluster_cidr, "-d", cluster_cidr, "-m", "comment",
                     "--comment", comment(node_name), "-j", "RETURN")

    async def add(self) -> None:
        chain, *spec = self.rule
        if not await iptables("-t", "nat", "-C", chain, *spec):
            await iptables("-t", "nat", "-I", chain, "1", *spec)

    async def remove(self) -> None:
        while await iptables("-t", "nat", "-D", *self.rule):
            pass


def purge(node_name: str) -> int:
    """Remove the node's RETURN rules whoever made them (after a crash); how many.
    Synchronous: it runs in cleanup code."""
    listed = subprocess.run(["iptables", "-w", "5", "-t", "nat", "-S", "POSTROUTING"],
                            capture_output=True, text=True, check=False).stdout
    removed = 0
    for line in listed.splitlines():
        if f'"{comment(node_name)}"' not in line:
            continue
        source = line.split("-s ", 1)[1].split()[0]
        dest = line.split("-d ", 1)[1].split()[0]
        done = subprocess.run(["iptables", "-w", "5", "-t", "nat", "-D", "POSTROUTING", "-s",
                               source, "-d", dest, "-m", "comment", "--comment",
                               comment(node_name), "-j", "RETURN"],
                              capture_output=True, check=False)
        removed += done.returncode == 0
    return removed
