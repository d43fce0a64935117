"""Fixtures for scheduler tests: a real API server, a client, in-test schedulers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kybernetes.api.resources import NODES, PODS
from kybernetes.client import ApiClient
from kybernetes.scheduler.config import parse_config
from kybernetes.scheduler.scheduler import Scheduler
from kybernetes.tasks import cancel_and_wait
from tests.support.apiserver import ApiServer, connected
from tests.support.poll import eventually
from tests.unit.scheduler.objects import make_node


@pytest.fixture
async def client(apiserver: ApiServer) -> AsyncIterator[ApiClient]:
    async with connected(apiserver) as c:
        yield c


@pytest.fixture
async def start_scheduler(apiserver: ApiServer) -> AsyncIterator[Callable[..., Any]]:
    """`await start_scheduler(config_doc, **kwargs)` runs a Scheduler in this loop."""
    running: list[tuple[Scheduler, asyncio.Task[None], ApiClient]] = []

    async def start(config: dict[str, Any] | None = None, **kwargs: Any) -> Scheduler:
        c = ApiClient.from_kubeconfig(apiserver.kubeconfig)
        scheduler = Scheduler(c, parse_config(config or {}), **kwargs)
        await asyncio.wait_for(scheduler.start(), 10)
        running.append((scheduler, asyncio.create_task(scheduler.run()), c))
        return scheduler

    try:
        yield start
    finally:
        for scheduler, task, c in running:
            await cancel_and_wait(task)
            await scheduler.aclose()
            await c.aclose()


async def add_nodes(client: ApiClient, *nodes: dict[str, Any]) -> None:
    for node in nodes:
        await client.create(NODES, node)


async def node_of(client: ApiClient, name: str, namespace: str = "default") -> str | None:
    pod = await client.get(PODS, name, namespace=namespace)
    return (pod.get("spec") or {}).get("nodeName")


async def wait_bound(client: ApiClient, name: str, *, within: float = 10.0) -> str:
    return await eventually(lambda: node_of(client, name), within=within, what=f"{name} bound")


__all__ = ["add_nodes", "make_node", "node_of", "wait_bound"]
