"""Service proxy throughput: HTTP requests/s, p99 latency and bulk MB/s, per mode.

Run from the repo root as root: ``.venv/bin/python bench/proxy.py [--seconds 5]``.
Needs Debian's ``wrk`` (a C load generator, so the client is not the bottleneck).

1. A real `kyb apiserver` starts in a temporary directory; a "pod" (the backend of
   tests/integration/proxy/backend.py, HTTP keep-alive) runs in its own network
   namespace behind a veth pair, as a kubelet's pod would.
2. A Service with that pod as its only endpoint is created through the API.
3. The same three loads are sent, in one run, **straight to the pod**
   (pod IP:8080, the baseline) and **through the Service** (clusterIP:80) with
   `kyb proxy --mode iptables` and then `--mode userspace`:
   - ``http``: ``GET /`` on 32 keep-alive connections → requests/s and p99 latency;
   - ``http_new_conn``: the same with a new connection per request;
   - ``bulk``: ``GET /bytes/1048576`` on 4 connections → MB/s.
4. Steps 3 repeat in ``--rounds`` rounds (direct, then each mode); figures are
   medians, and each ratio through the Service / direct is the median of the
   per-round ratios (targets: iptables ≥ 0.95, userspace ≥ 0.5). Other work on
   the machine shows in ``load_average``.

Without root only userspace can run, through its NodePort on 127.0.0.1 with the
pod on loopback. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TypedDict

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.support and the proxy test harness

from tests.integration.proxy.cluster import Api, ProxyProcess, subsets  # noqa: E402
from tests.integration.proxy.harness import (  # noqa: E402
    PodNetwork,
    backends,
    eventually,
    http_get,
)
from tests.support.apiserver import ApiServer  # noqa: E402
from tests.support.net import free_port  # noqa: E402

POD_PORT = 8080


class Load(TypedDict):
    path: str
    connections: int
    close: bool


LOADS: dict[str, Load] = {
    "http": {"path": "/", "connections": 32, "close": False},
    "http_new_conn": {"path": "/", "connections": 16, "close": True},
    "bulk": {"path": "/bytes/1048576", "connections": 4, "close": False},
}
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}
_BYTES = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}


def wrk(url: str, *, seconds: float, connections: int, close: bool) -> dict[str, Any]:
    """One wrk run; requests/s, p99 latency (ms) and MB/s (floats), and wrk's socket
    errors (a string) when it had any."""
    argv = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{int(seconds)}s", "--latency",
            "--timeout", "5s"]
    if close:
        argv += ["-H", "Connection: close"]
    out = subprocess.run([*argv, url], capture_output=True, text=True, timeout=seconds + 30)
    text = out.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", text)
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    if not (rps and transfer and p99):
        raise RuntimeError(f"wrk output not understood:\n{text}\n{out.stderr}")
    return {
        "requests_per_s": round(float(rps.group(1)), 1),
        "p99_ms": round(float(p99.group(1)) * _UNITS[p99.group(2)] * 1000, 3),
        "mb_per_s": round(float(transfer.group(1)) * _BYTES[transfer.group(2)] / 1e6, 1),
        **({"socket_errors": errors.group(1).strip()} if errors else {}),
    }


def run_loads(host: str, port: int, seconds: float) -> dict[str, dict[str, float]]:
    eventually(lambda: http_get(host, port, timeout=0.5), timeout=10)
    return {name: wrk(f"http://{host}:{port}{load['path']}", seconds=seconds,
                      connections=int(load["connections"]), close=bool(load["close"]))
            for name, load in LOADS.items()}


def ratios(through: dict[str, dict[str, float]], direct: dict[str, dict[str, float]]
           ) -> dict[str, float]:
    return {
        "http_requests_per_s": round(through["http"]["requests_per_s"]
                                     / direct["http"]["requests_per_s"], 3),
        "http_new_conn_requests_per_s": round(through["http_new_conn"]["requests_per_s"]
                                              / direct["http_new_conn"]["requests_per_s"], 3),
        "bulk_mb_per_s": round(through["bulk"]["mb_per_s"] / direct["bulk"]["mb_per_s"], 3),
    }


def bench(seconds: float, work: Path, rounds: int) -> dict[str, Any]:
    root = os.geteuid() == 0
    server = ApiServer(work / "apiserver").start()
    try:
        api = Api(server)
        if root:
            with PodNetwork(1) as net, backends([{"name": "pod", "host": net.pod_ips[0],
                                                  "tcp": POD_PORT, "netns": net.netns}]):
                return measure(api, server, work, seconds, pod_ip=net.pod_ips[0],
                               modes=("iptables", "userspace"), rounds=rounds)
        port = free_port()
        with backends([{"name": "pod", "host": "127.0.0.1", "tcp": port}]):
            return measure(api, server, work, seconds, pod_ip="127.0.0.1", pod_port=port,
                           modes=("userspace",), rounds=rounds)
    finally:
        server.stop()


def measure(api: Api, server: ApiServer, work: Path, seconds: float, *, pod_ip: str,
            modes: tuple[str, ...], rounds: int, pod_port: int = POD_PORT) -> dict[str, Any]:
    """`rounds` rounds of direct-then-each-mode; medians, and ratios per round.

    The machine may be busy with other work: a ratio taken within one round
    compares loads seconds apart, and the median of rounds drops outliers.
    """
    svc = api.service("bench", [{"name": "http", "port": 80}], type="NodePort")
    api.endpoints("bench", subsets([(pod_ip, pod_port)], port_name="http"))
    if os.geteuid() == 0:
        target = (svc["spec"]["clusterIP"], 80)
    else:
        target = ("127.0.0.1", svc["spec"]["ports"][0]["nodePort"])
    runs: dict[str, list[dict[str, dict[str, float]]]] = {p: [] for p in ("direct", *modes)}
    ratio_runs: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    for _ in range(rounds):
        runs["direct"].append(run_loads(pod_ip, pod_port, seconds))
        for mode in modes:
            proxy = ProxyProcess(server, work, mode=mode, bind_address="0.0.0.0").start()
            try:
                runs[mode].append(run_loads(*target, seconds))
            finally:
                proxy.stop()
            ratio_runs[mode].append(ratios(runs[mode][-1], runs["direct"][-1]))
    result: dict[str, Any] = {"seconds_per_load": seconds, "rounds": rounds,
                              "cpus": os.cpu_count(), "root": os.geteuid() == 0,
                              "load_average": os.getloadavg()[0]}
    result["direct"] = _median_loads(runs["direct"])
    for mode in modes:
        result[mode] = {**_median_loads(runs[mode]),
                        "ratio_to_direct": {k: statistics.median(r[k] for r in ratio_runs[mode])
                                            for k in ratio_runs[mode][0]}}
    return result


def _median_loads(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {load: {k: statistics.median(r[load][k] for r in runs)
                   for k in ("requests_per_s", "p99_ms", "mb_per_s")} for load in runs[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="per load and path")
    parser.add_argument("--rounds", type=int, default=3, help="direct-then-modes rounds")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench/proxy.py needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kyb-bench-proxy-") as tmp:
        result = bench(args.seconds, Path(tmp), args.rounds)
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
