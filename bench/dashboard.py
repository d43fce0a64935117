"""The dashboard at scale: 1,000 hollow nodes and 10,000 pods in a real browser.

Run from the repo root (as root, so chromium gets a network namespace of its own):
``.venv/bin/python bench/dashboard.py [--nodes 1000] [--pods 10000]``. Every part is a
real process: `kyb apiserver` (SQLite), `kyb controller-manager`, `kyb scheduler`, one
`kyb hollow-nodes` group (fake runtime), `kyb dashboard`, and Debian's chromium driven
by Playwright, logged in with a cluster-admin ServiceAccount token.

1. **first_paint_seconds**: once every pod is bound to a node (Running or not: the map
   shows each phase), from navigating to the map until every node box and every
   pod is in the page (aim: ≤ 2 s); the first visit, then `--visits` more (the
   browser's caches warm). Each visit's **profile**: when the first node box showed
   (`first_nodes`), the page's navigation timing (`dom_content_loaded`) and how long
   its main thread was busy in long tasks (`long_tasks`, from a PerformanceObserver),
   all in seconds from navigation; the dashboard's own timestamps (`backend`: for each
   first list, when its first page and when its last went out; a list is parsed,
   projected and sent as it arrives from the API server).
2. **pod_change_seconds**: a pod created bound to a node, then deleted, through the
   API; time until the map shows it, and until it is gone (each `--samples` times;
   median and max; aim ≤ 1 s).
3. **dashboard_rss_mb**: the dashboard process's resident memory after all of that;
   **browser_heap_mb**: the page's JS heap.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.support and bench.controllers

from bench import harness  # noqa: E402
from bench.controllers import namespace, rc  # noqa: E402
from tests.support.apiserver import ApiServer  # noqa: E402
from tests.support.browser import chromium, watched_page  # noqa: E402
from tests.support.net import free_port, wait_http_ok  # noqa: E402
from tests.support.procs import Proc  # noqa: E402

from kybernetes.api.errors import ApiError  # noqa: E402
from kybernetes.api.resources import NODES, PODS, REPLICATION_CONTROLLERS  # noqa: E402
from kybernetes.cli.dashboard_url import admin_token  # noqa: E402
from kybernetes.client import ApiClient  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def until_nodes(client: ApiClient, count: int, within: float = 600) -> None:
    deadline = time.monotonic() + within
    while len((await client.list(NODES))["items"]) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {count} nodes after {within}s")
        await asyncio.sleep(1)


async def until_bound(client: ApiClient, ns: str, count: int, within: float = 1800) -> None:
    """Until `count` pods are on nodes (the map's boxes hold them, whatever their phase).
    Polls a list: a long watch may be cut on a loaded machine."""
    deadline = time.monotonic() + within
    while True:
        try:
            items = (await client.list(PODS, namespace=ns))["items"]
        except ApiError:
            items = []
        if sum(bool(p["spec"].get("nodeName")) for p in items) >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {count} pods bound after {within}s")
        await asyncio.sleep(2)


def bound_pod(name: str, ns: str, node: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}}


# Installed before each page's own scripts: the main thread's long tasks, summed.
LONG_TASKS = """window.__longTasks = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longTasks += e.duration;
}).observe({ type: 'longtask', buffered: true });"""


def first_paint(page: Any, url: str, nodes: int, pods: int) -> tuple[float, dict[str, float]]:
    start = time.monotonic()
    page.goto(url)
    page.wait_for_function("() => document.querySelector('[data-node]') !== null", timeout=120_000,
                           polling=20)
    first_nodes = time.monotonic() - start
    page.wait_for_function(
        "([n, p]) => document.querySelectorAll('[data-node]').length >= n && "
        "document.querySelectorAll('[data-node] [data-pod]').length >= p",
        arg=[nodes, pods], timeout=120_000, polling=50)
    total = round(time.monotonic() - start, 3)
    timing = page.evaluate("""() => {
        const nav = performance.getEntriesByType('navigation')[0];
        return [nav ? nav.domContentLoadedEventEnd : 0, window.__longTasks || 0];
    }""")
    return total, {"first_nodes": round(first_nodes, 3),
                   "dom_content_loaded": round(timing[0] / 1000, 3),
                   "long_tasks": round(timing[1] / 1000, 3)}


def backend_timestamps(log_path: Path) -> list[str]:
    """The dashboard's own account of each list it sent (its debug log)."""
    return [line.split("msg=", 1)[-1] for line in log_path.read_text().splitlines()
            if "sync of /api/v1/pods" in line or "sync of /api/v1/nodes" in line]


def pod_changes(run: Any, client: ApiClient, page: Any, ns: str, node: str,
                samples: int) -> dict[str, Any]:
    """`run` drives the API client's event loop between Playwright's (sync) calls."""
    appear, vanish = [], []
    for i in range(samples):
        name = f"probe-{i}"
        start = time.monotonic()
        run(client.create(PODS, bound_pod(name, ns, node)))
        page.wait_for_selector(f'[data-pod="{ns}/{name}"]', timeout=30_000)
        appear.append(time.monotonic() - start)
        start = time.monotonic()
        run(client.delete(PODS, name, namespace=ns, grace_period_seconds=0))
        page.wait_for_selector(f'[data-pod="{ns}/{name}"]', state="detached", timeout=30_000)
        vanish.append(time.monotonic() - start)

    def summary(values: list[float]) -> dict[str, float]:
        return {"median": round(statistics.median(values), 3), "max": round(max(values), 3)}
    return {"appear": summary(appear), "disappear": summary(vanish)}


def main(args: argparse.Namespace) -> dict[str, Any]:
    """The API client's loop runs in a thread of its own: Playwright's sync API keeps
    its own loop running in this one."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        return measure(args, lambda coro: asyncio.run_coroutine_threadsafe(coro, loop).result())
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


def measure(args: argparse.Namespace, run: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"nodes": args.nodes, "pods": args.pods}
    with tempfile.TemporaryDirectory(prefix="kyb-bench-") as tmp:
        root = Path(args.keep_dir or tmp)
        server = ApiServer(root / "apiserver").start(timeout=60)
        procs: list[Proc] = []
        client = ApiClient.from_kubeconfig(server.kubeconfig)
        try:
            procs.append(Proc.kyb("controller-manager", "--kubeconfig",
                                  str(server.kubeconfig),
                                  log_path=root / "logs" / "controller-manager.log").start())
            procs.append(Proc.kyb("hollow-nodes", "--kubeconfig", str(server.kubeconfig),
                                  "--count", str(args.nodes), "--name-prefix", "hollow",
                                  log_path=root / "logs" / "hollow.log").start())
            procs.append(Proc.kyb("scheduler", "--kubeconfig", str(server.kubeconfig),
                                  log_path=root / "logs" / "scheduler.log").start())
            run(until_nodes(client, args.nodes))
            ns = run(namespace(client, "bench"))
            start = time.monotonic()
            run(client.create(REPLICATION_CONTROLLERS, rc("many", ns, args.pods)))
            run(until_bound(client, ns, args.pods))
            result["pods_bound_seconds"] = round(time.monotonic() - start, 1)
            port = free_port()
            dashboard = Proc.kyb("dashboard", "--kubeconfig", str(server.kubeconfig),
                                 "--port", str(port), "-v",
                                 log_path=root / "logs" / "dashboard.log").start()
            procs.append(dashboard)
            wait_http_ok(f"http://127.0.0.1:{port}/healthz", timeout=30,
                         is_alive=dashboard.alive)
            token = run(admin_token(ApiClient.from_kubeconfig(server.kubeconfig), 3600))
            url = f"http://127.0.0.1:{port}/#token={token}"
            with chromium() as browser:
                watched = watched_page(browser, url)
                page = watched.page
                page.add_init_script(LONG_TASKS)
                result["first_paint_seconds"], profile = first_paint(
                    page, url, args.nodes, args.pods)
                result["profile"] = [profile]
                # more visits: the browser's caches warm, the backend's pool open
                again = []
                for _ in range(args.visits):
                    page.goto("about:blank")
                    seconds, profile = first_paint(page, f"http://127.0.0.1:{port}/#/",
                                                   args.nodes, args.pods)
                    again.append(seconds)
                    result["profile"].append(profile)
                result["first_paint_again_seconds"] = again
                result["backend"] = backend_timestamps(root / "logs" / "dashboard.log")
                result["pod_change_seconds"] = pod_changes(
                    run, client, page, ns, "hollow-0", args.samples)
                result["browser_heap_mb"] = round(page.evaluate(
                    "performance.memory ? performance.memory.usedJSHeapSize : 0") / 2**20, 1)
                assert dashboard.popen is not None
                result["dashboard_rss_mb"] = rss_mb(dashboard.popen.pid)
                result["console_errors"] = watched.console_errors[:5]
        finally:
            run(client.aclose())
            harness.stop_all(procs, server)
    return result


if __name__ == "__main__":
    parser = harness.parser(__doc__)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--visits", type=int, default=3, help="first paints after the first")
    print(json.dumps(main(parser.parse_args()), indent=2))
