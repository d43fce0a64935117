"""`kubectl top pods` latency on 100 pods spread over fake-runtime kubelets.

Run from the repo root: ``.venv/bin/python bench/top.py [--pods 100] [--nodes 4]``.

An API server and `--nodes` real `kyb kubelet --runtime fake` processes (each
serving /stats/summary with synthetic usage) run `--pods` pods. Reported, in ms:

- ``cold``: `kubectl top pods -A` right after the metrics cache expired, so the
  API server scrapes every kubelet (median of 3, 16 s apart);
- ``warm``: the same within the 15 s cache (median and max of the 4 after each cold one);
- ``kubectl_get_pods``: `kubectl get pods -A` in the same run, the floor that
  kubectl's own start-up sets.

Aim: cold <= 1000 ms. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.kubelet import KYB, _free_port, _start, _stop  # noqa: E402

from kybernetes.api.errors import ApiError  # noqa: E402
from kybernetes.api.resources import NAMESPACES, NODES, PODS  # noqa: E402
from kybernetes.client import ApiClient  # noqa: E402


def _timed(kubectl: list[str], *args: str) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run([*kubectl, *args], capture_output=True, text=True, timeout=60)
    elapsed = (time.perf_counter() - t) * 1000
    if out.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {out.stderr}")
    return elapsed, out.stdout


async def _until(check: Any, limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"timed out waiting for {what}")


async def main(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="kyb-bench-top-"))
    port = _free_port()
    procs = [_start([*KYB, "apiserver", "--data-dir", str(work / "api"), "--bind-address",
                     "127.0.0.1", "--port", str(port)], work / "apiserver.log")]
    kubeconfig = work / "api" / "kubeconfig"
    kubectl = [shutil.which("kubectl") or "kubectl", "--kubeconfig", str(kubeconfig)]
    try:
        for _ in range(300):
            if kubeconfig.exists():
                break
            await asyncio.sleep(0.1)
        client = ApiClient.from_kubeconfig(kubeconfig)

        async def api_up() -> bool:
            try:
                await client.list(NODES)
                return True
            except (ApiError, OSError):
                return False

        await _until(api_up, 30, "the API server")
        names = [f"fake-{i}" for i in range(args.nodes)]
        for name in names:
            procs.append(_start([*KYB, "kubelet", "--kubeconfig", str(kubeconfig),
                                 "--node-name", name, "--runtime", "fake", "--root-dir",
                                 str(work / name), "--port", str(_free_port()),
                                 "--address", "127.0.0.1", "--node-ip", "127.0.0.1"],
                                work / f"{name}.log"))
        await client.create(NAMESPACES, {"metadata": {"name": "top"}})
        for i in range(args.pods):
            await client.create(PODS, {"metadata": {"name": f"p{i}"}, "spec": {
                "nodeName": names[i % len(names)],
                "containers": [{"name": "c", "image": "x"}]}}, namespace="top")

        async def all_running() -> bool:
            pods = (await client.list(PODS, namespace="top"))["items"]
            return sum((p.get("status") or {}).get("phase") == "Running" for p in pods) \
                == args.pods

        await _until(all_running, 120, "every pod Running")
        await client.aclose()

        def top() -> tuple[float, int]:
            ms, out = _timed(kubectl, "top", "pods", "-A", "--no-headers")
            return ms, len(out.splitlines())

        deadline = time.monotonic() + 60
        while top()[1] < args.pods and time.monotonic() < deadline:
            time.sleep(16)  # the cache may hold a scrape from before the last pods ran
        cold, warm, rows = [], [], 0
        for _ in range(3):
            time.sleep(16)  # past the 15 s resolution: the next request scrapes
            ms, rows = top()
            cold.append(ms)
            for _ in range(4):
                warm.append(top()[0])
        floor = statistics.median(_timed(kubectl, "get", "pods", "-A")[0] for _ in range(5))
        return {"pods": args.pods, "nodes": args.nodes, "rows": rows,
                "cold_ms": round(statistics.median(cold), 1),
                "warm_ms_p50": round(statistics.median(warm), 1),
                "warm_ms_max": round(max(warm), 1),
                "kubectl_get_pods_ms": round(floor, 1), "aim_cold_ms": 1000}
    finally:
        for proc in reversed(procs):
            _stop(proc)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=4)
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
