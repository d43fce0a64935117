"""Server-side apply against plain updates of the same Deployments, over HTTPS.

Run from the repo root: ``.venv/bin/python bench/server_side_apply.py [--seconds 5]``.
Prints one JSON object. A real ``kyb apiserver`` (SQLite) is started; each of
``--workers`` clients owns one Deployment (two containers, ports, env, probes) on
its own keep-alive connection, so no write ever conflicts, and writes it in a loop:

- ``put_per_s``: GET once, then PUT the object back with a new value of its own
  annotation (so the applier never conflicts with it) and the resourceVersion the
  last PUT returned (what a controller's update does);
- ``apply_per_s``: PATCH ``application/apply-patch+yaml`` (JSON body, as kubectl,
  Helm 4 and client-go send it) of the whole config with a new annotation value;
- ``apply_unchanged_per_s``: the same config again (a no-op apply: nothing stored).

``apply_to_put`` is the ratio of the two changing rates (the aim: ≥ 0.5). Each rate
is the best of ``--rounds`` runs, phases interleaved, so load from elsewhere on the
machine hurts both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.apiserver import ssl_context  # noqa: E402
from tests.support.apiserver import ApiServer  # noqa: E402

NS = "bench"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"
APPLY = {"Content-Type": "application/apply-patch+yaml"}


def container(name: str, image: str, port: int) -> dict[str, Any]:
    return {
        "name": name, "image": image, "args": ["--port", str(port)],
        "ports": [{"containerPort": port, "name": "http"}],
        "env": [{"name": "MODE", "value": "prod"}, {"name": "LEVEL", "value": "info"}],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": port}},
    }


def config(name: str, revision: int) -> dict[str, Any]:
    """The applied Deployment; `revision` is the one field that changes."""
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": name},
                     "annotations": {"bench/revision": str(revision)}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container("web", "nginx:1.27", 8080),
                                        container("sidecar", "envoy:1.30", 9090)]},
            },
        },
    }


Step = Callable[[int], Awaitable[None]]


async def rate(steps: list[Step], seconds: float) -> float:
    """Writes per second of all workers together, each running its step in a loop."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def loop(step: Step) -> None:
        nonlocal done
        i = 0
        while time.perf_counter() < deadline:
            i += 1
            await step(i)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop(step) for step in steps))
    return done / (time.perf_counter() - started)


class Worker:
    """One client and its Deployment."""

    def __init__(self, http: aiohttp.ClientSession, name: str) -> None:
        self.http, self.name = http, name
        self.revision = 0

    async def request(self, method: str, path: str, body: Any, **kw: Any) -> dict[str, Any]:
        async with self.http.request(method, path, data=orjson.dumps(body), **kw) as r:
            text = await r.read()
            assert r.status in (200, 201), text
            result: dict[str, Any] = orjson.loads(text)
            return result

    async def create(self) -> None:
        await self.request("PATCH", f"{DEPLOYMENTS}/{self.name}?fieldManager=bench",
                           config(self.name, 0), headers=APPLY)

    async def apply(self, _: int) -> None:
        self.revision += 1
        await self.request("PATCH", f"{DEPLOYMENTS}/{self.name}?fieldManager=bench",
                           config(self.name, self.revision), headers=APPLY)

    async def apply_unchanged(self, _: int) -> None:
        await self.request("PATCH", f"{DEPLOYMENTS}/{self.name}?fieldManager=bench",
                           config(self.name, self.revision), headers=APPLY)

    async def put_loop(self) -> Step:
        async with self.http.get(f"{DEPLOYMENTS}/{self.name}") as r:
            obj = await r.json()

        async def put(_: int) -> None:
            nonlocal obj
            self.revision += 1
            obj["metadata"]["annotations"]["bench/put"] = str(self.revision)
            obj = await self.request("PUT", f"{DEPLOYMENTS}/{self.name}", obj,
                                     headers={"Content-Type": "application/json"})

        return put


async def measure(url: str, kubeconfig: Path, *, workers: int, seconds: float,
                  rounds: int) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=workers, ssl=ssl_context(kubeconfig))
    async with aiohttp.ClientSession(url, connector=connector) as http:
        async with http.post("/api/v1/namespaces", json={"metadata": {"name": NS}}) as r:
            assert r.status == 201, await r.text()
        pool = [Worker(http, f"web-{i}") for i in range(workers)]
        await asyncio.gather(*(w.create() for w in pool))
        best = {"put_per_s": 0.0, "apply_per_s": 0.0, "apply_unchanged_per_s": 0.0}
        for _ in range(rounds):
            puts = await asyncio.gather(*(w.put_loop() for w in pool))
            best["put_per_s"] = max(best["put_per_s"], await rate(puts, seconds))
            best["apply_per_s"] = max(best["apply_per_s"],
                                      await rate([w.apply for w in pool], seconds))
            best["apply_unchanged_per_s"] = max(
                best["apply_unchanged_per_s"],
                await rate([w.apply_unchanged for w in pool], seconds))
    figures: dict[str, Any] = {k: round(v, 1) for k, v in best.items()}
    figures["apply_to_put"] = round(best["apply_per_s"] / best["put_per_s"], 2)
    return figures


def arguments(doc: str) -> argparse.ArgumentParser:
    """The flags the write benchmarks share."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per phase and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=8)
    return parser


def run_on_apiserver(name: str, workers: int,
                     measure_on: Callable[[str, Path], Coroutine[Any, Any, dict[str, Any]]]
                     ) -> None:
    """Start a kyb apiserver (SQLite) in a temp dir, measure, print the JSON report."""
    with tempfile.TemporaryDirectory(prefix=f"kyb-bench-{name}-") as tmp:
        server = ApiServer(Path(tmp)).start()
        try:
            figures = asyncio.run(measure_on(server.url, server.kubeconfig))
        finally:
            server.stop()
    print(json.dumps({"bench": name, "cpus": os.cpu_count(), "store": "sqlite",
                      "workers": workers, **figures}))


def main() -> int:
    args = arguments(__doc__ or "").parse_args()
    run_on_apiserver("server_side_apply", args.workers, lambda url, kubeconfig: measure(
        url, kubeconfig, workers=args.workers, seconds=args.seconds, rounds=args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
