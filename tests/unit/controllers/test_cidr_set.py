"""The node IPAM bitmap: distinct subnets, occupancy from existing nodes, exhaustion."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from kybernetes.controllers.cidr_set import CidrSet


def test_allocates_distinct_subnets_around_occupied_ones_until_full() -> None:
    cidrs = CidrSet(ip_network("10.244.0.0/22"), 24)
    cidrs.occupy(ip_network("10.244.1.0/24"))
    got = [cidrs.allocate() for _ in range(3)]
    assert [str(n) for n in got if n] == ["10.244.0.0/24", "10.244.2.0/24", "10.244.3.0/24"]
    assert cidrs.allocate() is None
    cidrs.release(ip_network("10.244.2.0/24"))
    assert str(cidrs.allocate()) == "10.244.2.0/24"


def test_occupy_ignores_outside_networks_and_covers_larger_ones() -> None:
    cidrs = CidrSet(ip_network("10.244.0.0/16"), 24)
    cidrs.occupy(ip_network("192.168.0.0/24"))
    cidrs.occupy(ip_network("fd00::/64"))
    assert cidrs.count == 0
    cidrs.occupy(ip_network("10.244.4.0/23"))
    cidrs.occupy(ip_network("10.244.4.0/23"))  # twice: counted once
    assert cidrs.count == 2
    cidrs.occupy(ip_network("10.244.9.128/25"))  # inside one subnet: that subnet
    assert cidrs.count == 3


def test_bad_mask_is_refused() -> None:
    with pytest.raises(ValueError):
        CidrSet(ip_network("10.244.0.0/16"), 16)


def test_five_thousand_nodes_get_distinct_subnets_of_a_large_range() -> None:
    cidrs = CidrSet(ip_network("10.0.0.0/8"), 24)
    subnets = {cidrs.allocate() for _ in range(5000)}
    assert len(subnets) == 5000 and None not in subnets and cidrs.count == 5000
