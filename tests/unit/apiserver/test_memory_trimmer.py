"""When the API server gives memory back after a storm of connections."""

from __future__ import annotations

from kybernetes.apiserver.connections import MemoryTrimmer


class Releases:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def test_released_once_the_horizon_after_a_burst_of_accepts_passed() -> None:
    open_now = [0]
    trimmer = MemoryTrimmer(lambda: open_now[0], horizon=20, drop=64)
    release = Releases()
    for _ in range(2000):  # handshakes never finished: not open as HTTP connections
        trimmer.accepted()
    assert not trimmer.tick(5, release)
    assert not trimmer.tick(20, release)
    assert trimmer.tick(25, release)  # 20 s after the burst was seen
    assert not trimmer.tick(30, release)  # once
    assert release.count == 1


def test_released_when_many_open_connections_are_gone() -> None:
    open_now = [10]
    trimmer = MemoryTrimmer(lambda: open_now[0], horizon=20, drop=64)
    release = Releases()
    assert not trimmer.tick(5, release)
    open_now[0] = 500  # opened slowly: never a burst
    assert not trimmer.tick(10, release)
    open_now[0] = 450
    assert not trimmer.tick(15, release)
    open_now[0] = 12
    assert trimmer.tick(20, release)
    assert not trimmer.tick(25, release)
    assert release.count == 1


def test_a_few_connections_come_and_go_without_releases() -> None:
    open_now = [3]
    trimmer = MemoryTrimmer(lambda: open_now[0], horizon=20, drop=64)
    release = Releases()
    for t in range(5, 200, 5):
        for _ in range(10):
            trimmer.accepted()
        open_now[0] = t % 7
        assert not trimmer.tick(t, release)
