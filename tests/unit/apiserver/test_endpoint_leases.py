"""The `kubernetes` Endpoints made from the API servers' live leases."""

from __future__ import annotations

from kybernetes.apiserver.endpoint_leases import slice_fields, subsets


def test_addresses_are_grouped_by_port_in_string_order_as_kube_sorts_them() -> None:
    got = subsets([("10.0.0.10", 6443), ("10.0.0.9", 6443), ("127.0.0.1", 7000),
                   ("10.0.0.9", 6443)])
    assert got == [
        {"addresses": [{"ip": "10.0.0.10"}, {"ip": "10.0.0.9"}],
         "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]},
        {"addresses": [{"ip": "127.0.0.1"}],
         "ports": [{"name": "https", "port": 7000, "protocol": "TCP"}]}]


def test_the_slice_is_the_first_subset_as_kubes_endpoints_adapter_makes_it() -> None:
    fields = slice_fields(subsets([("10.0.0.2", 6443), ("10.0.0.1", 6443)]))
    assert fields == {
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}},
                      {"addresses": ["10.0.0.2"], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}
    assert slice_fields([])["endpoints"] == []
