"""A pod's resolv.conf and /etc/hosts, as the Kubernetes kubelet writes them."""

from __future__ import annotations

from typing import Any

from kybernetes.kubelet.pod_dns import (
    DnsSettings,
    dns_settings,
    hosts_file,
    needs_resolv_conf,
    parse_resolv_conf,
    pod_hostname,
)

HOST = parse_resolv_conf("# generated\nnameserver 192.168.1.1\nnameserver 192.168.1.2\n"
                         "search corp.example lab.example\noptions edns0 timeout:2\n")
DNS = ("10.96.0.10",)


def pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web-0", "namespace": "shop"}, "spec": spec}


def settings(p: dict[str, Any], cluster_dns: tuple[str, ...] = DNS) -> DnsSettings:
    return dns_settings(p, cluster_dns=cluster_dns, cluster_domain="cluster.local", host=HOST)


def test_cluster_first_is_the_default() -> None:
    assert settings(pod()).resolv_conf() == (
        "nameserver 10.96.0.10\n"
        "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example "
        "lab.example\noptions ndots:5\n")


def test_default_is_the_nodes_file() -> None:
    s = settings(pod(dnsPolicy="Default"))
    assert s == DnsSettings(("192.168.1.1", "192.168.1.2"), ("corp.example", "lab.example"),
                            ("edns0", "timeout:2"))
    assert not needs_resolv_conf(pod(dnsPolicy="Default"), DNS)


def test_host_network_cluster_first_means_default_unless_with_host_net() -> None:
    assert settings(pod(hostNetwork=True)).nameservers == HOST.nameservers
    assert not needs_resolv_conf(pod(hostNetwork=True), DNS)
    with_host_net = pod(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet")
    assert settings(with_host_net).nameservers == DNS
    assert needs_resolv_conf(with_host_net, DNS)


def test_no_cluster_dns_falls_back_to_default() -> None:
    assert settings(pod(), cluster_dns=()).nameservers == HOST.nameservers


def test_none_takes_only_dns_config_and_config_merges() -> None:
    config = {"nameservers": ["1.1.1.1"], "searches": ["a.example"],
              "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}
    assert settings(pod(dnsPolicy="None", dnsConfig=config)).resolv_conf() == (
        "nameserver 1.1.1.1\nsearch a.example\noptions ndots:2 edns0\n")
    merged = settings(pod(dnsConfig=config))
    assert merged.nameservers == ("10.96.0.10", "1.1.1.1")
    assert merged.searches[-1] == "a.example"
    assert merged.options == ("ndots:2", "edns0")


def test_limits_on_nameservers_and_searches() -> None:
    config = {"nameservers": [f"1.1.1.{i}" for i in range(5)],
              "searches": [f"s{i}.example" for i in range(40)]}
    s = settings(pod(dnsConfig=config))
    assert len(s.nameservers) == 3 and len(s.searches) == 32


def test_hosts_file_with_subdomain_and_aliases() -> None:
    p = pod(hostname="db-0", subdomain="db",
            hostAliases=[{"ip": "10.1.2.3", "hostnames": ["foo.local", "bar.local"]}])
    text = hosts_file(p, "10.244.1.5", "cluster.local")
    assert text.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    assert "10.244.1.5\tdb-0.db.shop.svc.cluster.local\tdb-0\n" in text
    assert text.endswith("# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n")
    assert "10.244.1.6\tweb-0\n" in hosts_file(pod(), "10.244.1.6", "cluster.local")


def test_hostname_is_spec_hostname_or_name_cut_to_63() -> None:
    assert pod_hostname(pod()) == "web-0"
    assert pod_hostname(pod(hostname="h")) == "h"
    long = {"metadata": {"name": "a" * 62 + "-b"}, "spec": {}}
    assert pod_hostname(long) == "a" * 62
