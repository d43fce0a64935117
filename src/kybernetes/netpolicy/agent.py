"""The per-node NetworkPolicy agent: policies, pods and namespaces in, one nftables
table out.

Level-based: any change of a policy, a pod, a namespace or the cluster DNS
endpoints (and a resync every `resync` seconds) recomputes this node's rules
from the informers' caches and, when the script differs from the last one
applied, replaces the table in one `nft -f` transaction. Changes that arrive
together are applied together (a short settle delay). The table is removed when
the agent stops.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import subprocess
import time
from pathlib import Path
from typing import Any

from kybernetes.api.resources import ENDPOINTS, NAMESPACES, NETWORK_POLICIES, PODS
from kybernetes.client import Informer
from kybernetes.client.verbs import ListerWatcher
from kybernetes.netpolicy import nft
from kybernetes.netpolicy.rules import Allow, Ports, Snapshot, node_rules
from kybernetes.tasks import wait_for_change

log = logging.getLogger("kybernetes.netpolicy")
BRIDGE_NF = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
DNS_PORTS = (Ports("tcp", ((53, 53),)), Ports("udp", ((53, 53),)))


class NftError(Exception):
    """`nft` refused the script; the message has its stderr."""


def table_name(node_name: str) -> str:
    """One table per agent, even when several nodes share one network namespace."""
    return "kybnp_" + hashlib.sha256(node_name.encode()).hexdigest()[:8]


def _nft(script: str) -> None:
    done = subprocess.run(["nft", "-f", "-"], input=script.encode(), capture_output=True,
                          check=False)
    if done.returncode != 0:
        raise NftError(done.stderr.decode(errors="replace").strip())


class NetworkPolicyAgent:
    def __init__(self, client: ListerWatcher, node_name: str, *, resync: float = 30.0,
                 settle: float = 0.05) -> None:
        self.node_name = node_name
        self.table = table_name(node_name)
        self.policies = Informer(client, NETWORK_POLICIES)
        self.pods = Informer(client, PODS)
        self.namespaces = Informer(client, NAMESPACES)
        self.dns = Informer(client, ENDPOINTS, namespace="kube-system",
                            field_selector="metadata.name=kube-dns")
        self.informers = (self.policies, self.pods, self.namespaces, self.dns)
        self.resync = resync
        self.settle = settle
        self.applied = ""
        self._changed = asyncio.Event()

    def _poke(self, *_: Any) -> None:
        self._changed.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the table in step until `stop`; then remove it."""
        _route_bridged_traffic_through_forward()
        for informer in self.informers:
            informer.add_handler(on_add=self._poke, on_update=self._poke, on_delete=self._poke)
            await informer.start()
        try:
            for informer in self.informers:
                await informer.wait_synced()
            while not stop.is_set():
                self._changed.clear()
                try:
                    await self.sync()
                except NftError as e:
                    log.warning("rules not applied; retrying", extra={"error": str(e)})
                    self.applied = ""
                    await asyncio.sleep(1.0)
                    continue
                await wait_for_change(self._changed, stop, self.resync)
                await asyncio.sleep(self.settle)
        finally:
            await asyncio.gather(*(i.aclose() for i in self.informers))
            try:
                await asyncio.to_thread(_nft, nft.remove(self.table))
            except (NftError, OSError) as e:
                log.warning("cannot remove the rules table", extra={"error": str(e)})

    def snapshot(self) -> Snapshot:
        namespaces = {n["metadata"]["name"]: n for n in self.namespaces.list()}
        dns_ips = frozenset(a["ip"] for e in self.dns.list() for s in e.get("subsets") or ()
                            for a in s.get("addresses") or () if a.get("ip"))
        always = (Allow(dns_ips, (), DNS_PORTS),) if dns_ips else ()
        return Snapshot(self.policies.list(), self.pods.list(), namespaces, always)

    async def sync(self) -> None:
        started = time.perf_counter()
        script = nft.render(self.table, node_rules(self.snapshot(), self.node_name))
        if script != self.applied:
            await asyncio.to_thread(_nft, script)
            self.applied = script
            log.debug("rules applied",
                      extra={"seconds": round(time.perf_counter() - started, 4)})


def _route_bridged_traffic_through_forward() -> None:
    """Pods of one node talk across the node's bridge: with br_netfilter on, that
    traffic crosses the forward hook too, where the policies are."""
    try:
        if BRIDGE_NF.read_text().strip() != "1":
            BRIDGE_NF.write_text("1\n")
    except OSError as e:
        log.warning("bridged pod traffic is not filtered (br_netfilter unavailable)",
                    extra={"error": str(e)})
