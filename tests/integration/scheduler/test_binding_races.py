"""Never bound twice: racing schedulers and a binding that loses to someone else."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial

from kybernetes.api import errors
from kybernetes.api.resources import EVENTS, PODS
from kybernetes.client import ApiClient
from kybernetes.scheduler.scheduler import Scheduler
from tests.integration.scheduler.conftest import add_nodes, node_of, wait_bound
from tests.support.poll import eventually
from tests.unit.scheduler.objects import make_node, make_pod


def _bind_body(pod: str, node: str) -> dict:
    return {"apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": pod, "namespace": "default"},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}


async def test_a_binding_that_loses_is_dropped_and_forgotten(client, start_scheduler):
    await add_nodes(client, make_node("a", cpu="1"), make_node("b", cpu="1"))
    scheduler = await start_scheduler(bind_concurrency=1)
    await scheduler._bind_slots.acquire()  # hold the binding back
    await client.create(PODS, make_pod("p", cpu="600m"), namespace="default")
    await eventually(lambda: scheduler.cache.is_assumed("default/p"), what="assumed")
    chosen = next(n.name for n in scheduler.cache.nodes() if n.pods)
    other = "b" if chosen == "a" else "a"
    scheduler.pods.pause()  # the scheduler does not see the competing binding yet
    await client.create_subresource(PODS, "p", "binding", _bind_body("p", other),
                                    namespace="default")
    scheduler._bind_slots.release()
    await eventually(lambda: not scheduler.cache.is_assumed("default/p"), what="forgotten")
    assert scheduler.cache.node(chosen).req_cpu == 0
    scheduler.pods.resume()
    await eventually(lambda: scheduler.cache.node(other).req_cpu == 600, what="seen bound")
    assert await node_of(client, "p") == other
    assert scheduler.cache.node(chosen).req_cpu == 0
    assert "default/p" not in scheduler.queue
    # The node the scheduler wanted is still free for the next pod.
    await client.create(PODS, make_pod("q", cpu="600m"), namespace="default")
    assert await wait_bound(client, "q") == chosen



async def test_two_schedulers_racing_bind_each_pod_once(
        client: ApiClient, start_scheduler: Callable[..., Awaitable[Scheduler]]) -> None:
    await add_nodes(client, *(make_node(f"n{i}", cpu="2", pods=10) for i in range(4)))
    first = await start_scheduler()
    second = await start_scheduler()
    history: dict[str, set[str]] = {}
    watcher = asyncio.create_task(_watch_bindings(client, history))
    await asyncio.gather(*(client.create(PODS, make_pod(f"p{i}", cpu="200m"),
                                         namespace="default") for i in range(30)))
    for i in range(30):
        await wait_bound(client, f"p{i}")
    await asyncio.sleep(0.3)
    watcher.cancel()
    assert all(len(nodes) == 1 for nodes in history.values()), history
    events = (await client.list(EVENTS, namespace="default"))["items"]
    scheduled = [e["involvedObject"]["name"] for e in events if e["reason"] == "Scheduled"]
    assert sorted(scheduled) == sorted(f"p{i}" for i in range(30))
    # Both caches agree with the truth: 30 pods, 200m each, no assumption left over.
    def settled(s: Scheduler) -> bool:
        return sum(n.req_cpu for n in s.cache.nodes()) == 6000
    for s in (first, second):
        await eventually(partial(settled, s), what="cache settled")
        for node in s.cache.nodes():
            assert node.req_cpu <= 2000 and len(node.pods) <= 10


async def _watch_bindings(client, history: dict[str, set[str]]) -> None:
    try:
        async with client.watch(PODS, namespace="default") as watch:
            async for event in watch:
                node = (event.object.get("spec") or {}).get("nodeName")
                if node:
                    history.setdefault(event.object["metadata"]["name"], set()).add(node)
    except (asyncio.CancelledError, errors.ApiError):
        pass
