"""The iptables proxy mode: Services as DNAT rules, no bytes through Python.

The rules follow kube-proxy's iptables mode, with our own ``KYB-`` chains::

  nat PREROUTING, OUTPUT → KYB-SERVICES
      -d <clusterIP> -p <proto> --dport <port>        → KYB-SVC-<hash> (KYB-SVL: Local)
      -d <LB ingress IP> -p <proto> --dport <port>    → KYB-MARK-MASQ, KYB-SVC-<hash>
      (last) -m addrtype --dst-type LOCAL             → KYB-NODEPORTS
  KYB-NODEPORTS  -p <proto> --dport <nodePort>        → KYB-MARK-MASQ, KYB-SVC-<hash>
  externalTrafficPolicy Local: NodePort / LB IP       → KYB-EXT-<hash> (no SNAT):
      pods (--cluster-cidr) and the node itself (masqueraded) → KYB-SVC-<hash>,
      the rest → KYB-SVL-<hash>, this node's endpoints only
  KYB-SVC-<hash> (ClientIP affinity) -m recent --rcheck --seconds T → KYB-SEP-<e>
                 -m statistic --probability 1/n, 1/(n-1), …, last  → KYB-SEP-<e>
  KYB-SEP-<e>    -s <endpoint> → KYB-MARK-MASQ (hairpin); [-m recent --set] DNAT
  nat POSTROUTING → KYB-POSTROUTING: MASQUERADE what KYB-MARK-MASQ marked
  filter INPUT/OUTPUT/FORWARD: a port with no endpoint is REJECTed
      (icmp-port-unreachable), so clients fail at once instead of timing out; one
      whose Local policy finds no endpoint on this node is DROPped (kube's choice).

Each endpoint after the first i gets probability 1/(n-i), which makes the choice
uniform. NodePort traffic is masqueraded so that replies come back through this
node; with ``--cluster-cidr``, cluster-IP traffic from outside the pod network
is too. Chain names hash the service port (and endpoint) as kube-proxy does,
so they are stable across restarts and syncs.

:func:`render` is pure; :class:`IptablesProxier` applies its output with one
``iptables-restore --noflush`` per sync, holding only the chains that changed since
the last one (a full rewrite every hour, as kube-proxy). A stopping proxy leaves its rules; a
starting one adopts the ``KYB-`` chains it finds and replaces them all in its first
sync (one restore: packets see the old rules or the new), so a restart never
leaves Services without rules.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time
from dataclasses import dataclass, field

from kybernetes.proxy import netfilter
from kybernetes.proxy.model import Endpoint, ProxyState, ServicePort
from kybernetes.proxy.netfilter import Jump

log = logging.getLogger("kybernetes.proxy.iptables")

SERVICES = "KYB-SERVICES"
NODEPORTS = "KYB-NODEPORTS"
POSTROUTING = "KYB-POSTROUTING"
MARK_MASQ = "KYB-MARK-MASQ"
EXTERNAL = "KYB-EXTERNAL-SERVICES"
MASQ_MARK = "0x4000"
FULL_SYNC_PERIOD = 3600.0  # seconds between full rewrites, as kube-proxy's
JUMP_CHECK_PERIOD = 30.0  # seconds between checks that the built-in chains jump to ours

JUMPS = (
    Jump("nat", "PREROUTING", SERVICES, comment="kybernetes service portals"),
    Jump("nat", "OUTPUT", SERVICES, comment="kybernetes service portals"),
    Jump("nat", "POSTROUTING", POSTROUTING, comment="kybernetes postrouting rules"),
    Jump("filter", "INPUT", EXTERNAL, ("-m", "conntrack", "--ctstate", "NEW"),
         comment="kybernetes externally-visible service portals"),
    Jump("filter", "FORWARD", SERVICES, ("-m", "conntrack", "--ctstate", "NEW"),
         comment="kybernetes service portals"),
    Jump("filter", "OUTPUT", SERVICES, ("-m", "conntrack", "--ctstate", "NEW"),
         comment="kybernetes service portals"),
)


def _hash(*parts: str) -> str:
    digest = hashlib.sha256("\0".join(parts).encode()).digest()
    return base64.b32encode(digest).decode()[:16]


def svc_chain(sp: ServicePort) -> str:
    """The chain balancing over every (cluster-wide) endpoint."""
    return f"KYB-SVC-{_hash(sp.key, sp.protocol)}"


def svl_chain(sp: ServicePort) -> str:
    """The chain balancing over this node's endpoints (the Local policies)."""
    return f"KYB-SVL-{_hash(sp.key, sp.protocol)}"


def ext_chain(sp: ServicePort) -> str:
    """The chain external traffic of an externalTrafficPolicy: Local port goes through."""
    return f"KYB-EXT-{_hash(sp.key, sp.protocol)}"


def sep_chain(sp: ServicePort, endpoint: Endpoint) -> str:
    return f"KYB-SEP-{_hash(sp.key, sp.protocol, f'{endpoint[0]}:{endpoint[1]}')}"


def _match(sp: ServicePort, port: int) -> str:
    proto = sp.protocol.lower()
    return f"-p {proto} -m {proto} --dport {port}"


def _comment(text: str) -> str:
    return f'-m comment --comment "{text}"'


@dataclass
class _Rules:
    """What one service port adds to each place of the restore input."""

    chains: list[str] = field(default_factory=list)
    nat: list[str] = field(default_factory=list)
    filter: list[str] = field(default_factory=list)
    nodeports: list[str] = field(default_factory=list)

    def by_chain(self) -> dict[str, list[str]]:
        """The nat rules per chain: its own chains, and KYB-SERVICES' share."""
        out: dict[str, list[str]] = {c: [] for c in self.chains}
        for rule in self.nat:
            out.setdefault(rule.split(" ", 2)[1], []).append(rule)
        return out


RuleCache = dict[tuple[ServicePort, tuple[Endpoint, ...], tuple[Endpoint, ...]],
                 tuple[_Rules, dict[str, list[str]]]]


def _balance(out: _Rules, chain: str, sp: ServicePort, endpoints: list[Endpoint]) -> None:
    """`chain` picks one of `endpoints`: the one a client's affinity names, else at
    random (each after the first i with probability 1/(n-i): a uniform choice)."""
    out.chains.append(chain)
    seps = [sep_chain(sp, e) for e in endpoints]
    if sp.affinity_timeout:
        out.nat += [f"-A {chain} {_comment(sp.key)} -m recent --name {sep} --rcheck "
                    f"--seconds {sp.affinity_timeout} --reap -j {sep}" for sep in seps]
    n = len(endpoints)
    for i, sep in enumerate(seps):
        chance = "" if i == n - 1 else \
            f" -m statistic --mode random --probability {1 / (n - i):.10f}"
        out.nat.append(f"-A {chain} {_comment(sp.key)}{chance} -j {sep}")


def _endpoint_chains(out: _Rules, sp: ServicePort, endpoints: list[Endpoint]) -> None:
    for ep_ip, ep_port in endpoints:
        sep = sep_chain(sp, (ep_ip, ep_port))
        out.chains.append(sep)
        recent = f" -m recent --name {sep} --set" if sp.affinity_timeout else ""
        out.nat.append(f"-A {sep} {_comment(sp.key)} -s {ep_ip}/32 -j {MARK_MASQ}")
        out.nat.append(f"-A {sep} {_comment(sp.key)}{recent} -p {sp.protocol.lower()} "
                       f"-m {sp.protocol.lower()} -j DNAT --to-destination {ep_ip}:{ep_port}")


def _unreachable(sp: ServicePort, cluster: list[Endpoint]) -> str:
    """No endpoint at all: REJECT (fail fast); endpoints only elsewhere under a Local
    policy: DROP, as kube-proxy does."""
    if cluster:
        return f"{_comment(sp.key + ' has no local endpoints')} -j DROP"
    return (f"{_comment(sp.key + ' has no endpoints')} -j REJECT --reject-with "
            "icmp-port-unreachable")


def _service_rules(sp: ServicePort, cluster: list[Endpoint], local: list[Endpoint], *,
                   cluster_cidr: str) -> _Rules:
    """Everything one service port needs, for its traffic policies."""
    out = _Rules()
    internal = local if sp.internal_local else cluster
    external = local if sp.external_local else cluster
    has_external = bool(sp.node_port or sp.load_balancer_ips)
    targets: set[Endpoint] = set()
    if cluster and (has_external or not sp.internal_local):
        _balance(out, svc_chain(sp), sp, cluster)
        targets.update(cluster)
    if local and (sp.internal_local or (has_external and sp.external_local)):
        _balance(out, svl_chain(sp), sp, local)
        targets.update(local)
    _endpoint_chains(out, sp, [e for e in cluster if e in targets])  # in endpoint order

    ip = f"-d {sp.cluster_ip}/32"
    if internal:
        target = svl_chain(sp) if sp.internal_local else svc_chain(sp)
        if cluster_cidr:
            out.nat.append(f"-A {SERVICES} {ip} {_match(sp, sp.port)} ! -s {cluster_cidr} "
                           f"{_comment(sp.key + ' cluster IP')} -j {MARK_MASQ}")
        out.nat.append(f"-A {SERVICES} {ip} {_match(sp, sp.port)} "
                       f"{_comment(sp.key + ' cluster IP')} -j {target}")
    else:
        out.filter.append(f"-A {SERVICES} {ip} {_match(sp, sp.port)} "
                          f"{_unreachable(sp, cluster)}")
    if not has_external:
        return out

    if external:
        if sp.external_local:
            target = ext_chain(sp)
            out.chains.append(target)
            if cluster_cidr:  # pods of this node reach it as a cluster IP (no blackhole)
                out.nat.append(f"-A {target} -s {cluster_cidr} "
                               f"{_comment('pod traffic for ' + sp.key)} -j {svc_chain(sp)}")
            out.nat += [  # from this node itself: masquerade, any endpoint
                f"-A {target} -m addrtype --src-type LOCAL "
                f"{_comment('masquerade LOCAL traffic for ' + sp.key)} -j {MARK_MASQ}",
                f"-A {target} -m addrtype --src-type LOCAL "
                f"{_comment('route LOCAL traffic for ' + sp.key)} -j {svc_chain(sp)}",
                f"-A {target} {_comment(sp.key + ' local endpoints')} -j {svl_chain(sp)}"]
            jumps = [target]  # no SNAT: the endpoint sees the client's address
        else:
            jumps = [MARK_MASQ, svc_chain(sp)]
        if sp.node_port:
            out.nodeports += [f"-A {NODEPORTS} {_match(sp, sp.node_port)} {_comment(sp.key)} "
                              f"-j {j}" for j in jumps]
        for lb_ip in sp.load_balancer_ips:
            out.nat += [f"-A {SERVICES} -d {lb_ip}/32 {_match(sp, sp.port)} "
                        f"{_comment(sp.key + ' loadbalancer IP')} -j {j}" for j in jumps]
    else:
        drop = _unreachable(sp, cluster)
        if sp.node_port:
            out.filter.append(f"-A {EXTERNAL} -m addrtype --dst-type LOCAL "
                              f"{_match(sp, sp.node_port)} {drop}")
        for lb_ip in sp.load_balancer_ips:
            out.filter += [f"-A {chain} -d {lb_ip}/32 {_match(sp, sp.port)} {drop}"
                           for chain in (EXTERNAL, SERVICES)]
    return out


Tables = dict[str, dict[str, list[str]]]  # table → chain → its rules, in order


def tables(state: ProxyState, *, cluster_cidr: str = "", cache: RuleCache | None = None
           ) -> Tables:
    """Every chain of ours with its rules, for `state`.

    With a `cache` (one per proxier: its cluster CIDR never changes) the rules of a
    service port whose endpoints did not change are reused, not rendered again; the
    cache is left holding only the ports of `state`.
    """
    nat: dict[str, list[str]] = {SERVICES: [], NODEPORTS: [], POSTROUTING: [
        f"-A {POSTROUTING} -m mark ! --mark {MASQ_MARK}/{MASQ_MARK} -j RETURN",
        f"-A {POSTROUTING} -j MARK --xor-mark {MASQ_MARK}",
        f"-A {POSTROUTING} {_comment('kybernetes service traffic requiring SNAT')} "
        "-j MASQUERADE --random-fully"],
        MARK_MASQ: [f"-A {MARK_MASQ} -j MARK --or-mark {MASQ_MARK}"]}
    filt: dict[str, list[str]] = {SERVICES: [], EXTERNAL: []}
    used: RuleCache = {}
    for key in sorted(state.ports):
        sp = state.ports[key]
        memo = (sp, tuple(state.endpoints.get(key, [])), tuple(state.local.get(key, [])))
        found = cache.get(memo) if cache is not None else None
        if found is None:
            one = _service_rules(sp, list(memo[1]), list(memo[2]), cluster_cidr=cluster_cidr)
            found = (one, one.by_chain())
        used[memo] = found
        one, chains = found
        for chain, rules in chains.items():
            if chain == SERVICES:
                nat[SERVICES] += rules
            else:
                nat[chain] = rules
        nat[NODEPORTS] += one.nodeports
        for rule in one.filter:
            filt[rule.split(" ", 2)[1]].append(rule)
    nat[SERVICES].append(f"-A {SERVICES} {_comment('kybernetes service nodeports')} "
                         f"-m addrtype --dst-type LOCAL -j {NODEPORTS}")
    if cache is not None:
        cache.clear()
        cache.update(used)
    return {"nat": nat, "filter": filt}


def restore_input(want: Tables, *, applied: Tables, stale: dict[str, set[str]]
                  ) -> tuple[str, dict[str, set[str]]]:
    """The restore input that turns the kernel's chains into `want`.

    Only chains that differ from `applied` (what the last restore wrote; empty for a
    full rewrite) are declared and refilled, as kube-proxy's minimal restores: with
    1,000 Services an endpoint change rewrites a few chains, not ten thousand rules.
    Chains in `stale` or `applied` that are no longer wanted are emptied and deleted.
    Returns it ("" when nothing changed) and the chains kept per table.
    """
    kept = {table: set(chains) for table, chains in want.items()}
    text = []
    for table, chains in want.items():
        before = applied.get(table, {})
        changed = [c for c, rules in chains.items() if before.get(c) != rules]
        gone = sorted((stale.get(table, set()) | set(before)) - kept[table])
        if changed or gone:
            text.append(f"*{table}\n" + "".join(f":{c} - [0:0]\n" for c in changed + gone)
                        + "".join(f"{r}\n" for c in changed for r in chains[c])
                        + "".join(f"-X {c}\n" for c in gone) + "COMMIT\n")
    return "".join(text), kept


def render(state: ProxyState, *, stale: dict[str, set[str]], cluster_cidr: str = ""
           ) -> tuple[str, dict[str, set[str]]]:
    """The full restore input for `state`; returns it and the chains it keeps per table.

    `stale` lists the chains of ours that exist now; those not kept are deleted.
    """
    return restore_input(tables(state, cluster_cidr=cluster_cidr), applied={}, stale=stale)


_COUNTER = re.compile(
    r"^\[(\d+):(\d+)\] -A (KYB-SERVICES|KYB-NODEPORTS) .*-j (KYB-(?:SVC|SVL|EXT)-\w+)")


def connection_counts(nat_save: str) -> dict[str, int]:
    """New connections per KYB-SVC chain, from `iptables-save -c -t nat` (nat rules
    see only the first packet of a connection)."""
    counts: dict[str, int] = {}
    for line in nat_save.splitlines():
        m = _COUNTER.match(line)
        if m:
            counts[m.group(4)] = counts.get(m.group(4), 0) + int(m.group(1))
    return counts


class IptablesProxier:
    """Keeps the kernel's rules equal to the latest :class:`ProxyState`."""

    def __init__(self, *, cluster_cidr: str = "", cleanup_on_exit: bool = False) -> None:
        self.cluster_cidr = cluster_cidr
        self.cleanup_on_exit = cleanup_on_exit
        self._chains: dict[str, set[str]] = {}
        self._last: ProxyState | None = None
        self._run = netfilter.Runner()
        self._applied: Tables = {}
        self._cache: RuleCache = {}
        self._full_at = self._jumps_at = -FULL_SYNC_PERIOD

    async def start(self) -> None:
        await self._run(self._prepare)

    def _prepare(self) -> None:
        netfilter.set_sysctl("net.ipv4.conf.all.route_localnet", "1")
        self._chains = {t: netfilter.existing_chains(t) for t in netfilter.TABLES}

    async def sync(self, state: ProxyState) -> None:
        """Write what changed since the last sync; everything on the first sync and
        every FULL_SYNC_PERIOD (kube-proxy's hourly full sync), which repairs our
        chains if someone else changed them. The jumps from the built-in chains (one
        fork each to check) are checked on full syncs and on a sync with nothing
        to write at least every JUMP_CHECK_PERIOD (the proxy resyncs every 30 s), so
        they never delay a change."""
        want = tables(state, cluster_cidr=self.cluster_cidr, cache=self._cache)
        now = time.monotonic()
        full = now - self._full_at >= FULL_SYNC_PERIOD
        applied, self._applied = ({} if full else self._applied), {}  # unknown if it fails
        text, kept = restore_input(want, applied=applied, stale=self._chains)
        check = full or (not text and now - self._jumps_at >= JUMP_CHECK_PERIOD)
        await self._run(self._apply, text, check)
        self._applied, self._chains = want, kept
        if full:
            self._full_at = now
        if check:
            self._jumps_at = now
        await self._run(self._clear_udp_flows, self._last, state)
        self._last = state

    @staticmethod
    def _apply(text: str, check_jumps: bool) -> None:
        if text:
            netfilter.restore(text)
        if check_jumps:
            netfilter.ensure_jumps(JUMPS)

    @staticmethod
    def _clear_udp_flows(old: ProxyState | None, new: ProxyState) -> None:
        """UDP conntrack entries would keep sending to removed endpoints."""
        if old is None:
            return
        for key, sp in old.ports.items():
            if sp.protocol != "UDP":
                continue
            gone = set(old.endpoints.get(key, [])) - set(new.endpoints.get(key, []))
            for ip in {e[0] for e in gone}:
                netfilter.clear_udp_conntrack(sp.cluster_ip, ip)

    async def connections(self) -> dict[str, int]:
        """New connections per service port key, from the rule counters."""
        if self._last is None:
            return {}
        by_chain = connection_counts(await self._run(netfilter.save, "nat", counters=True))
        return {key: sum(by_chain.get(chain(sp), 0) for chain in (svc_chain, svl_chain, ext_chain))
                for key, sp in self._last.ports.items()}

    async def aclose(self) -> None:
        """Leave the rules in place (after any sync still running), as kube-proxy
        does: they keep carrying traffic until the next proxy replaces them in its
        first sync, so a restart costs no connection. Only `cleanup_on_exit` (or
        `kyb proxy --cleanup`) removes them."""
        await self._run.drain()
        if self.cleanup_on_exit:
            await self._run(netfilter.cleanup)
