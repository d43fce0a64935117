"""Fixtures for the dashboard's browser tests: one chromium per module, a fresh
context per test that must end with no console error and no request off the host."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import WatchedPage, chromium, require_chromium, watched_page
from tests.support.cluster import KybCluster, kyb


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_chromium()
    with chromium() as b:
        yield b


def dashboard_base(cluster: KybCluster) -> str:
    from kybernetes.cli import cluster_dir

    url = (cluster_dir.resolve(str(cluster.data_dir)).read_status() or {}).get("dashboard")
    assert url, cluster.logs()
    return str(url)


def admin_url(cluster: KybCluster) -> str:
    result = kyb("dashboard-url", "--data-dir", str(cluster.data_dir), "--duration", "1800")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def page_for(browser: Any, tmp_path: Path) -> Iterator[Any]:
    """`page_for(base_url)`: a new page in a new context (its own sessionStorage); a
    screenshot of each is left in the test's tmp_path, to see what a failure saw."""
    pages: list[WatchedPage] = []

    def make(base: str) -> WatchedPage:
        watched = watched_page(browser, base)
        pages.append(watched)
        return watched

    yield make
    for i, watched in enumerate(pages):
        with contextlib.suppress(Exception):
            watched.page.screenshot(path=str(tmp_path / f"page-{i}.png"), full_page=True)
        watched.page.context.close()
    for watched in pages:
        watched.assert_clean()

