"""API server write/read throughput under ``wrk``, beside a bare aiohttp server and raw etcd.

Run from the repo root: ``.venv/bin/python bench/apiserver.py [--no-etcd]
[--rounds N] [--seconds S] [--throughput-only]``. Needs Debian's ``wrk`` (a C load
generator, so the client is not the bottleneck). Prints one JSON object.

Throughput (``wrk -t1 -c64``, each phase ``--seconds`` long, rounds interleaved):

- ``creates``: POST of a small pod, a unique name per request (a Lua script);
- ``gets``: GET of 1,000 of the created pods in turn;
- ``baseline``: a bare do-nothing aiohttp server over TLS (the API server's own
  certificate) answering the same POSTs and GETs with a fixed body, started in the
  same run: the ceiling any Python HTTP server reaches on this machine now;
- per backend (sqlite; etcd when installed) a real ``kyb apiserver`` process,
  authenticated with a static bearer token of ``system:masters``;
- over etcd also ``raw_etcd_puts``: wrk's unique-key puts through etcd's own JSON
  gateway (``/v3/kv/put``) with a value the size of the pod.

Each figure is requests/s with wrk's p50/p99 latency and ``server_cpu_us``, the
server process's CPU (all threads) per request; the ratios are creates and GETs over
the baseline's (and creates over raw etcd puts), one per round, by throughput and
(``_by_cpu``) by the baseline's CPU per request over the API server's: what the
throughput ratio would be on an otherwise idle machine, and much steadier than it
when other work shares the cores.

Then (unless ``--throughput-only``): ``list_10000_pods_s``, one unpaged LIST of
10,000 pods (best of 3), and ``watch_latency_ms``: p50/p99 over paced creates of
the time from a create's acknowledgement to its event reaching *every* one of
1,000 open watches (the watchers run in two child processes; times are
CLOCK_MONOTONIC, shared by all processes).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import os
import re
import secrets
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.apiserver import ApiServer  # noqa: E402
from tests.support.net import free_port, wait_http_ok  # noqa: E402

from kybernetes.client.kubeconfig import load_kubeconfig  # noqa: E402

CONCURRENCY = 64
NS = "bench"
TOKEN = secrets.token_hex(16)


def pod(name: str, group: str = "load") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "bench", "group": group}},
            "spec": {"containers": [{"name": "c", "image": "busybox",
                                     "command": ["sleep", "3600"],
                                     "resources": {"requests": {"cpu": "10m"}}}]}}


BARE = """
import ssl, sys
from aiohttp import web
async def answer(request):
    await request.read()
    status = 201 if request.method == "POST" else 200
    return web.Response(status=status, body=b'{"kind":"Pod"}', content_type="application/json")
app = web.Application()
app.router.add_route("*", "/{tail:.*}", answer)
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), ssl_context=ctx, access_log=None,
            print=None)
"""


class BareServer:
    """The do-nothing aiohttp server over TLS: the same run's ceiling for Python HTTP."""

    def __init__(self, pki: Path) -> None:
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-c", BARE, str(self.port),
                                      str(pki / "apiserver.crt"), str(pki / "apiserver.key")])
        wait_http_ok(f"{self.url}/", timeout=20)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _lua_str(text: str) -> str:
    return f"[==[{text}]==]"


def create_script(path: str, headers: dict[str, str]) -> str:
    """Lua: POST a pod named ``<run>-<thread>-<n>``, unique per request."""
    run = f"b{secrets.token_hex(3)}"
    head, tail = orjson.dumps(pod("NAME")).decode().split("NAME")
    return f"""
local n = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function request()
  n = n + 1
  local body = {_lua_str(head)} .. "{run}-" .. tid .. "-" .. n .. {_lua_str(tail)}
  return wrk.format("POST", {_lua_str(path)}, {_lua_table(headers)}, body)
end
"""


def get_script(paths: list[str], headers: dict[str, str]) -> str:
    """Lua: GET the given paths in turn."""
    table = ", ".join(_lua_str(p) for p in paths)
    return f"""
local paths = {{{table}}}
local n = 0
function request()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1], {_lua_table(headers)})
end
"""


def etcd_put_script(value: bytes) -> str:
    """Lua: unique-key puts through etcd's JSON gateway. Keys are a 12-byte prefix and a
    9-digit counter, so their base64 is the prefix's and three looked-up digit groups'."""
    prefix = f"/bench/{secrets.token_hex(3)}"[:12].ljust(12, "x").encode()
    groups = ", ".join(f'"{base64.b64encode(f"{i:03d}".encode()).decode()}"'
                       for i in range(1000))
    head = '{"key":"' + base64.b64encode(prefix).decode()
    tail = '","value":"' + base64.b64encode(value).decode() + '"}'
    return f"""
local g = {{{groups}}}
local n = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function request()
  n = n + 1
  local k = tid * 100000000 + n
  local body = {_lua_str(head)} .. g[math.floor(k / 1000000) % 1000 + 1]
    .. g[math.floor(k / 1000) % 1000 + 1] .. g[k % 1000 + 1] .. {_lua_str(tail)}
  return wrk.format("POST", "/v3/kv/put", {{["Content-Type"] = "application/json"}}, body)
end
"""


def _lua_table(headers: dict[str, str]) -> str:
    return "{" + ", ".join(f"[ {_lua_str(k)} ] = {_lua_str(v)}" for k, v in headers.items()) + "}"


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process `pid` (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, script: str, workdir: Path, *, seconds: int, pid: int,
        connections: int = CONCURRENCY) -> dict[str, Any]:
    """One wrk run of `script` against `url`: requests/s, p50/p99 ms, non-2xx count, and
    the server's (`pid`) CPU per request, which other load on the machine changes least."""
    lua = workdir / f"wrk-{secrets.token_hex(4)}.lua"
    lua.write_text(script)
    argv = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency",
            "--timeout", "10s", "-s", str(lua), url]
    cpu = cpu_seconds(pid)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    cpu = cpu_seconds(pid) - cpu
    text = out.stdout
    if out.stderr.strip():  # a Lua error: wrk would go on with its default request
        raise RuntimeError(f"wrk: {out.stderr}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p50 = re.search(r"50%\s+([\d.]+)(\w+)", text)
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", text)
    if not (rps and p50 and p99):
        raise RuntimeError(f"wrk output not understood:\n{text}\n{out.stderr}")
    requests = re.search(r"(\d+) requests in", text)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    return {"per_s": round(float(rps.group(1))),
            "p50_ms": round(float(p50.group(1)) * _UNITS[p50.group(2)], 2),
            "p99_ms": round(float(p99.group(1)) * _UNITS[p99.group(2)], 2),
            "server_cpu_us": round(cpu * 1e6 / max(1, int(requests.group(1)) if requests else 1)),
            **({"non_2xx": int(bad.group(1))} if bad else {}),
            **({"socket_errors": errors.group(1).strip()} if errors else {})}


def ssl_context(kubeconfig: Path) -> ssl.SSLContext:
    ctx = load_kubeconfig(kubeconfig).ssl_context()
    assert ctx is not None
    return ctx


async def _namespace(url: str, kubeconfig: Path) -> None:
    connector = aiohttp.TCPConnector(ssl=ssl_context(kubeconfig))
    async with aiohttp.ClientSession(url, connector=connector) as http, \
            http.post("/api/v1/namespaces", json={"metadata": {"name": NS}}) as r:
        assert r.status == 201, await r.text()


async def _pod_names(url: str, kubeconfig: Path, limit: int) -> list[str]:
    connector = aiohttp.TCPConnector(ssl=ssl_context(kubeconfig))
    async with aiohttp.ClientSession(url, connector=connector) as http, \
            http.get(f"/api/v1/namespaces/{NS}/pods", params={"limit": str(limit)}) as r:
        return [p["metadata"]["name"] for p in (await r.json())["items"]]


def _ratio(a: dict[str, Any], b: dict[str, Any]) -> float:
    return round(a["per_s"] / b["per_s"], 3)


def _cpu_ratio(a: dict[str, Any], b: dict[str, Any]) -> float:
    """b's server CPU per request over a's: the throughput ratio on an idle machine."""
    return round(b["server_cpu_us"] / max(1, a["server_cpu_us"]), 3)


def throughput(server: ApiServer, bare: BareServer, workdir: Path, *, rounds: int,
               seconds: int, raw_etcd: RawEtcd | None = None) -> dict[str, Any]:
    """Interleaved wrk rounds: creates and GETs against `server` and `bare`."""
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    pods = f"/api/v1/namespaces/{NS}/pods"
    result: dict[str, list[Any]] = {"api_creates": [], "bare_creates": [], "api_gets": [],
                                    "bare_gets": [], "creates_vs_bare": [],
                                    "gets_vs_bare": [], "creates_vs_bare_by_cpu": [],
                                    "gets_vs_bare_by_cpu": []}
    if raw_etcd:
        result |= {"raw_etcd_puts": [], "creates_vs_raw_etcd": []}
    value = orjson.dumps(pod("p" * 20)) * 2  # about a stored pod's size
    assert server.proc is not None and server.proc.popen is not None
    api_pid, bare_pid = server.proc.popen.pid, bare.proc.pid
    for _ in range(rounds):
        bare_c = wrk(bare.url, create_script(pods, auth), workdir, seconds=seconds, pid=bare_pid)
        api_c = wrk(server.url, create_script(pods, auth), workdir, seconds=seconds, pid=api_pid)
        names = asyncio.run(_pod_names(server.url, server.kubeconfig, 1000))
        paths = [f"{pods}/{name}" for name in names]
        bare_g = wrk(bare.url, get_script(paths, auth), workdir, seconds=seconds, pid=bare_pid)
        api_g = wrk(server.url, get_script(paths, auth), workdir, seconds=seconds, pid=api_pid)
        result["api_creates"].append(api_c)
        result["bare_creates"].append(bare_c)
        result["api_gets"].append(api_g)
        result["bare_gets"].append(bare_g)
        result["creates_vs_bare"].append(_ratio(api_c, bare_c))
        result["gets_vs_bare"].append(_ratio(api_g, bare_g))
        result["creates_vs_bare_by_cpu"].append(_cpu_ratio(api_c, bare_c))
        result["gets_vs_bare_by_cpu"].append(_cpu_ratio(api_g, bare_g))
        if raw_etcd:
            raw = wrk(raw_etcd.url, etcd_put_script(value), workdir, seconds=seconds,
                      pid=raw_etcd.pid)
            result["raw_etcd_puts"].append(raw)
            result["creates_vs_raw_etcd"].append(_ratio(api_c, raw))
    return result


async def list_pods(url: str, kubeconfig: Path, *, list_size: int) -> dict[str, Any]:
    """Fill a namespace of its own with `list_size` pods (the wrk phases leave however
    many they made in theirs), then time unpaged LISTs of it (best of 3)."""
    ctx = ssl_context(kubeconfig)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY, ssl=ctx)
    pods = f"/api/v1/namespaces/{NS}-list/pods"
    async with aiohttp.ClientSession(url, connector=connector) as http:
        async with http.post("/api/v1/namespaces", json={"metadata": {"name": f"{NS}-list"}}
                             ) as r:
            assert r.status == 201, await r.text()
        counter = iter(range(list_size))

        async def fill() -> None:
            for i in counter:
                async with http.post(pods, data=orjson.dumps(pod(f"f{i:06d}")),
                                     headers={"Content-Type": "application/json"}) as r:
                    assert r.status == 201, await r.text()
        await asyncio.gather(*(fill() for _ in range(CONCURRENCY)))
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            async with http.get(pods) as r:
                data = await r.read()
            timings.append(time.perf_counter() - started)
        items = len(orjson.loads(data)["items"])
    return {f"list_{items}_pods_s": round(min(timings), 4)}


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


class RawEtcd(NamedTuple):
    """etcd's JSON gateway and the etcd process (for its CPU)."""

    url: str
    pid: int


def bench_apiserver(directory: Path, store: str | None, args: argparse.Namespace,
                    raw_etcd: RawEtcd | None = None) -> dict[str, Any]:
    directory.mkdir()
    tokens = directory / "tokens.csv"
    tokens.write_text(f'{TOKEN},bench-admin,bench-admin,"system:masters"\n')
    server = ApiServer(directory / "data", store=store,
                       extra_args=("--token-auth-file", str(tokens))).start()
    bare = BareServer(directory / "data" / "pki")
    try:
        asyncio.run(_namespace(server.url, server.kubeconfig))
        figures = throughput(server, bare, directory, rounds=args.rounds, seconds=args.seconds,
                             raw_etcd=raw_etcd)
        if not args.throughput_only:
            figures |= asyncio.run(list_pods(server.url, server.kubeconfig,
                                             list_size=args.list_size))
            figures["watch_latency"] = watch_latency(server.url, server.kubeconfig,
                                                     watchers=args.watchers,
                                                     events=args.events)
        return figures
    finally:
        bare.stop()
        server.stop()


def _raw_etcd(etcd: Any) -> RawEtcd:
    assert etcd.proc is not None and etcd.proc.popen is not None
    return RawEtcd(f"http://{etcd.endpoint}", etcd.proc.popen.pid)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="length of each wrk phase")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--list-size", type=int, default=10000)
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--no-etcd", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--throughput-only", action="store_true",
                        help="only the wrk figures (quick to repeat)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench/apiserver.py needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    report: dict[str, Any] = {"bench": "apiserver", "cpus": os.cpu_count(),
                              "concurrency": CONCURRENCY, "seconds": args.seconds,
                              "load_average": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="kyb-bench-api-") as tmp:
        base = Path(tmp)
        if not args.no_sqlite:
            report["sqlite"] = bench_apiserver(base / "api-sqlite", None, args)
        if not args.no_etcd:
            from tests.support.etcd import Etcd, etcd_available
            if etcd_available():
                (base / "etcd").mkdir()
                etcd = Etcd(base / "etcd").start()
                try:
                    report["etcd"] = bench_apiserver(base / "api-etcd", etcd.url, args,
                                                     raw_etcd=_raw_etcd(etcd))
                finally:
                    etcd.stop()
    report["load_average_after"] = os.getloadavg()[0]
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
