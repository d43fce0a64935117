"""What the audit log costs: ConfigMap creates/s with auditing at Metadata (and at
RequestResponse) against the same server binary without auditing.

Run from the repo root: ``.venv/bin/python bench/audit.py [--seconds 5]``. Prints one
JSON object. Three real ``kyb apiserver`` processes (SQLite) run side by side: one
without audit flags, one with a catch-all ``level: Metadata`` policy, one with
``level: RequestResponse``, each writing its log to a file in a temp dir. In each of
``--rounds`` rounds, ``--workers`` clients on keep-alive connections create ConfigMaps
(~15 keys) with fresh names on each server in turn for ``--seconds``; each rate is
the best of its rounds (interleaving spreads other load over all three).

- ``configmap_creates_per_s``: without auditing (the baseline);
- ``metadata_creates_per_s``, ``metadata_to_none``: at Metadata, and the ratio;
- ``request_response_creates_per_s``, ``request_response_to_none``: the same with
  both bodies logged;
- ``cpu_ms_per_create``: the API server process's CPU time (user + system, its log
  writer thread included) over its creates, per server; ``metadata_cpu_ratio`` and
  ``request_response_cpu_ratio`` against the unaudited one. On a loaded machine
  these are the steadier figures: throughput moves with other load, CPU per
  request much less;
- ``audit_log_bytes_per_create``: the Metadata log's size over its creates.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.apiserver import ssl_context  # noqa: E402
from bench.custom_resources import configmap  # noqa: E402
from bench.server_side_apply import arguments, rate  # noqa: E402
from tests.support.apiserver import ApiServer  # noqa: E402

NS = "bench"
POLICY = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: {level}\n"
LEVELS = {"none": None, "metadata": "Metadata", "request_response": "RequestResponse"}


def cpu_seconds(server: ApiServer) -> float:
    """User + system CPU time of the server process so far (Linux /proc)."""
    assert server.proc is not None and server.proc.popen is not None
    fields = Path(f"/proc/{server.proc.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(tmp: Path, name: str, level: str | None) -> ApiServer:
    args: tuple[str, ...] = ()
    if level is not None:
        policy = tmp / f"{name}-policy.yaml"
        policy.write_text(POLICY.format(level=level))
        args = ("--audit-policy-file", str(policy),
                "--audit-log-path", str(tmp / f"{name}-audit.log"))
    return ApiServer(tmp / name, extra_args=args).start()


async def creates_per_s(server: ApiServer, *, workers: int, seconds: float,
                        names: Any) -> float:
    connector = aiohttp.TCPConnector(limit=workers, ssl=ssl_context(server.kubeconfig))
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(server.url, connector=connector,
                                     headers=headers) as http:
        async def create(_: int) -> None:
            body = orjson.dumps(configmap(f"cm{next(names)}"))
            async with http.post(f"/api/v1/namespaces/{NS}/configmaps", data=body) as r:
                text = await r.read()
                assert r.status == 201, text

        return await rate([create for _ in range(workers)], seconds)


async def namespace(server: ApiServer) -> None:
    connector = aiohttp.TCPConnector(ssl=ssl_context(server.kubeconfig))
    async with aiohttp.ClientSession(server.url, connector=connector) as http, \
            http.post("/api/v1/namespaces", json={"metadata": {"name": NS}}) as r:
        assert r.status == 201, await r.text()


def main() -> int:
    args = arguments(__doc__ or "").parse_args()
    with tempfile.TemporaryDirectory(prefix="kyb-bench-audit-") as tmp, \
            contextlib.ExitStack() as stack:
        servers = {}
        for name, level in LEVELS.items():
            servers[name] = start(Path(tmp), name, level)
            stack.callback(servers[name].stop)
        best = dict.fromkeys(LEVELS, 0.0)
        counters = {name: itertools.count() for name in LEVELS}  # fresh names per server
        cpu = dict.fromkeys(LEVELS, 0.0)

        async def run() -> None:
            for server in servers.values():
                await namespace(server)
            for _ in range(args.rounds):
                for name, server in servers.items():
                    before = cpu_seconds(server)
                    best[name] = max(best[name], await creates_per_s(
                        server, workers=args.workers, seconds=args.seconds,
                        names=counters[name]))
                    await asyncio.sleep(0.2)  # let the log writer catch up
                    cpu[name] += cpu_seconds(server) - before

        asyncio.run(run())
        for server in servers.values():
            server.stop()  # the log is complete once the server has stopped
        log_bytes = (Path(tmp) / "metadata-audit.log").stat().st_size
        creates = {name: next(counter) for name, counter in counters.items()}
    per_create = {name: 1000 * cpu[name] / creates[name] for name in LEVELS}
    base = best["none"]
    print(json.dumps({
        "bench": "audit", "cpus": os.cpu_count(), "store": "sqlite", "workers": args.workers,
        "configmap_creates_per_s": round(base),
        "metadata_creates_per_s": round(best["metadata"]),
        "metadata_to_none": round(best["metadata"] / base, 3),
        "request_response_creates_per_s": round(best["request_response"]),
        "request_response_to_none": round(best["request_response"] / base, 3),
        "cpu_ms_per_create": {name: round(ms, 3) for name, ms in per_create.items()},
        "metadata_cpu_ratio": round(per_create["metadata"] / per_create["none"], 3),
        "request_response_cpu_ratio": round(per_create["request_response"]
                                            / per_create["none"], 3),
        "audit_log_bytes_per_create": round(log_bytes / creates["metadata"]),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
