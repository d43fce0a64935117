"""Custom resources against ConfigMaps on the same API server, and CRD → Established time.

Run from the repo root: ``.venv/bin/python bench/custom_resources.py [--seconds 5]``.
Prints one JSON object. A real ``kyb apiserver`` (SQLite) is started and a CRD
registered whose schema has ~20 fields (types, enum, pattern, bounds, defaults, a
list-map, a set) and two CEL rules. Then ``--workers`` clients, each on its own
keep-alive connection, create objects with fresh names in a loop:

- ``configmap_creates_per_s``: ConfigMaps of about the same size (the baseline);
- ``custom_resource_creates_per_s``: custom resources (pruned, defaulted,
  validated with the two rules);

``custom_to_configmap`` is their ratio (the aim: ≥ 0.8); each rate is the best of
``--rounds`` interleaved runs. The clients share the machine's cores with the server,
so the rates also measure the clients; ``server_cpu_us_per_create`` is the server's
own CPU per create of each (its ``process_cpu_seconds_total`` over all rounds), and
``server_cpu_ratio`` the ConfigMap's over the custom resource's, the server-side
counterpart of ``custom_to_configmap``. ``crd_established_ms`` is, over ``--crds`` new
CRDs, the time from the create's response until a GET shows Established (aim:
≤ 1 s), as p50 and max.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.apiserver import ssl_context  # noqa: E402
from bench.server_side_apply import Step, arguments, rate, run_on_apiserver  # noqa: E402

NS = "bench"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
CONFIGMAPS = f"/api/v1/namespaces/{NS}/configmaps"
WIDGETS = f"/apis/bench.kyb.io/v1/namespaces/{NS}/widgets"


def crd(plural: str, kind: str) -> dict[str, Any]:
    string = {"type": "string", "maxLength": 63}
    spec = {
        "type": "object", "required": ["image", "replicas"],
        "x-kubernetes-validations": [
            {"rule": "self.replicas <= self.maxReplicas", "message": "too many replicas"},
            {"rule": "self.tier != 'gold' || self.replicas >= 2",
             "message": "gold needs two replicas"}],
        "properties": {
            "image": {"type": "string", "pattern": "^[a-z0-9./:-]+$"},
            "replicas": {"type": "integer", "minimum": 0},
            "maxReplicas": {"type": "integer", "maximum": 100, "default": 10},
            "tier": {"type": "string", "enum": ["bronze", "silver", "gold"],
                     "default": "bronze"},
            "owner": string, "team": string, "region": string, "zone": string,
            "paused": {"type": "boolean", "default": False},
            "weight": {"type": "number", "minimum": 0},
            "timeoutSeconds": {"type": "integer", "default": 30},
            "schedule": string, "description": {"type": "string", "maxLength": 256},
            "tags": {"type": "array", "items": string, "x-kubernetes-list-type": "set"},
            "ports": {"type": "array", "x-kubernetes-list-type": "map",
                      "x-kubernetes-list-map-keys": ["name"],
                      "items": {"type": "object", "required": ["name"], "properties": {
                          "name": string, "port": {"type": "integer", "maximum": 65535},
                          "protocol": {"type": "string", "default": "TCP"}}}},
            "env": {"type": "object", "additionalProperties": {"type": "string"}},
            "resources": {"type": "object", "properties": {
                "cpu": {"x-kubernetes-int-or-string": True},
                "memory": {"x-kubernetes-int-or-string": True}}},
        },
    }
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.bench.kyb.io"},
            "spec": {"group": "bench.kyb.io", "scope": "Namespaced",
                     "names": {"plural": plural, "kind": kind},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "subresources": {"status": {}},
                                   "schema": {"openAPIV3Schema": {
                                       "type": "object", "properties": {"spec": spec}}}}]}}


def widget(name: str) -> dict[str, Any]:
    return {"apiVersion": "bench.kyb.io/v1", "kind": "Widget", "metadata": {"name": name},
            "spec": {"image": "registry.local/web:1.2", "replicas": 3, "tier": "gold",
                     "owner": "alice", "team": "web", "region": "eu", "zone": "eu-1",
                     "weight": 1.5, "schedule": "@hourly", "description": "a widget",
                     "tags": ["a", "b"], "env": {"MODE": "prod", "LEVEL": "info"},
                     "ports": [{"name": "http", "port": 8080}, {"name": "admin", "port": 9090}],
                     "resources": {"cpu": "100m", "memory": "64Mi"}}}


def configmap(name: str) -> dict[str, Any]:
    """About the same number of bytes and keys as a widget."""
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": {k: str(v) for k, v in widget(name)["spec"].items()}}


async def established_ms(http: aiohttp.ClientSession, count: int) -> list[float]:
    times = []
    for i in range(count):
        body = crd(f"things{i}", f"Thing{i}")
        async with http.post(CRDS, data=orjson.dumps(body)) as r:
            assert r.status == 201, await r.text()
        started = time.perf_counter()
        while True:
            async with http.get(f"{CRDS}/things{i}.bench.kyb.io") as r:
                got = await r.json()
            if any(c["type"] == "Established" and c["status"] == "True"
                   for c in got.get("status", {}).get("conditions", [])):
                break
            await asyncio.sleep(0.002)
        times.append((time.perf_counter() - started) * 1000)
    return times


async def server_cpu(http: aiohttp.ClientSession) -> float:
    """The API server's process_cpu_seconds_total."""
    async with http.get("/metrics") as r:
        text = await r.text()
    return float(next(line.split()[1] for line in text.splitlines()
                      if line.startswith("process_cpu_seconds_total ")))


async def measure(url: str, kubeconfig: Path, *, workers: int, seconds: float, rounds: int,
                  crds: int) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=workers, ssl=ssl_context(kubeconfig))
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(url, connector=connector, headers=headers) as http:
        async with http.post("/api/v1/namespaces", json={"metadata": {"name": NS}}) as r:
            assert r.status == 201, await r.text()
        ready = await established_ms(http, crds)
        async with http.post(CRDS, data=orjson.dumps(crd("widgets", "Widget"))) as r:
            assert r.status == 201, await r.text()
        await asyncio.sleep(0.5)
        names = itertools.count()

        def creator(path: str, make: Any) -> Step:
            async def create(_: int) -> None:
                body = orjson.dumps(make(f"o{next(names)}"))
                async with http.post(path, data=body) as r:
                    text = await r.read()
                    assert r.status == 201, text
            return create

        best = {"configmap_creates_per_s": 0.0, "custom_resource_creates_per_s": 0.0}
        cpu = {"configmap": 0.0, "custom_resource": 0.0}  # server CPU-seconds, all rounds
        made = {"configmap": 0, "custom_resource": 0}
        for _ in range(rounds):
            for key, path, make in (("configmap", CONFIGMAPS, configmap),
                                    ("custom_resource", WIDGETS, widget)):
                before, first = await server_cpu(http), next(names)
                per_s = await rate([creator(path, make) for _ in range(workers)], seconds)
                cpu[key] += await server_cpu(http) - before
                made[key] += next(names) - first - 1
                best[f"{key}_creates_per_s"] = max(best[f"{key}_creates_per_s"], per_s)
    figures: dict[str, Any] = {k: round(v, 1) for k, v in best.items()}
    per_create = {k: cpu[k] / made[k] * 1e6 for k in cpu}
    figures["server_cpu_us_per_create"] = {k: round(v) for k, v in per_create.items()}
    figures["server_cpu_ratio"] = round(per_create["configmap"]
                                        / per_create["custom_resource"], 2)
    figures["custom_to_configmap"] = round(best["custom_resource_creates_per_s"]
                                           / best["configmap_creates_per_s"], 2)
    figures["crd_established_ms"] = {"p50": round(statistics.median(ready), 1),
                                     "max": round(max(ready), 1), "count": len(ready)}
    return figures


def main() -> int:
    parser = arguments(__doc__ or "")
    parser.add_argument("--crds", type=int, default=10)
    args = parser.parse_args()
    run_on_apiserver("custom_resources", args.workers, lambda url, kubeconfig: measure(
        url, kubeconfig, workers=args.workers, seconds=args.seconds, rounds=args.rounds,
        crds=args.crds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
