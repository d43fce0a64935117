"""Crash-loop back-off timing and pod IP allocation (pure logic)."""

from __future__ import annotations

import pytest

from kybernetes.kubelet.backoff import Backoff
from kybernetes.kubelet.ipam import IpPool


def test_backoff_doubles_from_base_to_cap() -> None:
    b = Backoff(base=10, cap=300)
    delays = [b.next("pod/c", now=float(i)) for i in range(8)]
    assert delays == [10, 20, 40, 80, 160, 300, 300, 300]


def test_backoff_starts_over_after_twice_the_cap_without_failures() -> None:
    b = Backoff(base=10, cap=300)
    b.next("k", now=0)
    b.next("k", now=1)
    assert b.next("k", now=1 + 601) == 10


def test_in_backoff_counts_from_the_container_finish() -> None:
    b = Backoff(base=10, cap=300)
    assert b.in_backoff("k", finished_at=100, now=100) == 0  # first restart is immediate
    b.next("k", now=100)
    assert b.in_backoff("k", finished_at=105, now=108) == pytest.approx(7)
    assert b.in_backoff("k", finished_at=105, now=116) == 0


def test_forget_prefix_drops_only_that_pod() -> None:
    b = Backoff(base=1, cap=8)
    b.next("uid1/a", now=0)
    b.next("uid2/a", now=0)
    b.forget_prefix("uid1")
    assert b.peek("uid1/a") == 0 and b.peek("uid2/a") == 1


def test_ip_pool_skips_gateway_and_reuses_released_last() -> None:
    pool = IpPool("10.1.2.0/29")
    assert pool.gateway == "10.1.2.1"
    ips = [pool.allocate(f"u{i}") for i in range(5)]
    assert ips == ["10.1.2.2", "10.1.2.3", "10.1.2.4", "10.1.2.5", "10.1.2.6"]
    assert pool.allocate("u0") == "10.1.2.2"  # same pod, same address
    with pytest.raises(ValueError):
        pool.allocate("u9")
    pool.release("u3")
    assert pool.allocate("u9") == "10.1.2.5"


def test_ip_pool_keeps_adopted_addresses() -> None:
    pool = IpPool("10.1.2.0/24")
    pool.assign("old", "10.1.2.2")
    assert pool.allocate("new") == "10.1.2.3"
