"""Pod creates/s with 3 API servers over a 3-member etcd vs 1 API server over 1 etcd.

Run from the repo root: ``.venv/bin/python bench/ha.py [--rounds N] [--seconds S]``.
Needs Debian's ``wrk`` and ``etcd-server``. Prints one JSON object.

Both layouts run side by side in the same run, their rounds interleaved, built as
`kyb up --servers N` builds its control plane but without the rest of a cluster
(no scheduler, controllers or nodes: only the write path is measured):

- ``one``: one ``kyb apiserver`` over a one-member etcd;
- ``three``: three ``kyb apiserver`` processes over one 3-member etcd cluster (each
  server dials its own member first, as `kyb up` orders them).

etcd speaks plain HTTP on loopback here (`kyb up` adds TLS). The load is the pod
create of ``bench/apiserver.py`` (its Lua script: a unique name per request, a static
``system:masters`` token): ``wrk -t1 -c64`` against the one server; against the three,
three ``wrk -t1`` at once, one per server, 64 connections in all (22+21+21) —
straight at each server, not through `kyb api-lb`, so the balancer's own cost (a
userspace splice per connection) is not in the figure.

Per layout and round: creates/s (summed over the servers), each server's wrk p50/p99,
and the CPU of every process in the phase (``cores``: CPU seconds over wall seconds,
per API server and per etcd member), ``cpu_ms_per_create`` (all of them together per
create: 2 cores over it is the most this machine allows), and each member's WAL fsyncs/s
and their mean time from etcd's /metrics. The ratio is three's creates/s over one's in
the same round. A first 3 s phase per layout warms up and is not reported.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.apiserver import CONCURRENCY, NS, TOKEN, cpu_seconds, create_script, wrk  # noqa: E402
from bench.harness import parser  # noqa: E402
from tests.support.apiserver import ApiServer  # noqa: E402
from tests.support.etcd import Etcd, EtcdCluster, etcd_available  # noqa: E402

AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
PODS = f"/api/v1/namespaces/{NS}/pods"


class Layout:
    """N API servers over an etcd cluster of N members (one etcd when N is 1)."""

    def __init__(self, directory: Path, size: int) -> None:
        self.directory = directory
        directory.mkdir()
        self.etcd: Etcd | EtcdCluster = (Etcd(directory / "etcd") if size == 1
                                         else EtcdCluster(directory / "etcd", size))
        self.servers: list[ApiServer] = []
        self.size = size

    def start(self) -> Layout:
        self.etcd.start()
        tokens = self.directory / "tokens.csv"
        tokens.write_text(f'{TOKEN},bench-admin,bench-admin,"system:masters"\n')
        endpoints = [m.endpoint for m in self._members]
        for i in range(self.size):
            own_first = [endpoints[i], *(e for j, e in enumerate(endpoints) if j != i)]
            self.servers.append(ApiServer(
                self.directory / f"api-{i}", store="etcd://" + ",".join(own_first),
                extra_args=("--token-auth-file", str(tokens))).start())
        return self

    @property
    def _members(self) -> list[Etcd]:
        return self.etcd.members if isinstance(self.etcd, EtcdCluster) else [self.etcd]

    def pids(self) -> dict[str, int]:
        """Every process of the layout by name (for its CPU)."""
        found = {}
        for i, server in enumerate(self.servers):
            assert server.proc is not None and server.proc.popen is not None
            found[f"apiserver-{i}"] = server.proc.popen.pid
        for i, member in enumerate(self._members):
            assert member.proc is not None and member.proc.popen is not None
            found[f"etcd-{i}"] = member.proc.popen.pid
        return found

    def fsyncs(self) -> list[tuple[float, float]]:
        """Each member's WAL fsyncs so far: (count, seconds) from its /metrics."""
        return [_fsync_metrics(f"http://{m.endpoint}/metrics") for m in self._members]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.etcd.stop()


def _fsync_metrics(url: str) -> tuple[float, float]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    found = dict.fromkeys(("count", "sum"), 0.0)
    for line in text.splitlines():
        for what in found:
            if line.startswith(f"etcd_disk_wal_fsync_duration_seconds_{what} "):
                found[what] = float(line.split()[1])
    return found["count"], found["sum"]


async def _namespace(urls: list[str]) -> None:
    """The bench namespace, made through the first server and seen by all (each
    admits a create only once its own cache has the namespace)."""
    async with aiohttp.ClientSession(headers=AUTH,
                                     connector=aiohttp.TCPConnector(ssl=False)) as http:
        async with http.post(f"{urls[0]}/api/v1/namespaces",
                             json={"metadata": {"name": NS}}) as r:
            assert r.status == 201, await r.text()
        for url in urls:
            for _ in range(100):
                async with http.get(f"{url}/api/v1/namespaces/{NS}") as r:
                    if r.status == 200:
                        break
                await asyncio.sleep(0.1)


def phase(layout: Layout, workdir: Path, seconds: int) -> dict[str, Any]:
    """One wrk per API server at once, CONCURRENCY connections in all."""
    count = len(layout.servers)
    shares = [CONCURRENCY // count + (i < CONCURRENCY % count) for i in range(count)]
    pids = layout.pids()
    cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
    fsyncs = layout.fsyncs()
    started = time.monotonic()
    with ThreadPoolExecutor(count) as pool:
        runs = list(pool.map(
            lambda i: wrk(layout.servers[i].url, create_script(PODS, AUTH), workdir,
                          seconds=seconds, pid=pids[f"apiserver-{i}"],
                          connections=shares[i]), range(count)))
    wall = time.monotonic() - started
    cores = {name: round((cpu_seconds(pid) - cpu[name]) / wall, 2) for name, pid in pids.items()}
    synced = [(count - c0, total - t0) for (count, total), (c0, t0)
              in zip(layout.fsyncs(), fsyncs, strict=True)]
    return {"creates_per_s": sum(r["per_s"] for r in runs),
            "p50_ms": [r["p50_ms"] for r in runs], "p99_ms": [r["p99_ms"] for r in runs],
            "non_2xx": sum(r.get("non_2xx", 0) for r in runs),
            "cores": cores, "cores_total": round(sum(cores.values()), 2),
            # every process's CPU per create: what 2 cores allow at most, whatever the layout
            "cpu_ms_per_create": round(sum(cores.values()) * 1000
                                       / max(1, sum(r["per_s"] for r in runs)), 2),
            # per member: WAL fsyncs/s (etcd batches several writes into one) and their mean
            "etcd_fsyncs_per_s": [round(n / wall) for n, _ in synced],
            "etcd_fsync_ms": [round(t * 1000 / max(1, n), 2) for n, t in synced],
            "apiserver_cpu_us_per_create": [r["server_cpu_us"] for r in runs]}


def main() -> int:
    args = parser(__doc__)
    args.add_argument("--seconds", type=int, default=10, help="length of each wrk phase")
    args.add_argument("--rounds", type=int, default=2)
    options = args.parse_args()
    if shutil.which("wrk") is None or not etcd_available():
        print("bench/ha.py needs wrk and etcd: apt-get install wrk etcd-server",
              file=sys.stderr)
        return 2
    report: dict[str, Any] = {"bench": "ha", "cpus": os.cpu_count(),
                              "concurrency": CONCURRENCY, "seconds": options.seconds,
                              "load_average": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="kyb-bench-ha-") as tmp:
        base = Path(options.keep_dir or tmp)
        base.mkdir(parents=True, exist_ok=True)
        layouts: list[Layout] = []
        try:
            for size in (1, 3):
                layouts.append(Layout(base / f"servers-{size}", size))
                layouts[-1].start()
            one, three = layouts
            for layout in layouts:
                asyncio.run(_namespace([s.url for s in layout.servers]))
            for layout in layouts:  # warm-up, not reported: the first seconds of a
                phase(layout, base, 3)  # fresh server run several times slower
            rounds: list[dict[str, Any]] = []
            for _ in range(options.rounds):
                a = phase(one, base, options.seconds)
                b = phase(three, base, options.seconds)
                rounds.append({"one": a, "three": b, "ratio": round(
                    b["creates_per_s"] / max(1, a["creates_per_s"]), 3)})
            report["rounds"] = rounds
        finally:
            for layout in reversed(layouts):
                layout.stop()
    report["load_average_after"] = os.getloadavg()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
