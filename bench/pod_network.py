"""Pod-to-pod TCP throughput and latency across nodes (host-gw, vxlan) vs. one node.

Run from the repo root as root: ``.venv/bin/python bench/pod_network.py [--seconds 3]``.

For each ``--pod-network`` mode a two-node process-runtime `kyb up` cluster starts
in a temporary directory (the host's own routes to the pod CIDRs are removed, so
pod traffic takes only the nodes' routes). A server pod on node 2 sinks one TCP
port and echoes another; a client pod on node 1 (across nodes) and one on node 2
(the same bridge: the baseline) run this script with ``--client``: a stream of
256 KiB writes for ``--seconds`` (the server reports the bytes it read), then
``--pings`` one-byte round trips on one connection. ``--rounds`` rounds per mode,
alternating the two clients; figures are medians, ratios are cross-node over
same-node. Client and server are Python on a shared 2-core machine, so absolute
figures are bounded by CPU; the ratio says what the node hop costs. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.support

from bench.harness import parser as bench_parser  # noqa: E402
from tests.support.cluster import KybCluster, process_cluster  # noqa: E402
from tests.support.poll import wait_for  # noqa: E402

SINK, ECHO = 7001, 7002
SERVER = f"""
import socket, threading
def sink(c):
    total = 0
    while True:
        data = c.recv(1 << 20)
        if not data:
            break
        total += len(data)
    c.sendall(str(total).encode()); c.close()
def echo(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while (data := c.recv(64)):
        c.sendall(data)
    c.close()
def serve(port, handler):
    s = socket.create_server(("0.0.0.0", port), backlog=16)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handler, args=(c,), daemon=True).start()
threading.Thread(target=serve, args=({SINK}, sink), daemon=True).start()
serve({ECHO}, echo)
"""


def client(host: str, seconds: float, pings: int) -> None:
    """Run in a client pod: prints {"gbit_s", "rtt_us_p50", "rtt_us_p99"}."""
    chunk = b"x" * (256 << 10)
    with socket.create_connection((host, SINK), timeout=30) as s:
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            s.sendall(chunk)
        s.shutdown(socket.SHUT_WR)
        received = int(s.recv(64))
        elapsed = time.perf_counter() - start
    rtts = []
    with socket.create_connection((host, ECHO), timeout=30) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(pings):
            t = time.perf_counter()
            s.sendall(b"p")
            s.recv(64)
            rtts.append((time.perf_counter() - t) * 1e6)
    rtts.sort()
    print(json.dumps({"gbit_s": round(received * 8 / elapsed / 1e9, 3),
                      "rtt_us_p50": round(rtts[len(rtts) // 2], 1),
                      "rtt_us_p99": round(rtts[int(len(rtts) * 0.99)], 1)}))


def pod(name: str, node: str, command: list[str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": "python:3",
                                     "command": command}]}}


def running(cluster: KybCluster, names: set[str]) -> bool:
    items = json.loads(cluster.kubectl("get", "pods", "-o", "json"))["items"]
    return names <= {p["metadata"]["name"] for p in items
                     if p["status"].get("phase") == "Running"}


def measure(cluster: KybCluster, client_pod: str, server_ip: str,
            args: argparse.Namespace) -> dict[str, float]:
    done = cluster.kubectl_run("exec", client_pod, "--", sys.executable, str(Path(__file__)),
                               "--client", server_ip, "--seconds", str(args.seconds),
                               "--pings", str(args.pings), timeout=args.seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"client in {client_pod} failed: {done.stderr}")
    result: dict[str, float] = json.loads(done.stdout)
    return result


def one_mode(mode: str, base: Path, args: argparse.Namespace) -> dict[str, Any]:
    from kybernetes.cli.node_network import NodeNetwork

    with process_cluster(base / mode, "--pod-network", mode) as cluster:
        for node in NodeNetwork(str(cluster.data_dir), 2, isolated=True).nodes:
            subprocess.run(["ip", "route", "del", node.pod_cidr], capture_output=True,
                           check=False)
        pods = [pod("server", "kyb-node-2", [sys.executable, "-c", SERVER]),
                pod("cross", "kyb-node-1", ["sleep", "3600"]),
                pod("same", "kyb-node-2", ["sleep", "3600"])]
        cluster.kubectl_run("apply", "-f", "-", stdin=json.dumps(
            {"apiVersion": "v1", "kind": "List", "items": pods}))
        wait_for(lambda: running(cluster, {"server", "cross", "same"}), within=90,
                 interval=0.5, what="the benchmark pods Running")
        server_ip = cluster.kubectl("get", "pod", "server", "-o", "jsonpath={.status.podIP}")
        wait_for(lambda: cluster.kubectl_run("exec", "cross", "--", sys.executable, "-c",
                                             f"import socket; socket.create_connection(("
                                             f"'{server_ip}', {ECHO}), timeout=2)"
                                             ).returncode == 0,
                 within=30, interval=0.5, what="the server to answer across nodes")
        runs: dict[str, list[dict[str, float]]] = {"cross_node": [], "same_node": []}
        for _ in range(args.rounds):
            runs["cross_node"].append(measure(cluster, "cross", server_ip, args))
            runs["same_node"].append(measure(cluster, "same", server_ip, args))
        out: dict[str, Any] = {where: {key: statistics.median(r[key] for r in results)
                                       for key in results[0]}
                               for where, results in runs.items()}
        out["throughput_ratio"] = round(out["cross_node"]["gbit_s"]
                                        / out["same_node"]["gbit_s"], 3)
        out["rtt_p50_ratio"] = round(out["cross_node"]["rtt_us_p50"]
                                     / out["same_node"]["rtt_us_p50"], 3)
        return out


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--client", metavar="SERVER_IP", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="length of each throughput run (default 3)")
    parser.add_argument("--pings", type=int, default=2000,
                        help="round trips per latency run (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per mode (default 3)")
    parser.add_argument("--modes", default="host-gw,vxlan")
    args = parser.parse_args()
    if args.client:
        client(args.client, args.seconds, args.pings)
        return
    if os.geteuid() != 0:
        sys.exit("pod networks across nodes need root (per-node network namespaces)")
    with tempfile.TemporaryDirectory(prefix="kyb-bench-podnet-") as tmp:
        base = Path(args.keep_dir) if args.keep_dir else Path(tmp)
        result: dict[str, Any] = {"seconds": args.seconds, "pings": args.pings,
                                  "rounds": args.rounds}
        for mode in args.modes.split(","):
            result[mode] = one_mode(mode, base, args)
        result["load_average"] = os.getloadavg()[0]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
