"""Cluster DNS: queries/s answered by `kyb dns` from a pod vs on loopback.

Run from the repo root as root: ``.venv/bin/python bench/dns.py [--seconds 5]``.

1. A real `kyb apiserver` starts in a temporary directory and gets ``--services``
   Services; `kyb dns` watches them, listening on every address of the host.
2. A "pod" is a network namespace behind a veth pair (as a kubelet's pod, with a
   default route through the host); the same load generator (this script with
   ``--client``: asyncio UDP, ``--concurrency`` queries in flight, A questions for
   the Services' FQDNs in turn) runs in it against the host end of the veth, and
   on the host against 127.0.0.1.
3. ``--rounds`` rounds (pod, then loopback); figures are medians, the ratio is the
   median of per-round ratios. The load generator is Python too, so both figures
   are bounded by the two processes sharing the machine's cores: the ratio says
   what the path from a pod costs. Other work shows in ``load_average``.

Without root only the loopback figure is measured. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def client(host: str, port: int, seconds: float, concurrency: int, services: int) -> None:
    """The load generator: prints {"qps": …, "errors": …}."""
    from dnslib import RCODE, DNSRecord

    names = [DNSRecord.question(f"svc-{i}.bench.svc.cluster.local.").pack()
             for i in range(services)]

    class Load(asyncio.DatagramProtocol):
        def __init__(self) -> None:
            self.done = 0
            self.errors = 0
            self.next = 0
            self.transport: Any = None

        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            for _ in range(concurrency):
                self.send()

        def send(self) -> None:
            query = bytearray(names[self.next % len(names)])
            query[0:2] = (self.next & 0xFFFF).to_bytes(2, "big")
            self.next += 1
            self.transport.sendto(bytes(query))

        def datagram_received(self, data: bytes, addr: Any) -> None:
            if DNSRecord.parse(data).header.rcode == RCODE.NOERROR:
                self.done += 1
            else:
                self.errors += 1
            self.send()

    async def run() -> None:
        loop = asyncio.get_running_loop()
        transport, load = await loop.create_datagram_endpoint(
            Load, remote_addr=(host, port))
        await asyncio.sleep(0.5)  # warm up
        start_done, start = load.done, time.monotonic()
        await asyncio.sleep(seconds)
        qps = (load.done - start_done) / (time.monotonic() - start)
        transport.close()
        print(json.dumps({"qps": round(qps, 1), "errors": load.errors}))

    asyncio.run(run())


def measure(argv_prefix: list[str], host: str, port: int, args: argparse.Namespace) -> float:
    out = subprocess.run([*argv_prefix, sys.executable, __file__, "--client", host,
                          str(port), "--seconds", str(args.seconds), "--concurrency",
                          str(args.concurrency), "--services", str(args.services)],
                         capture_output=True, text=True, timeout=args.seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return float(json.loads(out.stdout)["qps"])


def bench(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from tests.integration.proxy.harness import PodNetwork
    from tests.support.apiserver import ApiServer, connected, started
    from tests.support.net import free_port
    from tests.support.procs import Proc

    from kybernetes.api import resources

    async def populate(server: ApiServer) -> None:
        async with connected(server) as c:
            await c.create(resources.NAMESPACES, {"metadata": {"name": "bench"}})
            for i in range(args.services):
                await c.create(resources.SERVICES, {
                    "metadata": {"name": f"svc-{i}", "namespace": "bench"},
                    "spec": {"ports": [{"name": "http", "port": 80}]}})

    with started(ApiServer(work / "apiserver")) as server:
        asyncio.run(populate(server))
        port = free_port("0.0.0.0")
        dns = Proc.kyb("dns", "--kubeconfig", str(server.kubeconfig), "--bind-address",
                       "0.0.0.0", "--port", str(port), "--resolv-conf", "/dev/null",
                       log_path=work / "dns.log").start()
        try:
            time.sleep(3)  # synced and listening
            root = os.geteuid() == 0
            pod_runs: list[float] = []
            loop_runs: list[float] = []
            with PodNetwork(1) if root else _Nothing() as net:
                for _ in range(args.rounds):
                    if net is not None:
                        pod_runs.append(measure(["ip", "netns", "exec", net.netns],
                                                net.host_ip, port, args))
                    loop_runs.append(measure([], "127.0.0.1", port, args))
        finally:
            dns.stop()
    result: dict[str, Any] = {
        "services": args.services, "concurrency": args.concurrency,
        "seconds_per_run": args.seconds, "rounds": args.rounds,
        "loopback_qps": statistics.median(loop_runs), "loopback_runs": loop_runs,
        "load_average": os.getloadavg()[0]}
    if pod_runs:
        result.update(pod_qps=statistics.median(pod_runs), pod_runs=pod_runs,
                      ratio_pod_to_loopback=round(statistics.median(
                          p / lo for p, lo in zip(pod_runs, loop_runs, strict=True)), 3))
    return result


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--client", nargs=2, metavar=("HOST", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client(args.client[0], int(args.client[1]), args.seconds, args.concurrency,
               args.services)
        return 0
    with tempfile.TemporaryDirectory(prefix="kyb-bench-dns-") as tmp:
        print(json.dumps(bench(args, Path(tmp)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
