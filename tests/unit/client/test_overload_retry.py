"""The client waits out an overloaded server's 429 (Retry-After) as client-go does,
but hands a 429 Status (an eviction a budget refuses) straight to the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from kybernetes.api import errors
from kybernetes.api.resources import CONFIGMAPS
from kybernetes.client import ApiClient
from tests.support.net import serving

BUSY = "Too many requests, please try again later.\n"


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[str]]]:
    seen: list[str] = []

    async def busy_twice(request: web.Request) -> web.Response:
        seen.append(request.match_info["name"])
        if request.match_info["name"] == "budget":
            return web.json_response({"kind": "Status", "apiVersion": "v1", "code": 429,
                                      "reason": "TooManyRequests", "status": "Failure",
                                      "message": "Cannot evict pod"}, status=429,
                                     headers={"Retry-After": "1"})
        if request.match_info["name"] == "always" or len(seen) <= 2:
            return web.Response(status=429, text=BUSY, headers={"Retry-After": "0"})
        return web.json_response({"kind": "ConfigMap", "metadata": {"name": "cm"}})
    app = web.Application()
    app.router.add_get("/api/v1/namespaces/default/configmaps/{name}", busy_twice)
    async with serving(app) as url:
        yield url, seen


async def test_overload_is_retried_after_retry_after(server: tuple[str, list[str]]) -> None:
    url, seen = server
    async with ApiClient(url) as client:
        got = await client.get(CONFIGMAPS, "cm", namespace="default")
        assert got["metadata"]["name"] == "cm" and len(seen) == 3
        seen.clear()
        with pytest.raises(errors.TooManyRequests):  # up to 10 retries, then the error
            await client.get(CONFIGMAPS, "always", namespace="default")
        assert len(seen) == 11


async def test_a_429_status_is_not_retried(server: tuple[str, list[str]]) -> None:
    url, seen = server
    async with ApiClient(url) as client:
        with pytest.raises(errors.TooManyRequests, match="Cannot evict pod"):
            await client.get(CONFIGMAPS, "budget", namespace="default")
    assert seen == ["budget"]
