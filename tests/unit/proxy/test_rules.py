"""The iptables-restore inputs both modes generate (pure logic)."""

from __future__ import annotations

import re
from dataclasses import replace

from kybernetes.proxy import iptables
from kybernetes.proxy.model import ProxyState, ServicePort
from kybernetes.proxy.userspace import render_portals

WEB = ServicePort("ns", "web", "http", "TCP", "10.96.0.10", 80, node_port=30080)
DNS = ServicePort("ns", "dns", "", "UDP", "10.96.0.53", 53, affinity_timeout=30)
EPS = [("10.1.0.1", 8080), ("10.1.0.2", 8080), ("10.1.0.3", 8080), ("10.1.0.4", 8080)]


def nat(text: str) -> list[str]:
    return text.split("*filter")[0].splitlines()


def test_probabilities_make_a_uniform_choice() -> None:
    text, _ = iptables.render(ProxyState({WEB.key: WEB}, {WEB.key: EPS}), stale={})
    chain = iptables.svc_chain(WEB)
    rules = [r for r in nat(text) if r.startswith(f"-A {chain} ")]
    probabilities = [float(m.group(1)) if (m := re.search(r"--probability (\S+)", r)) else 1.0
                     for r in rules]
    assert [round(p, 6) for p in probabilities] == [0.25, round(1 / 3, 6), 0.5, 1.0]
    chance_left, shares = 1.0, []
    for p in probabilities:
        shares.append(chance_left * p)
        chance_left *= 1 - p
    assert all(abs(s - 0.25) < 1e-6 for s in shares)
    dnat = [r for r in nat(text) if "DNAT" in r]
    assert [r.split("--to-destination ")[1] for r in dnat] == [f"{ip}:{p}" for ip, p in EPS]


def test_node_port_is_masqueraded_and_jumps_to_the_service() -> None:
    text, _ = iptables.render(ProxyState({WEB.key: WEB}, {WEB.key: EPS[:1]}), stale={})
    nodeports = [r for r in nat(text) if r.startswith("-A KYB-NODEPORTS")]
    assert [r.split("-j ")[1] for r in nodeports] == ["KYB-MARK-MASQ", iptables.svc_chain(WEB)]
    assert all("--dport 30080" in r for r in nodeports)
    services = [r for r in nat(text) if r.startswith("-A KYB-SERVICES ")]
    assert services[-1].endswith("-m addrtype --dst-type LOCAL -j KYB-NODEPORTS")


def test_affinity_uses_the_recent_module() -> None:
    text, _ = iptables.render(ProxyState({DNS.key: DNS}, {DNS.key: EPS[:2]}), stale={})
    checks = [r for r in nat(text) if "--rcheck" in r]
    sets = [r for r in nat(text) if "--set" in r and "DNAT" in r]
    assert len(checks) == len(sets) == 2
    assert all("--seconds 30 --reap" in r and "-p udp" not in r for r in checks)
    assert all("-p udp -m udp -j DNAT" in r for r in sets)


def test_no_endpoints_rejects_in_the_filter_table() -> None:
    text, kept = iptables.render(ProxyState({WEB.key: WEB}, {WEB.key: []}), stale={})
    filt = text.split("*filter")[1]
    assert "-A KYB-SERVICES -d 10.96.0.10/32 -p tcp -m tcp --dport 80" in filt
    assert "--dport 30080" in filt and "REJECT" in filt
    assert iptables.svc_chain(WEB) not in kept["nat"]


def test_stale_chains_are_emptied_then_deleted() -> None:
    _, kept = iptables.render(ProxyState({WEB.key: WEB}, {WEB.key: EPS}), stale={})
    text, now = iptables.render(ProxyState({}, {}), stale=kept)
    gone = kept["nat"] - now["nat"]
    assert len(gone) == 5  # one KYB-SVC, four KYB-SEP
    for chain in gone:
        assert f":{chain} - [0:0]" in text and f"-X {chain}" in text
        assert text.index(f":{chain} ") < text.index(f"-X {chain}")


def test_chain_names_are_stable_and_short() -> None:
    assert iptables.svc_chain(WEB) == iptables.svc_chain(
        ServicePort("ns", "web", "http", "TCP", "10.96.9.9", 80))
    assert len(iptables.sep_chain(WEB, EPS[0])) <= 28


def test_connection_counts_sum_cluster_ip_and_node_port_rules() -> None:
    chain = iptables.svc_chain(WEB)
    saved = "\n".join([
        f"[3:180] -A KYB-SERVICES -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j {chain}",
        "[9:540] -A KYB-NODEPORTS -p tcp -m tcp --dport 30080 -j KYB-MARK-MASQ",
        f"[4:240] -A KYB-NODEPORTS -p tcp -m tcp --dport 30080 -j {chain}",
    ])
    assert iptables.connection_counts(saved) == {chain: 7}


def test_portals_redirect_or_dnat_to_the_listener() -> None:
    listeners = {WEB.key: (WEB, 30080), DNS.key: (DNS, 41000)}
    any_address = render_portals(listeners, bind_address="0.0.0.0")
    assert ("-A KYB-PORTALS-CONTAINER -d 10.96.0.53/32 -p udp -m udp --dport 53 "
            '-m comment --comment "ns/dns" -j REDIRECT --to-ports 41000') in any_address
    assert "-A KYB-PORTALS-HOST -d 10.96.0.10/32 -p tcp -m tcp --dport 80 " in any_address
    assert "-j DNAT --to-destination 127.0.0.1:30080" in any_address
    assert "-A KYB-NODEPORT-HOST -p tcp -m tcp --dport 30080" in any_address
    one_address = render_portals(listeners, bind_address="172.30.1.11")
    assert "REDIRECT" not in one_address
    assert "-j DNAT --to-destination 172.30.1.11:41000" in one_address


LB = ServicePort("ns", "lb", "http", "TCP", "10.96.0.20", 80, node_port=30081,
                 load_balancer_ips=("172.30.0.11", "172.30.0.12"))
CLUSTER_EPS, LOCAL_EPS = EPS, EPS[1:2]


def test_load_balancer_ips_are_masqueraded_into_the_service_chain() -> None:
    text, _ = iptables.render(ProxyState({LB.key: LB}, {LB.key: EPS}), stale={})
    for lb_ip in LB.load_balancer_ips:
        rules = [r for r in nat(text) if f"-d {lb_ip}/32 -p tcp -m tcp --dport 80" in r]
        assert [r.split("-j ")[1] for r in rules] == ["KYB-MARK-MASQ", iptables.svc_chain(LB)]


def test_external_traffic_policy_local_goes_to_local_endpoints_without_snat() -> None:
    sp = replace(LB, external_local=True)
    text, kept = iptables.render(ProxyState({sp.key: sp}, {sp.key: CLUSTER_EPS},
                                            {sp.key: LOCAL_EPS}),
                                 stale={}, cluster_cidr="10.244.0.0/16")
    ext, svl, svc = iptables.ext_chain(sp), iptables.svl_chain(sp), iptables.svc_chain(sp)
    external = [r for r in nat(text)
                if "--dport 30081" in r or ("-d 172.30.0." in r and "--dport 80" in r)]
    assert {r.split("-j ")[1] for r in external} == {ext}  # no KYB-MARK-MASQ
    assert [r.split("-j ")[1] for r in nat(text) if r.startswith(f"-A {ext} ")] == \
        [svc, "KYB-MARK-MASQ", svc, svl]
    assert [r.split("--to-destination ")[1] for r in nat(text) if "DNAT" in r] == \
        [f"{ip}:{p}" for ip, p in CLUSTER_EPS]
    assert len([r for r in nat(text) if r.startswith(f"-A {svl} ")]) == 1
    cluster_ip = [r for r in nat(text) if "-d 10.96.0.20/32" in r]
    assert cluster_ip[-1].endswith(f"-j {svc}")  # internal traffic still cluster-wide
    assert {ext, svl, svc} <= kept["nat"]


def test_local_policies_without_local_endpoints_drop() -> None:
    sp = replace(LB, external_local=True, internal_local=True)
    text, kept = iptables.render(ProxyState({sp.key: sp}, {sp.key: CLUSTER_EPS},
                                            {sp.key: []}), stale={})
    filt = text.split("*filter")[1]
    assert "-A KYB-SERVICES -d 10.96.0.20/32 -p tcp -m tcp --dport 80" in filt
    assert filt.count("has no local endpoints\" -j DROP") == 1 + 1 + 2 * 2
    assert iptables.svl_chain(sp) not in kept["nat"]
    assert not any("-d 10.96.0.20/32" in r for r in nat(text))


def test_internal_traffic_policy_local_uses_the_local_chain() -> None:
    sp = replace(WEB, internal_local=True, node_port=0)
    text, kept = iptables.render(ProxyState({sp.key: sp}, {sp.key: CLUSTER_EPS},
                                            {sp.key: LOCAL_EPS}), stale={})
    assert next(r for r in nat(text) if "-d 10.96.0.10/32" in r).endswith(
        f"-j {iptables.svl_chain(sp)}")
    assert iptables.svc_chain(sp) not in kept["nat"]  # nothing else needs it
    assert [r.split("--to-destination ")[1] for r in nat(text) if "DNAT" in r] == \
        ["10.1.0.2:8080"]


def test_a_sync_rewrites_only_the_chains_that_changed() -> None:
    before = iptables.tables(ProxyState({WEB.key: WEB, DNS.key: DNS},
                                        {WEB.key: EPS, DNS.key: EPS[:2]}))
    after = iptables.tables(ProxyState({WEB.key: WEB, DNS.key: DNS},
                                       {WEB.key: [*EPS[:3], ("10.1.0.9", 8080)],
                                        DNS.key: EPS[:2]}))
    text, kept = iptables.restore_input(after, applied=before, stale={})
    declared = {line[1:].split()[0] for line in text.splitlines() if line.startswith(":")}
    old_sep, new_sep = iptables.sep_chain(WEB, EPS[3]), iptables.sep_chain(WEB, ("10.1.0.9", 8080))
    assert declared == {iptables.svc_chain(WEB), old_sep, new_sep}
    assert f"-X {old_sep}" in text and "*filter" not in text
    assert iptables.restore_input(after, applied=after, stale={})[0] == ""
    assert old_sep not in kept["nat"] and new_sep in kept["nat"]
