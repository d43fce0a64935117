"""queue_requests: callers beyond the pool wait their turn before their timeout starts,
so a burst larger than the pool completes instead of timing out in it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from kybernetes.api import errors
from kybernetes.api.resources import CONFIGMAPS
from kybernetes.client import ApiClient
from tests.support.net import serving


@pytest.fixture
async def slow_server() -> AsyncIterator[tuple[str, list[int]]]:
    """Each GET takes 0.2 s; `peaks` records how many were in flight at each arrival."""
    in_flight, peaks = [0], []

    async def slow(request: web.Request) -> web.Response:
        in_flight[0] += 1
        peaks.append(in_flight[0])
        await asyncio.sleep(0.2)
        in_flight[0] -= 1
        return web.json_response({"kind": "ConfigMap", "metadata": {"name": "cm"}})
    app = web.Application()
    app.router.add_get("/api/v1/namespaces/default/configmaps/{name}", slow)
    async with serving(app) as url:
        yield url, peaks


async def burst(client: ApiClient, n: int) -> list[object]:
    return await asyncio.gather(*(client.get(CONFIGMAPS, "cm", namespace="default")
                                  for _ in range(n)), return_exceptions=True)


async def test_a_burst_beyond_the_pool_waits_its_turn(slow_server: tuple[str, list[int]]
                                                     ) -> None:
    url, peaks = slow_server
    async with ApiClient(url, pool_size=2, timeout=0.5, queue_requests=True) as client:
        results = await burst(client, 10)  # 1 s of work through 2 connections
    assert all(isinstance(r, dict) for r in results), results
    assert max(peaks) <= 2


async def test_without_it_the_pool_wait_counts_against_the_timeout(
        slow_server: tuple[str, list[int]]) -> None:
    url, _ = slow_server
    async with ApiClient(url, pool_size=2, timeout=0.5) as client:
        results = await burst(client, 10)
    assert any(isinstance(r, errors.ServiceUnavailable) for r in results)
