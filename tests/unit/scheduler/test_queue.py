"""The scheduling queue: priority then FIFO, back-off, unschedulable pods and moves."""

import pytest

from kybernetes.scheduler.podinfo import pod_info
from kybernetes.scheduler.queue import SchedulingQueue
from tests.unit.scheduler.objects import make_pod


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _pod(name, priority=0):
    return pod_info(make_pod(name, priority=priority))


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def queue(clock):
    return SchedulingQueue(clock=clock)


def _drain(queue):
    out = []
    while (pod := queue.pop_nowait()) is not None:
        out.append(pod.name)
    return out


def test_priority_then_fifo(queue):
    for name, prio in (("a", 0), ("b", 10), ("c", 0), ("d", 10)):
        queue.add(_pod(name, prio))
    assert _drain(queue) == ["b", "d", "a", "c"]


def test_backoff_doubles_up_to_the_maximum(queue):
    assert [queue.backoff_duration(n) for n in (1, 2, 3, 4, 5, 9)] == [1, 2, 4, 8, 10, 10]


def test_unschedulable_pod_waits_for_an_event(queue, clock):
    queue.add(_pod("a"))
    pod = queue.pop_nowait()
    queue.add_unschedulable(pod, cycle=queue.scheduling_cycle)
    assert queue.lengths() == {"active": 0, "backoff": 0, "unschedulable": 1}
    clock.now += 30
    queue.flush()
    assert queue.pop_nowait() is None
    assert queue.move_all_to_active_or_backoff("NodeAdd") == 1
    assert _drain(queue) == ["a"]


def test_a_move_during_backoff_goes_through_backoffq(queue, clock):
    queue.add(_pod("a"))
    pod = queue.pop_nowait()
    queue.add_unschedulable(pod, cycle=queue.scheduling_cycle)
    clock.now += 0.5
    queue.move_all_to_active_or_backoff("NodeAdd")
    assert queue.lengths()["backoff"] == 1 and queue.pop_nowait() is None
    clock.now += 0.6
    queue.flush()
    assert _drain(queue) == ["a"]


def test_an_event_during_the_attempt_is_not_lost(queue):
    queue.add(_pod("a"))
    cycle = queue.scheduling_cycle
    pod = queue.pop_nowait()
    queue.move_all_to_active_or_backoff("NodeAdd")  # arrives while "a" is being scheduled
    queue.add_unschedulable(pod, cycle=cycle + 1)
    assert queue.lengths()["backoff"] == 1


def test_a_pod_event_moves_only_the_pods_its_plugins_rejected(queue, clock):
    for name in ("affine", "big"):
        queue.add(_pod(name))
    cycle = queue.scheduling_cycle
    affine, big = queue.pop_nowait(), queue.pop_nowait()
    queue.add_unschedulable(affine, cycle=cycle + 1, plugins=frozenset({"InterPodAffinity"}))
    queue.add_unschedulable(big, cycle=cycle + 2, plugins=frozenset({"NodeResourcesFit"}))
    clock.now += 20  # past the back-off
    assert queue.move_rejected_by(("InterPodAffinity", "PodTopologySpread")) == 1
    assert _drain(queue) == ["affine"]
    assert queue.lengths()["unschedulable"] == 1
    assert queue.move_all_to_active_or_backoff("NodeAdd") == 1
    assert _drain(queue) == ["big"]


def test_a_plugin_event_during_the_attempt_is_not_lost(queue):
    queue.add(_pod("a"))
    cycle = queue.scheduling_cycle
    pod = queue.pop_nowait()
    queue.move_rejected_by(("InterPodAffinity",))  # a pod was bound meanwhile
    queue.add_unschedulable(pod, cycle=cycle + 1, plugins=frozenset({"InterPodAffinity"}))
    assert queue.lengths()["backoff"] == 1


def test_unschedulable_pods_are_flushed_after_a_minute(queue, clock):
    queue.add(_pod("a"))
    queue.add_unschedulable(queue.pop_nowait(), cycle=queue.scheduling_cycle)
    clock.now += 59
    queue.flush()
    assert queue.pop_nowait() is None
    clock.now += 2
    queue.flush()
    assert _drain(queue) == ["a"]


def test_an_updated_unschedulable_pod_is_retried(queue, clock):
    queue.add(_pod("a"))
    queue.add_unschedulable(queue.pop_nowait(), cycle=queue.scheduling_cycle)
    clock.now += 5
    queue.update(_pod("a"))
    assert _drain(queue) == ["a"]


def test_deleted_pods_are_never_popped(queue):
    queue.add(_pod("a"))
    queue.add(_pod("b"))
    queue.delete("default/a")
    assert _drain(queue) == ["b"] and "default/a" not in queue


async def test_pop_waits_for_a_pod_and_close_ends_it():
    import asyncio

    queue = SchedulingQueue()
    waiter = asyncio.create_task(queue.pop())
    await asyncio.sleep(0.01)
    queue.add(_pod("a"))
    assert (await asyncio.wait_for(waiter, 1)).name == "a"
    waiter = asyncio.create_task(queue.pop())
    await asyncio.sleep(0.01)
    queue.close()
    assert await asyncio.wait_for(waiter, 1) is None
