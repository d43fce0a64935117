"""API server throughput and watch latency, beside the raw store's figures.

Run from the repo root: ``.venv/bin/python bench/apiserver.py [--no-etcd]``.
Prints one JSON object. Per backend (sqlite; etcd when installed) a real
``kyb apiserver`` process is started and measured over HTTPS with the admin
client certificate:

- ``pod_creates_per_s``: POST of small pods, 64 concurrent clients on keep-alive
  connections;
- ``pod_gets_per_s``: GET of those pods, same concurrency;
- ``list_10000_pods_s``: one unpaged LIST of 10,000 pods (best of 3);
- ``watch_latency_ms``: p50/p99 over paced creates of the time from a create's
  acknowledgement to its event reaching *every* one of 1,000 open watches (the
  watchers run in two child processes; times are CLOCK_MONOTONIC, shared by all
  processes).

Beside each backend: the raw store's figures from ``bench/storage_raw.py`` (same
machine, same run) and the ratios. ``baseline`` is that script's machine baseline
plus ``http_hello_per_s``: requests/s of a bare aiohttp server answering a fixed
body over plain HTTP to the same client at the same concurrency, the ceiling any
Python HTTP API reaches on this machine at this moment (other load included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from storage_raw import baseline, bench_etcd, bench_sqlite  # noqa: E402
from tests.support.apiserver import ApiServer  # noqa: E402

from kybernetes.client.kubeconfig import load_kubeconfig  # noqa: E402

CONCURRENCY = 64
NS = "bench"


def pod(name: str, group: str = "load") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "bench", "group": group}},
            "spec": {"containers": [{"name": "c", "image": "busybox",
                                     "command": ["sleep", "3600"],
                                     "resources": {"requests": {"cpu": "10m"}}}]}}


HELLO = """
import sys
from aiohttp import web
async def hello(request):
    return web.Response(body=b'{"kind":"Status"}', content_type="application/json")
app = web.Application()
app.router.add_route("*", "/{tail:.*}", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def http_hello_per_s(requests: int = 3000) -> float:
    """Requests/s of a bare aiohttp server (see the module docstring)."""
    import subprocess

    from tests.support.net import free_port, wait_http_ok

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", HELLO, str(port)])
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/", timeout=20)

        async def run() -> float:
            async with aiohttp.ClientSession(
                    f"http://127.0.0.1:{port}",
                    connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as http:
                async def get(i: int) -> None:
                    async with http.get(f"/x/{i}") as r:
                        await r.read()
                return await _concurrently(requests, get)
        return round(asyncio.run(run()))
    finally:
        proc.terminate()
        proc.wait(10)


def ssl_context(kubeconfig: Path) -> ssl.SSLContext:
    ctx = load_kubeconfig(kubeconfig).ssl_context()
    assert ctx is not None
    return ctx


async def _concurrently(count: int, op: Any) -> float:
    counter = iter(range(count))

    async def worker() -> None:
        for i in counter:
            await op(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return count / (time.perf_counter() - started)


async def _namespace(url: str, kubeconfig: Path) -> None:
    connector = aiohttp.TCPConnector(ssl=ssl_context(kubeconfig))
    async with aiohttp.ClientSession(url, connector=connector) as http, \
            http.post("/api/v1/namespaces", json={"metadata": {"name": NS}}) as r:
        assert r.status == 201, await r.text()


async def throughput(url: str, kubeconfig: Path, *, creates: int, list_size: int
                     ) -> dict[str, Any]:
    ctx = ssl_context(kubeconfig)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY, ssl=ctx)
    async with aiohttp.ClientSession(url, connector=connector) as http:
        async with http.post("/api/v1/namespaces", json={"metadata": {"name": NS}}) as r:
            assert r.status == 201, await r.text()
        pods = f"/api/v1/namespaces/{NS}/pods"

        async def create(i: int) -> None:
            async with http.post(pods, data=orjson.dumps(pod(f"p{i:06d}")),
                                 headers={"Content-Type": "application/json"}) as r:
                assert r.status == 201, await r.text()
                await r.read()

        async def get(i: int) -> None:
            async with http.get(f"{pods}/p{i % creates:06d}") as r:
                assert r.status == 200
                await r.read()

        creates_per_s = await _concurrently(creates, create)
        gets_per_s = await _concurrently(creates, get)
        if list_size > creates:
            counter = iter(range(creates, list_size))

            async def fill() -> None:
                for i in counter:
                    await create(i)
            await asyncio.gather(*(fill() for _ in range(CONCURRENCY)))
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            async with http.get(pods) as r:
                body = await r.read()
            timings.append(time.perf_counter() - started)
        items = len(orjson.loads(body)["items"])
        assert items == max(list_size, creates), items
    return {"pod_creates_per_s": round(creates_per_s), "pod_gets_per_s": round(gets_per_s),
            f"list_{items}_pods_s": round(min(timings), 4)}


def _watch_process(url: str, kubeconfig: str, watchers: int, expected: int, ready: Any,
                   out: Any) -> None:
    """Child: open `watchers` watches, record per pod the last arrival among them."""
    async def main() -> dict[str, float]:
        ctx = ssl_context(Path(kubeconfig))
        last: dict[str, float] = {}
        seen: dict[str, int] = {}
        complete: dict[str, bool] = {}
        connector = aiohttp.TCPConnector(limit=0, ssl=ctx)
        timeout = aiohttp.ClientTimeout(total=None)
        async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as http:
            params = {"watch": "true", "labelSelector": "group=watch",
                      "resourceVersion": "0", "timeoutSeconds": "1800"}
            opening = asyncio.Semaphore(16)  # not a SYN flood: the listen backlog is finite

            async def open_watch() -> aiohttp.ClientResponse:
                async with opening:
                    return await http.get(f"/api/v1/namespaces/{NS}/pods", params=params)

            responses = await asyncio.gather(*(open_watch() for _ in range(watchers)))
            ready.set()
            done = asyncio.Event()

            async def read(response: aiohttp.ClientResponse) -> None:
                async for line in response.content:
                    now = time.monotonic()
                    event = orjson.loads(line)
                    if event["type"] != "ADDED":
                        continue
                    name = event["object"]["metadata"]["name"]
                    last[name] = now
                    seen[name] = seen.get(name, 0) + 1
                    complete[name] = seen[name] == watchers
                    if len(seen) == expected and all(v == watchers for v in seen.values()):
                        done.set()

            readers = [asyncio.create_task(read(r)) for r in responses]
            try:
                await asyncio.wait_for(done.wait(), 60)
            except TimeoutError:
                pass  # reported as missed deliveries
            finally:
                for t in readers:
                    t.cancel()
                for r in responses:
                    r.close()
        return {name: t for name, t in last.items() if complete.get(name)}

    out.put(asyncio.run(main()))


async def _paced_creates(url: str, kubeconfig: Path, count: int, interval: float
                         ) -> dict[str, float]:
    acked: dict[str, float] = {}
    connector = aiohttp.TCPConnector(ssl=ssl_context(kubeconfig))
    async with aiohttp.ClientSession(url, connector=connector) as http:
        for i in range(count):
            name = f"w{i:04d}"
            async with http.post(f"/api/v1/namespaces/{NS}/pods",
                                 data=orjson.dumps(pod(name, "watch")),
                                 headers={"Content-Type": "application/json"}) as r:
                assert r.status == 201, await r.text()
                await r.read()
                acked[name] = time.monotonic()
            await asyncio.sleep(interval)
    return acked


def watch_latency(url: str, kubeconfig: Path, *, watchers: int, events: int
                  ) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    procs, readies, outs = [], [], []
    per_proc = watchers // 2
    for _ in range(2):
        ready, out = ctx.Event(), ctx.Queue()
        p = ctx.Process(target=_watch_process,
                        args=(url, str(kubeconfig), per_proc, events, ready, out))
        p.start()
        procs.append(p)
        readies.append(ready)
        outs.append(out)
    for ready in readies:
        assert ready.wait(300), "watchers did not start"
    time.sleep(1.0)
    acked = asyncio.run(_paced_creates(url, kubeconfig, events, 0.05))
    results = [out.get(timeout=180) for out in outs]
    for p in procs:
        p.join(30)
    delivered = [name for name in acked if all(name in r for r in results)]
    latencies = sorted(max(r[name] for r in results) - acked[name] for name in delivered)
    ms = [round(x * 1000, 2) for x in latencies] or [float("nan")]
    return {"watchers": per_proc * 2, "events": len(acked),
            "not_delivered_to_all": len(acked) - len(delivered),
            "p50_ms": statistics.median(ms),
            "p99_ms": ms[min(len(ms) - 1, int(len(ms) * 0.99))], "max_ms": ms[-1]}


def bench_apiserver(directory: Path, store: str | None, args: argparse.Namespace
                    ) -> dict[str, Any]:
    server = ApiServer(directory, store=store).start()
    try:
        figures = asyncio.run(throughput(server.url, server.kubeconfig, creates=args.creates,
                                         list_size=args.list_size))
        figures["watch_latency"] = watch_latency(server.url, server.kubeconfig,
                                                 watchers=args.watchers, events=args.events)
        return figures
    finally:
        server.stop()


def _ratios(api: dict[str, Any], raw: dict[str, Any], hello: float) -> dict[str, float]:
    return {"creates_vs_raw": round(api["pod_creates_per_s"] / raw["creates_per_s"], 3),
            "gets_vs_raw": round(api["pod_gets_per_s"] / raw["gets_per_s"], 3),
            "gets_vs_http_hello": round(api["pod_gets_per_s"] / hello, 3),
            "creates_vs_http_hello": round(api["pod_creates_per_s"] / hello, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=5000)
    parser.add_argument("--list-size", type=int, default=10000)
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--no-etcd", action="store_true")
    parser.add_argument("--watch-only", action="store_true",
                        help="only the watch latency, on SQLite (quick to repeat)")
    args = parser.parse_args()
    if args.watch_only:
        with tempfile.TemporaryDirectory(prefix="kyb-bench-api-") as tmp:
            server = ApiServer(Path(tmp)).start()
            try:
                asyncio.run(_namespace(server.url, server.kubeconfig))
                print(json.dumps(watch_latency(server.url, server.kubeconfig,
                                               watchers=args.watchers, events=args.events),
                                 indent=2))
            finally:
                server.stop()
        return 0
    with tempfile.TemporaryDirectory(prefix="kyb-bench-api-") as tmp:
        base = Path(tmp)
        for name in ("baseline", "raw-sqlite", "raw-etcd", "api-sqlite", "api-etcd", "etcd"):
            (base / name).mkdir()
        report: dict[str, Any] = {"bench": "apiserver", "cpus": os.cpu_count(),
                                  "concurrency": CONCURRENCY,
                                  "baseline": {**baseline(base / "baseline"),
                                               "http_hello_per_s": http_hello_per_s()}}
        raw = bench_sqlite(base / "raw-sqlite", creates=args.creates)
        api = bench_apiserver(base / "api-sqlite", None, args)
        hello = report["baseline"]["http_hello_per_s"]
        report["sqlite"] = {"apiserver": api, "raw_store": raw, **_ratios(api, raw, hello)}
        if not args.no_etcd:
            from tests.support.etcd import Etcd, etcd_available
            if etcd_available():
                raw = bench_etcd(base / "raw-etcd", creates=args.creates)
                etcd = Etcd(base / "etcd").start()
                try:
                    api = bench_apiserver(base / "api-etcd", etcd.url, args)
                finally:
                    etcd.stop()
                assert raw is not None
                report["etcd"] = {"apiserver": api, "raw_store": raw,
                                  **_ratios(api, raw, hello)}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
