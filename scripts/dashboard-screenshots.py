"""Screenshots of the dashboard for the README: the cluster map and a pod's page.

Starts a 2-node process-runtime cluster in a temp dir (as root, for per-pod
networks), runs examples/web/web.yaml and a pod that prints a line a second, logs
in with `kyb dashboard-url`, and photographs `#/` and the pod's page with the same
browser the tests drive (Debian's chromium through Playwright). Then stops the
cluster. Run from the repo: `.venv/bin/python scripts/dashboard-screenshots.py`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.browser import chromium, watched_page  # noqa: E402
from tests.support.cluster import KybCluster, kyb  # noqa: E402
from tests.support.poll import wait_for  # noqa: E402

OUT = REPO / "docs" / "images"
TICKER = """
apiVersion: v1
kind: Pod
metadata: {name: ticker, namespace: default}
spec:
  containers:
  - name: main
    image: busybox
    command: [sh, -c, 'i=0; while true; do echo "tick $i: $(date +%T)"; i=$((i+1)); sleep 1; done']
"""


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kyb-shots-") as tmp:
        cluster = KybCluster(Path(tmp), dashboard=True)
        try:
            cluster.up("--nodes", "2", "--runtime", "process")
            cluster.kubectl("apply", "-f", str(REPO / "examples" / "web" / "web.yaml"))
            cluster.kubectl_run("apply", "-f", "-", stdin=TICKER)
            wait_for(lambda: cluster.kubectl(
                "get", "pods", "-o", "jsonpath={.items[*].status.phase}").split().count(
                    "Running") == 4, within=90, interval=0.5, what="4 pods Running")
            url = kyb("dashboard-url", "--data-dir", tmp).stdout.strip()
            with chromium() as browser:
                watched = watched_page(browser, url)
                page = watched.page
                page.goto(url)
                page.wait_for_selector("[data-user]:not(:empty)")
                page.wait_for_selector('[data-pod="default/ticker"][data-phase="Running"]')
                page.screenshot(path=str(OUT / "dashboard-map.png"))
                page.evaluate("location.hash = '#/pods/default/ticker'")
                page.wait_for_selector('[data-terminal][data-terminal-state="connected"]')
                page.click("[data-terminal]")
                page.keyboard.type("uname -s; echo $((6*7))\n")
                time.sleep(4)
                page.screenshot(path=str(OUT / "dashboard-pod.png"), full_page=True)
                watched.assert_clean()
        finally:
            cluster.down()
    print(f"wrote {OUT}/dashboard-map.png and dashboard-pod.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
