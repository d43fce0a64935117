"""Priority and fairness: kube's FlowSchemas, fair queues per flow, the Retry-After."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from kybernetes.apiserver.authn import User
from kybernetes.apiserver.authz.attributes import Attributes
from kybernetes.apiserver.flowcontrol import PriorityAndFairness
from kybernetes.apiserver.flowcontrol.dropped import DroppedRequests
from kybernetes.apiserver.flowcontrol.queueset import QueueSet, Rejected
from kybernetes.apiserver.flowcontrol.schemas import classify
from kybernetes.apiserver.inflight import TooManyRequests

AUTHENTICATED = "system:authenticated"
ALICE = User("alice", groups=(AUTHENTICATED,))
NODE = User("system:node:n1", groups=("system:nodes", AUTHENTICATED))
CM = User("system:kube-controller-manager", groups=(AUTHENTICATED,))
SA = User("system:serviceaccount:default:app",
          groups=("system:serviceaccounts", "system:serviceaccounts:default", AUTHENTICATED))
ADMIN = User("admin", groups=("system:masters", AUTHENTICATED))
ANONYMOUS = User("system:anonymous", groups=("system:unauthenticated",))


def resource(user: User, verb: str, resource: str, *, group: str = "",
             subresource: str = "", namespace: str = "") -> Attributes:
    return Attributes(user, verb, True, api_group=group, resource=resource,
                      subresource=subresource, namespace=namespace)


LEASE = {"group": "coordination.k8s.io", "namespace": "kube-node-lease"}


@pytest.mark.parametrize(("attrs", "level"), [
    (resource(ADMIN, "list", "pods"), "exempt"),
    (Attributes(ANONYMOUS, "get", False, path="/readyz"), "exempt"),
    (Attributes(ANONYMOUS, "get", False, path="/version"), "global-default"),
    (resource(NODE, "update", "leases", **LEASE), "node-high"),
    (resource(NODE, "patch", "nodes", subresource="status"), "node-high"),
    (resource(NODE, "list", "pods"), "system"),
    (resource(CM, "update", "leases", group="coordination.k8s.io",
              namespace="kube-system"), "leader-election"),
    (resource(CM, "list", "pods"), "workload-high"),
    (resource(SA, "list", "pods"), "workload-low"),
    (resource(ALICE, "list", "pods"), "global-default"),
    (resource(User("x"), "list", "pods"), "catch-all"),
])
def test_requests_fall_into_kubes_suggested_levels(attrs: Attributes, level: str) -> None:
    got, flow = classify(attrs)
    assert got.name == level
    assert flow == ("" if level == "exempt" else attrs.user.name)


async def test_a_flooding_flow_waits_its_turn_and_the_others_get_every_other_seat() -> None:
    seats = QueueSet(1, queue_length=10, max_waiting=100, wait=5)
    await seats.acquire("flood")
    order: list[str] = []

    async def one(flow: str) -> None:
        await seats.acquire(flow)
        order.append(flow)
        await asyncio.sleep(0)
        seats.release()
    floods = [asyncio.create_task(one("flood")) for _ in range(5)]
    await asyncio.sleep(0)
    quiet = asyncio.create_task(one("quiet"))
    await asyncio.sleep(0)
    seats.release()
    await asyncio.gather(*floods, quiet)
    assert order.index("quiet") <= 1  # not behind the flood's five
    assert seats.executing == 0 and seats.waiting == 0


async def test_a_full_queue_or_a_long_wait_is_refused_and_gives_its_place_back() -> None:
    seats = QueueSet(1, queue_length=2, max_waiting=100, wait=0.2)
    await seats.acquire("a")
    waiters = [asyncio.create_task(seats.acquire("a")) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(Rejected):  # the flow's queue is full
        await seats.acquire("a")
    for waiter in waiters:  # nobody released: the wait runs out
        with pytest.raises(Rejected):
            await waiter
    assert seats.waiting == 0 and seats.executing == 1
    cancelled = asyncio.create_task(seats.acquire("b"))
    await asyncio.sleep(0)
    cancelled.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await cancelled
    seats.release()
    assert seats.waiting == 0 and seats.executing == 0


async def test_a_list_flood_cannot_take_the_heartbeats_seats() -> None:
    apf = PriorityAndFairness(12, wait=0.2)
    held = contextlib.AsyncExitStack()
    async with held:
        floods = 0
        with pytest.raises(TooManyRequests) as refused:
            while True:  # global-default has ceil(12*20/245) = 1 seat: the rest queue
                await held.enter_async_context(apf.enter(resource(ALICE, "list", "pods")))
                floods += 1
        assert floods == 1 and refused.value.retry_after >= 1
        for _ in range(3):  # the kubelet's lease and status: their own level, at once
            async with asyncio.timeout(0.1), \
                    apf.enter(resource(NODE, "update", "leases", **LEASE)):
                pass
        async with asyncio.timeout(0.1), apf.enter(resource(ADMIN, "list", "pods")):
            pass  # exempt
        async with asyncio.timeout(0.1), apf.enter(resource(ALICE, "watch", "pods")):
            pass  # long-running: not counted


async def test_zero_limits_turn_it_off() -> None:
    apf = PriorityAndFairness(0)
    async with contextlib.AsyncExitStack() as held:
        for _ in range(100):
            await held.enter_async_context(apf.enter(resource(ALICE, "list", "pods")))


def test_retry_after_doubles_under_steady_drops_and_comes_back_down() -> None:
    now = [1000.0]
    drops = DroppedRequests(clock=lambda: now[0])
    assert drops.retry_after("global-default") == 1
    seen = []
    for _ in range(20):  # 10 drops a second
        for _ in range(10):
            drops.record("global-default")
        seen.append(drops.retry_after("global-default"))
        now[0] += 1
    assert seen[0] == 1 and max(seen) >= 4 and seen == sorted(seen)
    peak = seen[-1]
    for _ in range(40):  # a drop every 5 s: fewer than retryAfter, it decreases
        now[0] += 5
        drops.record("global-default")
    assert drops.retry_after("global-default") < peak
    assert drops.retry_after("node-high") == 1
