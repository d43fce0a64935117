"""The live channel against a real API server: a long list goes to the page in pages
cut down by the map's projection, then its changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kybernetes.api.resources import NAMESPACES, PODS
from kybernetes.cli.dashboard_url import admin_token
from kybernetes.client import ApiClient
from kybernetes.dashboard.events import follow
from kybernetes.dashboard.projections import map_pod
from kybernetes.dashboard.upstream import Upstream
from tests.support.apiserver import ApiServer


def _pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"app": "x"}},
            "spec": {"containers": [{"name": "c", "image": "busybox",
                                     "resources": {"requests": {"cpu": "10m"}}}]}}


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ApiServer]:
    api = ApiServer(tmp_path / "apiserver").start(timeout=60)
    try:
        yield api
    finally:
        api.stop()


async def test_a_long_list_comes_in_pages_then_its_changes_all_projected(
        server: ApiServer) -> None:
    client = ApiClient.from_kubeconfig(server.kubeconfig)
    token = await admin_token(ApiClient.from_kubeconfig(server.kubeconfig), 600)
    upstream = Upstream.from_kubeconfig(str(server.kubeconfig))
    sent: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

    async def emit(event: str, data: dict[str, Any]) -> None:
        await sent.put((event, data))
    try:
        await client.create(NAMESPACES, {"metadata": {"name": "paged"}})
        for i in range(5):
            await client.create(PODS, _pod(f"p{i}"), namespace="paged")
        task = asyncio.create_task(follow(upstream, token, "/api/v1/namespaces/paged/pods",
                                          {}, emit, project=map_pod, chunk=2))
        try:
            got = [await asyncio.wait_for(sent.get(), 30) for _ in range(3)]
            assert [(e, len(d["items"]), d["more"]) for e, d in got] == [
                ("sync", 2, True), ("page", 2, True), ("page", 1, False)]
            assert [i["metadata"]["name"] for _, d in got for i in d["items"]] == [
                f"p{i}" for i in range(5)]
            assert got[0][1]["metadata"]["resourceVersion"]
            assert all(i == map_pod(i) and "labels" not in i["metadata"]
                       for _, d in got for i in d["items"])
            await client.create(PODS, _pod("late"), namespace="paged")
            event, change = await asyncio.wait_for(sent.get(), 30)
            assert (event, change["type"]) == ("change", "ADDED")
            assert change["object"]["metadata"]["name"] == "late"
            assert change["object"]["spec"] == {
                "containers": [{"resources": {"requests": {"cpu": "10m"}}}]}
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        await client.aclose()
        await upstream.aclose()
