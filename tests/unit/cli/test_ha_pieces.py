"""Pure pieces of `kyb up --servers N`: which process a leader-election Lease names,
and which API servers the `kubernetes` Endpoints list for `kyb api-lb`."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pytest

from kybernetes.cli.component_status import lease_holder_pid
from kybernetes.cli.errors import CliError
from kybernetes.cli.servers import check_data_dir
from kybernetes.proxy.api_lb import endpoint_addresses

NOW = _dt.datetime(2026, 11, 30, 12, 0, tzinfo=_dt.UTC)


def lease(holder: str, renewed: str, duration: int = 15) -> dict:
    return {"spec": {"holderIdentity": holder, "renewTime": renewed,
                     "leaseDurationSeconds": duration}}


def test_a_live_lease_names_its_holders_pid() -> None:
    assert lease_holder_pid(lease("vm_4242_ab12", "2026-11-30T11:59:55.000000Z"), NOW) == 4242
    # a controller-manager's identity: host_pid_uuid
    assert lease_holder_pid(lease("vm_77_0f3c-11-22", "2026-11-30T11:59:59Z"), NOW) == 77


def test_an_expired_released_or_foreign_lease_names_nobody() -> None:
    assert lease_holder_pid(lease("vm_4242_ab12", "2026-11-30T11:59:00Z"), NOW) is None
    assert lease_holder_pid(lease("", "2026-11-30T11:59:59Z"), NOW) is None
    assert lease_holder_pid(lease("vm_uuid-only", "2026-11-30T11:59:59Z"), NOW) is None
    assert lease_holder_pid({"spec": {}}, NOW) is None


def test_endpoint_addresses_take_the_https_port_of_ready_addresses() -> None:
    endpoints = {"subsets": [{
        "addresses": [{"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}],
        "notReadyAddresses": [{"ip": "10.0.0.4"}],
        "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]}
    assert endpoint_addresses(endpoints) == [("10.0.0.2", 6443), ("10.0.0.3", 6443)]
    assert endpoint_addresses({}) == []


def test_a_data_dir_keeps_its_server_count(tmp_path: Path) -> None:
    check_data_dir(tmp_path, 1)
    check_data_dir(tmp_path, 3)  # new: either
    (tmp_path / "state.db").touch()
    with pytest.raises(CliError, match="one-server cluster"):
        check_data_dir(tmp_path, 3)  # a restore over it
    check_data_dir(tmp_path, 3, move=True)  # `kyb up --servers 3` moves it to etcd
    (tmp_path / "state.db").unlink()
    for name in ("kyb-server-1", "kyb-server-2", "kyb-server-3"):
        (tmp_path / "etcd" / name).mkdir(parents=True)
    check_data_dir(tmp_path, 3)
    with pytest.raises(CliError, match="moving back to one server"):
        check_data_dir(tmp_path, 1)
    with pytest.raises(CliError, match="adding or removing etcd members"):
        check_data_dir(tmp_path, 5)


def test_server_hosts_dial_their_own_member_first(tmp_path: Path) -> None:
    from kybernetes.cli.node_network import NodeNetwork
    from kybernetes.cli.servers import ServerHosts

    network = NodeNetwork(str(tmp_path), 1, isolated=False)
    hosts = ServerHosts(tmp_path, 3, network=network)
    ips = [h.ip for h in hosts.hosts]
    assert len(set(ips)) == 3 and all(ip.startswith("127.1.") for ip in ips)
    second = hosts.hosts[1]
    assert hosts.store_url(second) == f"etcds://{ips[1]}:2379,{ips[0]}:2379,{ips[2]}:2379"
    argv = hosts.etcd_argv(second, cluster_token="t")
    peers = argv[argv.index("--initial-cluster") + 1]
    assert peers.count("https://") == 3 and "--peer-client-cert-auth" in argv
    flags = hosts.apiserver_flags(second, 6443)
    assert flags[flags.index("--pki-dir") + 1] == str(tmp_path / "pki")
    assert flags[flags.index("--bind-address") + 1] == ips[1]
