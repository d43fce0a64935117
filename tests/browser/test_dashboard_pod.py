"""A pod's page on the process runtime (issue 17): logs that follow live and a shell in
the browser's terminal, over the API server's exec WebSocket, as the logged-in user."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import admin_url
from tests.support.cluster import KybCluster, process_cluster
from tests.support.poll import wait_for

POD = """
apiVersion: v1
kind: Pod
metadata: {name: ticker, namespace: default}
spec:
  containers:
  - name: main
    image: busybox
    command: [sh, -c, 'i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.5; done']
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KybCluster]:
    with process_cluster(tmp_path_factory.mktemp("dash-pod"), nodes=1, dashboard=True) as c:
        result = c.kubectl_run("apply", "-f", "-", stdin=POD)
        assert result.returncode == 0, result.stderr
        wait_for(lambda: c.kubectl("get", "pod", "ticker", "-o",
                                   "jsonpath={.status.phase}") == "Running",
                 within=60, what="the ticker pod Running")
        yield c


def last_tick(text: str) -> int:
    ticks = [int(n) for n in re.findall(r"tick-(\d+)", text)]
    return max(ticks) if ticks else -1


def test_the_pod_page_follows_its_logs(cluster: KybCluster, page_for: Any) -> None:
    url = admin_url(cluster)
    watched = page_for(url)
    page = watched.page
    page.goto(url)
    page.wait_for_selector("[data-user]:not(:empty)")
    page.evaluate("location.hash = '#/pods/default/ticker'")
    page.wait_for_selector('[data-pod-page="default/ticker"][data-phase="Running"]')
    logs = page.locator("[data-logs]")
    wait_for(lambda: last_tick(logs.text_content()) >= 2, within=15, what="the first lines")
    seen = last_tick(logs.text_content())
    # following: lines written after the page opened keep arriving without a reload
    wait_for(lambda: last_tick(logs.text_content()) >= seen + 4, within=10,
             what="new lines followed live")


def test_a_shell_in_the_terminal(cluster: KybCluster, page_for: Any) -> None:
    url = admin_url(cluster)
    watched = page_for(url)
    page = watched.page
    page.goto(url)
    page.wait_for_selector("[data-user]:not(:empty)")
    page.evaluate("location.hash = '#/pods/default/ticker'")
    page.wait_for_selector('[data-terminal][data-terminal-state="connected"]', timeout=20000)
    page.click("[data-terminal]")
    page.keyboard.type("echo $((6*7))-from-$(cat /proc/self/comm)\n")
    rows = page.locator("[data-terminal] .xterm-rows")
    wait_for(lambda: "42-from-cat" in rows.text_content(), within=15,
             what="the command's output in the terminal")
    page.keyboard.type("exit\n")
    page.wait_for_selector('[data-terminal][data-terminal-state="closed"]', timeout=10000)
