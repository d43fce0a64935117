"""NetworkPolicy rules as one nftables table, replaced atomically on every change.

One table (`inet`, hooked on forward) per node agent: established and related
traffic passes first (so replies and connections made before a policy keep
working); then each isolated pod's egress chain (by source IP) and ingress chain
(by destination IP). A chain `return`s for what one of its rules allows and drops
the rest. Traffic between a pod and its own node (kubelet probes, the node's
proxies) does not cross forward and is always allowed, as Kubernetes says it is.

The whole table is written with `nft -f` as `table … ; delete table … ; table … {…}`
in one transaction, so no packet ever sees half a rule set.
"""

from __future__ import annotations

from kybernetes.netpolicy.rules import Allow, PodRules, Ports


def _family(address: str) -> str:
    return "ip6" if ":" in address else "ip"


def _peer_matches(allows: list[Allow], direction: str) -> list[str]:
    """The address matches for allowances that share their ports ("" for any address):
    every address and plain CIDR in one set per family (one lookup per packet, however
    many policies there are), each CIDR with exceptions a match of its own."""
    if any(a.ips is None and not a.blocks for a in allows):
        return [""]
    plain: dict[str, set[str]] = {}
    out = []
    for allow in allows:
        for ip in allow.ips or ():
            plain.setdefault(_family(ip), set()).add(ip)
        for cidr, excepted in allow.blocks:
            family = _family(cidr)
            if not excepted:  # a host route is an address: a hash lookup, not an interval
                host = cidr.removesuffix("/32" if family == "ip" else "/128")
                plain.setdefault(family, set()).add(host)
                continue
            out.append(f"{family} {direction} {cidr} "
                       f"{family} {direction} != {{ {', '.join(excepted)} }} ")
    for family, addresses in sorted(plain.items()):
        out.insert(0, f"{family} {direction} {{ {', '.join(sorted(addresses))} }} ")
    return out


def _port_matches(ports: tuple[Ports, ...] | None) -> list[str]:
    if ports is None:
        return [""]
    out = []
    for p in ports:
        if not p.ranges:
            out.append(f"meta l4proto {p.protocol} ")
        else:
            spans = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in p.ranges)
            out.append(f"{p.protocol} dport {{ {spans} }} ")
    return out


def _chain(name: str, allows: list[Allow], direction: str) -> list[str]:
    by_ports: dict[tuple[Ports, ...] | None, list[Allow]] = {}
    for allow in allows:
        by_ports.setdefault(allow.ports, []).append(allow)
    lines = [f"  chain {name} {{"]
    for ports, group in by_ports.items():
        for peer in _peer_matches(group, direction):
            for port in _port_matches(ports):
                lines.append(f"    {peer}{port}return")
    lines += ["    drop", "  }"]
    return lines


def render(table: str, pods: list[PodRules]) -> str:
    """The nft script that makes `table` hold exactly these pods' rules."""
    lines = [f"table inet {table}", f"delete table inet {table}", f"table inet {table} {{",
             "  chain forward {",
             "    type filter hook forward priority filter; policy accept;",
             "    ct state established,related accept"]
    chains: list[str] = []
    for i, pod in enumerate(pods):
        if pod.egress is not None:
            lines.append(f"    {_family(pod.ip)} saddr {pod.ip} jump egress{i}")
            chains += _chain(f"egress{i}", pod.egress, "daddr")
    for i, pod in enumerate(pods):
        if pod.ingress is not None:
            lines.append(f"    {_family(pod.ip)} daddr {pod.ip} jump ingress{i}")
            chains += _chain(f"ingress{i}", pod.ingress, "saddr")
    return "\n".join([*lines, "  }", *chains, "}", ""])


def remove(table: str) -> str:
    return f"table inet {table}\ndelete table inet {table}\n"
