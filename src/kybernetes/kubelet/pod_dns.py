"""A pod's resolver settings, /etc/hosts and hostname, as the Kubernetes kubelet
computes them (pure; the runtimes put them in place).

dnsPolicy (kube's ``getPodDNSType``):

- ``ClusterFirst`` (the default): the cluster DNS, ``search <ns>.svc.<domain>
  svc.<domain> <domain>`` plus the node's search list, ``options ndots:5``. With
  ``hostNetwork`` it means ``Default``; without a ``--cluster-dns`` too (kube then
  warns "Falling back to Default").
- ``ClusterFirstWithHostNet``: as ClusterFirst, also for hostNetwork pods.
- ``Default``: the node's resolv.conf (``--resolv-conf``).
- ``None``: only ``dnsConfig``.

``dnsConfig`` is merged on top: nameservers and searches appended (deduplicated),
options by name (the pod's win). At most 3 nameservers and 32 search domains
(kube's limits; the rest is dropped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_NAMESERVERS = 3
MAX_SEARCHES = 32
HOSTNAME_MAX = 63


@dataclass(frozen=True)
class DnsSettings:
    nameservers: tuple[str, ...]
    searches: tuple[str, ...]
    options: tuple[str, ...]

    def resolv_conf(self) -> str:
        lines = [f"nameserver {ns}" for ns in self.nameservers]
        if self.searches:
            lines.append("search " + " ".join(self.searches))
        if self.options:
            lines.append("options " + " ".join(self.options))
        return "\n".join(lines) + "\n"


def parse_resolv_conf(text: str) -> DnsSettings:
    nameservers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split(";", 1)[0].split()
        if not parts:
            continue
        if parts[0] == "nameserver" and len(parts) > 1:
            nameservers.append(parts[1])
        elif parts[0] in ("search", "domain"):
            searches = parts[1:]  # the last one wins, as in the C resolver
        elif parts[0] == "options":
            options += parts[1:]
    return DnsSettings(tuple(nameservers), tuple(s.rstrip(".") for s in searches),
                       tuple(options))


def _policy(pod: dict[str, Any], cluster_dns: tuple[str, ...]) -> str:
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "ClusterFirst" and spec.get("hostNetwork"):
        policy = "Default"
    if policy == "ClusterFirstWithHostNet":
        policy = "ClusterFirst"
    if policy == "ClusterFirst" and not cluster_dns:
        policy = "Default"
    return policy


def _merge_options(base: list[str], extra: list[dict[str, Any]]) -> list[str]:
    merged: dict[str, str] = {}
    for text in base:
        merged[text.partition(":")[0]] = text
    for opt in extra:
        name = str(opt.get("name") or "")
        if name:
            value = opt.get("value")
            merged[name] = f"{name}:{value}" if value is not None else name
    return list(merged.values())


def dns_settings(pod: dict[str, Any], *, cluster_dns: tuple[str, ...], cluster_domain: str,
                 host: DnsSettings) -> DnsSettings:
    """The pod's resolver settings for its dnsPolicy and dnsConfig."""
    policy = _policy(pod, cluster_dns)
    ns = (pod.get("metadata") or {}).get("namespace") or "default"
    domain = cluster_domain.strip(".")
    if policy == "ClusterFirst":
        nameservers = list(cluster_dns)
        searches = [f"{ns}.svc.{domain}", f"svc.{domain}", domain, *host.searches]
        options = ["ndots:5"]
    elif policy == "None":
        nameservers, searches, options = [], [], []
    else:
        nameservers, searches, options = (list(host.nameservers), list(host.searches),
                                          list(host.options))
    config = (pod.get("spec") or {}).get("dnsConfig") or {}
    nameservers += [str(n) for n in config.get("nameservers") or []]
    searches += [str(s).rstrip(".") for s in config.get("searches") or []]
    options = _merge_options(options, config.get("options") or [])
    return DnsSettings(tuple(dict.fromkeys(nameservers))[:MAX_NAMESERVERS],
                       tuple(dict.fromkeys(searches))[:MAX_SEARCHES], tuple(options))


def pod_hostname(pod: dict[str, Any]) -> str:
    """`spec.hostname` or the pod's name, cut to 63 characters (kube's truncation)."""
    spec, meta = pod.get("spec") or {}, pod.get("metadata") or {}
    name = str(spec.get("hostname") or meta.get("name") or "")
    return name[:HOSTNAME_MAX].rstrip("-.") if len(name) > HOSTNAME_MAX else name


def pod_fqdn(pod: dict[str, Any], cluster_domain: str) -> str:
    """`hostname.subdomain.ns.svc.<domain>` when the pod has a subdomain, else ''."""
    spec, meta = pod.get("spec") or {}, pod.get("metadata") or {}
    subdomain = spec.get("subdomain")
    if not subdomain:
        return ""
    ns = meta.get("namespace") or "default"
    return f"{pod_hostname(pod)}.{subdomain}.{ns}.svc.{cluster_domain.strip('.')}"


def hosts_file(pod: dict[str, Any], pod_ip: str, cluster_domain: str) -> str:
    """kube's managed /etc/hosts: localhost lines, the pod's IP and names, hostAliases."""
    lines = ["# Kubernetes-managed hosts file.",
             "127.0.0.1\tlocalhost",
             "::1\tlocalhost ip6-localhost ip6-loopback",
             "fe00::0\tip6-localnet",
             "fe00::0\tip6-mcastprefix",
             "fe00::1\tip6-allnodes",
             "fe00::2\tip6-allrouters"]
    hostname, fqdn = pod_hostname(pod), pod_fqdn(pod, cluster_domain)
    if pod_ip:
        lines.append(f"{pod_ip}\t{fqdn}\t{hostname}" if fqdn else f"{pod_ip}\t{hostname}")
    aliases = (pod.get("spec") or {}).get("hostAliases") or []
    if aliases:
        lines += ["", "# Entries added by HostAliases."]
        for alias in aliases:
            names = [str(h) for h in alias.get("hostnames") or []]
            if alias.get("ip") and names:
                lines.append("\t".join([str(alias["ip"]), *names]))
    return "\n".join(lines) + "\n"


def host_settings(path: str) -> DnsSettings:
    """The node's resolver settings (empty when its file cannot be read)."""
    try:
        with open(path) as f:
            return parse_resolv_conf(f.read())
    except OSError:
        return DnsSettings((), (), ())


def needs_resolv_conf(pod: dict[str, Any], cluster_dns: tuple[str, ...]) -> bool:
    """Whether the pod's resolver differs from the node's own file (a hostNetwork pod
    with dnsPolicy Default, or ClusterFirst that falls back to it, reads the node's)."""
    spec = pod.get("spec") or {}
    return _policy(pod, cluster_dns) != "Default" or bool(spec.get("dnsConfig"))
