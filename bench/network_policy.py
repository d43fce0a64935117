"""NetworkPolicy cost: new TCP connections per second to a pod with 500 policies
selecting it, against the same pair of pods with none (run as root).

Run from the repo root: ``.venv/bin/python bench/network_policy.py [--policies 500]
[--seconds 5]``. What it builds is a node as `kyb up` builds one, without the rest of
the cluster: a network namespace for the node with a bridge (br_netfilter on, as the
agent sets it), two pod namespaces on it, a TCP server in one, a client in the other
opening and closing connections for `--seconds`.

1. **Baseline**: connections/s with no policy table (the node's masquerade rule is
   there in both runs, as on every kyb node: conntrack is on either way).
2. The same with the table `kyb network-policy` would write for `--policies`
   policies selecting the server pod, each allowing one other /32 (the client's
   address is allowed by the last). `ratio` = with / without (aim ≥ 0.9); the two
   are measured in `--turns` alternations (medians), so that the machine's load
   hits both alike.
3. **Sync**: the agent's work for that many policies — working out the rules from
   the objects (`rules_seconds`) and replacing the table (`nft_seconds`), p50/p99
   over repeats.

Prints one JSON object. Everything it made is removed, even when interrupted.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import parser as bench_parser  # noqa: E402

from kybernetes.netpolicy.nft import remove, render  # noqa: E402
from kybernetes.netpolicy.rules import Snapshot, node_rules  # noqa: E402

TAG = f"kybnpb{os.getpid() % 10000}"
NODE, CLIENT, SERVER = f"{TAG}n", f"{TAG}c", f"{TAG}s"
CLIENT_IP, SERVER_IP = "10.251.0.2", "10.251.0.3"
TABLE = "kybnp_bench"

SERVE = """
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7000)); s.listen(1024)
while True:
    c, _ = s.accept(); c.close()
"""
# Closed with a reset (SO_LINGER 0): no TIME_WAIT, so neither the client's ports nor the
# node's conntrack table fill up over a run (either would cap both cases alike).
CONNECT = """
import socket, struct, sys, time
end = time.monotonic() + float(sys.argv[2]); n = 0
linger = struct.pack("ii", 1, 0)
while time.monotonic() < end:
    s = socket.create_connection((sys.argv[1], 7000), timeout=2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger); s.close(); n += 1
print(n / float(sys.argv[2]))
"""


def sh(*argv: str, stdin: str | None = None) -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


def in_ns(ns: str, *argv: str, stdin: str | None = None) -> str:
    return sh("ip", "netns", "exec", ns, *argv, stdin=stdin)


def build() -> None:
    for ns in (NODE, CLIENT, SERVER):
        sh("ip", "netns", "add", ns)
    in_ns(NODE, "ip", "link", "add", "br0", "type", "bridge")
    in_ns(NODE, "ip", "link", "set", "br0", "up")
    in_ns(NODE, "ip", "link", "set", "lo", "up")
    in_ns(NODE, "sh", "-c", "echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables")
    # every kyb node masquerades its pods' outbound traffic (and runs a proxy's NAT
    # rules), so conntrack is on in a node with or without policies
    in_ns(NODE, "nft", "-f", "-", stdin=(
        "table ip kybnode {\n chain post {\n"
        "  type nat hook postrouting priority srcnat;\n"
        "  ip saddr 10.251.0.0/24 ip daddr != 10.251.0.0/24 masquerade\n }\n}\n"))
    for ns, ip in ((CLIENT, CLIENT_IP), (SERVER, SERVER_IP)):
        host_end = f"v{ns[-6:]}"
        sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "link", "set", host_end, "netns", NODE)
        in_ns(NODE, "ip", "link", "set", host_end, "master", "br0", "up")
        in_ns(ns, "ip", "addr", "add", f"{ip}/24", "dev", "eth0")
        in_ns(ns, "ip", "link", "set", "eth0", "up")
        in_ns(ns, "ip", "link", "set", "lo", "up")


def tear_down() -> None:
    for ns in (CLIENT, SERVER, NODE):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def connections_per_s(seconds: float) -> float:
    return float(in_ns(CLIENT, sys.executable, "-c", CONNECT, SERVER_IP, str(seconds)))


def snapshot(policies: int) -> Snapshot:
    server = {"metadata": {"name": "server", "namespace": "default", "labels": {"app": "db"}},
              "spec": {"nodeName": "bench"},
              "status": {"podIP": SERVER_IP, "phase": "Running"}}
    allowed = [f"10.{250 - i // 65536 % 200}.{i // 256 % 256}.{i % 256}/32"
               for i in range(policies - 1)] + [f"{CLIENT_IP}/32"]
    return Snapshot([{"metadata": {"name": f"p{i}", "namespace": "default"},
                      "spec": {"podSelector": {"matchLabels": {"app": "db"}},
                               "policyTypes": ["Ingress"],
                               "ingress": [{"from": [{"ipBlock": {"cidr": cidr}}],
                                            "ports": [{"port": 7000, "protocol": "TCP"}]}]}}
                     for i, cidr in enumerate(allowed)], [server], {})


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def run(policies: int, seconds: float, repeats: int, turns: int) -> dict[str, Any]:
    server = subprocess.Popen(["ip", "netns", "exec", SERVER, sys.executable, "-c", SERVE])
    try:
        time.sleep(0.5)
        connections_per_s(1.0)  # warm up
        rules_times, nft_times = [], []
        script = ""
        for _ in range(repeats):
            started = time.perf_counter()
            script = render(TABLE, node_rules(snapshot(policies), "bench"))
            rules_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            in_ns(NODE, "nft", "-f", "-", stdin=script)
            nft_times.append(time.perf_counter() - started)
        chain_rules = in_ns(NODE, "nft", "list", "table", "inet", TABLE).count(" return")
        # alternate without/with so that a load change on the machine hits both alike
        baselines, withs = [], []
        for _ in range(turns):
            in_ns(NODE, "nft", "-f", "-", stdin=remove(TABLE))
            baselines.append(connections_per_s(seconds / turns))
            in_ns(NODE, "nft", "-f", "-", stdin=script)
            withs.append(connections_per_s(seconds / turns))
        in_ns(NODE, "nft", "-f", "-", stdin=remove(TABLE))
        baseline, with_policies = statistics.median(baselines), statistics.median(withs)
    finally:
        server.kill()
        server.wait()
    return {
        "policies": policies, "rules_in_chain": chain_rules, "seconds": seconds,
        "baseline_no_policy_connections_per_s": round(baseline, 1),
        "with_policies_connections_per_s": round(with_policies, 1),
        "ratio": round(with_policies / baseline, 3), "aim_ratio": 0.9,
        "turns": {"without": [round(x) for x in baselines], "with": [round(x) for x in withs]},
        "sync": {"rules_seconds_p50": round(statistics.median(rules_times), 4),
                 "rules_seconds_p99": round(percentile(rules_times, 99), 4),
                 "nft_seconds_p50": round(statistics.median(nft_times), 4),
                 "nft_seconds_p99": round(percentile(nft_times, 99), 4),
                 "script_bytes": len(script)},
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--policies", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--turns", type=int, default=6,
                        help="without/with alternations (medians are reported)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("network namespaces need root")
    try:
        build()
        print(json.dumps(run(args.policies, args.seconds, args.repeats, args.turns), indent=2))
    finally:
        tear_down()


if __name__ == "__main__":
    main()
