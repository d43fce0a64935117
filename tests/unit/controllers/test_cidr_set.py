"""The node IPAM bitmap: distinct subnets, occupancy from existing nodes, exhaustion."""

from __future__ import annotations

import time
from ipaddress import ip_network

import pytest

from kybernetes.controllers.cidr_set import CidrSet, OutOfRange


def test_allocates_distinct_subnets_around_occupied_ones_until_full() -> None:
    cidrs = CidrSet(ip_network("10.244.0.0/22"), 24)
    cidrs.occupy(ip_network("10.244.1.0/24"))
    got = [cidrs.allocate() for _ in range(3)]
    assert [str(n) for n in got if n] == ["10.244.0.0/24", "10.244.2.0/24", "10.244.3.0/24"]
    assert cidrs.full() and cidrs.allocate() is None
    cidrs.release(ip_network("10.244.2.0/24"))
    assert str(cidrs.allocate()) == "10.244.2.0/24"


def test_outside_networks_are_refused_and_larger_ones_cover_their_subnets() -> None:
    cidrs = CidrSet(ip_network("10.244.0.0/16"), 24)
    for outside in ("192.168.0.0/24", "fd00::/64"):
        with pytest.raises(OutOfRange, match=r"is out the range of cluster cidr 10\.244\.0\.0/16"):
            cidrs.occupy(ip_network(outside))
        with pytest.raises(OutOfRange):
            cidrs.release(ip_network(outside))
    assert cidrs.count == 0
    cidrs.occupy(ip_network("10.244.4.0/23"))
    cidrs.occupy(ip_network("10.244.4.0/23"))  # twice: counted once
    assert cidrs.count == 2
    cidrs.occupy(ip_network("10.244.9.128/25"))  # inside one subnet: that subnet
    assert cidrs.count == 3
    cidrs.occupy(ip_network("10.0.0.0/8"))  # holds the whole cluster CIDR: all of it
    assert cidrs.full()


def test_bad_or_too_fine_masks_are_refused() -> None:
    with pytest.raises(ValueError):
        CidrSet(ip_network("10.244.0.0/16"), 16)
    with pytest.raises(ValueError, match="the node CIDR size is too big"):
        CidrSet(ip_network("fd00::/48"), 80)  # kube's clusterSubnetMaxDiff of 16 bits
    assert CidrSet(ip_network("fd00::/48"), 64).size == 65536


def test_a_slash_8_of_slash_24s_hands_out_all_65536_fast_then_says_full() -> None:
    cidrs = CidrSet(ip_network("10.0.0.0/8"), 24)
    started = time.perf_counter()
    subnets = [cidrs.allocate() for _ in range(65536)]
    elapsed = time.perf_counter() - started
    assert None not in subnets and len(set(subnets)) == 65536 and cidrs.full()
    assert cidrs.allocate() is None
    # ~0.15 s here; a scan per allocation (quadratic) would take minutes. The limit is
    # loose so a loaded CI machine cannot fail it: bench/node_ipam.py reports the speed.
    assert elapsed < 30.0, f"65,536 allocations took {elapsed:.2f}s"


def test_release_and_reuse_walk_on_from_the_cursor_as_kube() -> None:
    """A freed subnet is given again only after the cursor comes round (kube's
    nextCandidate), so a subnet a node just gave up is not reused at once."""
    cidrs = CidrSet(ip_network("10.1.0.0/16"), 24)
    first = [cidrs.allocate() for _ in range(10)]
    assert first[3] is not None
    cidrs.release(first[3])
    assert str(cidrs.allocate()) == "10.1.10.0/24"
    for _ in range(256 - 11):
        assert cidrs.allocate() is not None
    assert cidrs.allocate() == first[3]  # wrapped round to the only free one
    assert cidrs.allocate() is None


def test_restart_rebuilds_from_existing_nodes_and_never_gives_them_out() -> None:
    before = CidrSet(ip_network("10.2.0.0/16"), 24)
    held = [before.allocate() for _ in range(200)]
    after = CidrSet(ip_network("10.2.0.0/16"), 24)  # a new controller manager
    for net in held:
        assert net is not None
        after.occupy(net)
    assert after.count == 200
    fresh = {after.allocate() for _ in range(56)}
    assert None not in fresh and not fresh & set(held) and after.full()
