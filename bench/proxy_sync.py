"""Proxy rule sync after an EndpointSlice change, with 1,000 Services (issue 13: ≤ 100 ms p99).

Run from the repo root as root: ``.venv/bin/python bench/proxy_sync.py [--services 1000]
[--changes 100]``.

1. A real `kyb apiserver` (service range 10.255.0.0/16, which nothing on the machine
   routes) gets ``--services`` ClusterIP Services, each with one EndpointSlice of two
   endpoints (addresses in 10.254/16, never dialled).
2. `kyb proxy --mode iptables` runs on the host (its chains only catch 10.255/16) and
   programs them all.
3. ``--changes`` times, one random Service's slice gets a new endpoint address; the
   figure is the time from the API server's answer to the write until the new
   endpoint's ``KYB-SEP-`` chain exists in the kernel (polled with ``iptables -S``
   every 2 ms), i.e. watch delivery + the proxy's batching + a full render + one
   ``iptables-restore``. The proxy's own duration of each sync (render + restore,
   from its /metrics) is reported beside it.

Prints one JSON object (p50/p99/max in ms); all rules are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.proxy.cluster import ProxyProcess  # noqa: E402
from tests.integration.proxy.harness import host_netfilter_lock  # noqa: E402
from tests.support.apiserver import ApiServer  # noqa: E402

from kybernetes.api.resources import ENDPOINT_SLICES, SERVICES  # noqa: E402
from kybernetes.client import ApiClient  # noqa: E402
from kybernetes.proxy import netfilter  # noqa: E402
from kybernetes.proxy.iptables import sep_chain  # noqa: E402
from kybernetes.proxy.model import service_ports  # noqa: E402

NS = "default"


def eslice(name: str, ips: list[str]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": NS,
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips]}


def address(n: int) -> str:
    return f"10.254.{n // 250 % 250}.{n % 250 + 1}"


async def populate(client: ApiClient, count: int) -> list[dict[str, Any]]:
    async def one(i: int) -> dict[str, Any]:
        svc = await client.create(SERVICES, {"metadata": {"name": f"s{i}"}, "spec": {
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}, namespace=NS)
        await client.create(ENDPOINT_SLICES, eslice(f"s{i}", [address(2 * i),
                                                              address(2 * i + 1)]),
                            namespace=NS)
        return svc
    services = []
    for start in range(0, count, 50):
        services += await asyncio.gather(*(one(i) for i in range(start,
                                                                  min(start + 50, count))))
    return services


def chain_exists(chain: str) -> bool:
    return subprocess.run(["iptables", "-w", "5", "-t", "nat", "-S", chain],
                          capture_output=True).returncode == 0


def wait_chain(chain: str, timeout: float = 30.0) -> float:
    started = time.monotonic()
    while not chain_exists(chain):
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{chain} never appeared")
        time.sleep(0.002)
    return time.monotonic()


def sync_seconds(proxy: ProxyProcess) -> float:
    for line in proxy.metrics().splitlines():
        if line.startswith("kyb_proxy_sync_proxy_rules_duration_seconds "):
            return float(line.split()[1])
    return 0.0


def summary(values: list[float]) -> dict[str, float]:
    ms = sorted(v * 1000 for v in values)
    return {"p50_ms": round(statistics.median(ms), 1),
            "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 1),
            "max_ms": round(ms[-1], 1)}


async def changes(client: ApiClient, proxy: ProxyProcess, services: list[dict[str, Any]],
                  count: int, first: int) -> tuple[list[float], list[float]]:
    latencies, syncs = [], []
    rng = random.Random(1)
    for n in range(count):
        svc = rng.choice(services)
        name = svc["metadata"]["name"]
        new_ip = address(first + n)
        (sp,) = service_ports(svc)
        current = await client.get(ENDPOINT_SLICES, name, namespace=NS)
        current["endpoints"][0]["addresses"] = [new_ip]
        await client.update(ENDPOINT_SLICES, current)
        written = time.monotonic()
        seen = await asyncio.to_thread(wait_chain, sep_chain(sp, (new_ip, 8080)))
        latencies.append(seen - written)
        await asyncio.sleep(0.05)  # let the sync finish and its duration be published
        syncs.append(sync_seconds(proxy))
    return latencies, syncs


def bench(work: Path, count: int, n_changes: int) -> dict[str, Any]:
    server = ApiServer(work / "apiserver", extra_args=(
        "--service-cluster-ip-range", "10.255.0.0/16")).start()
    try:
        async def setup() -> list[dict[str, Any]]:
            client = ApiClient.from_kubeconfig(server.kubeconfig)
            try:
                return await populate(client, count)
            finally:
                await client.aclose()
        started = time.monotonic()
        services = asyncio.run(setup())
        created = time.monotonic() - started
        with host_netfilter_lock():
            proxy = ProxyProcess(server, work, mode="iptables",
                                 bind_address="0.0.0.0").start()
            try:
                (last,) = service_ports(services[-1])
                wait_chain(sep_chain(last, (address(2 * count - 1), 8080)), timeout=120)
                first_sync = sync_seconds(proxy)

                async def run() -> tuple[list[float], list[float]]:
                    client = ApiClient.from_kubeconfig(server.kubeconfig)
                    try:
                        return await changes(client, proxy, services, n_changes, 2 * count)
                    finally:
                        await client.aclose()
                latencies, syncs = asyncio.run(run())
            finally:
                proxy.stop()
                netfilter.cleanup()
    finally:
        server.stop()
    return {"services": count, "changes": n_changes, "cpus": os.cpu_count(),
            "load_average": os.getloadavg()[0], "setup_seconds": round(created, 1),
            "first_full_sync_ms": round(first_sync * 1000, 1),
            "slice_change_to_rules": summary(latencies), "proxy_sync": summary(syncs)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=100)
    args = parser.parse_args()
    if os.geteuid() != 0 or not netfilter.available():
        print("bench/proxy_sync.py needs root and iptables", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="kyb-bench-proxy-sync-") as tmp:
        result = bench(Path(tmp), args.services, args.changes)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
