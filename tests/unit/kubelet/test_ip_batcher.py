"""IpBatcher: requests made together share one `ip -batch`; a failure stays with the
request that caused it. Real `ip` and network namespaces (root only)."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess

import pytest

from kybernetes.kubelet.network import IpBatcher, NetworkError, can_use_netns

pytestmark = pytest.mark.skipif(not can_use_netns() or shutil.which("ip") is None,
                                reason="needs root and iproute2")


def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


async def test_a_burst_shares_batches_and_a_failure_stays_with_its_request() -> None:
    tag = secrets.token_hex(3)
    names = [f"kybtest-{tag}-{i}" for i in range(4)]
    batcher = IpBatcher()
    try:
        results = await asyncio.gather(
            *(batcher.run(f"netns add {n}\n", undo=f"netns del {n}\n") for n in names),
            batcher.run(f"link set kybnone{tag} up\n"),  # no such device
            return_exceptions=True)
        assert results[:4] == [None] * 4
        assert isinstance(results[4], NetworkError)
        assert f"kybnone{tag}" in str(results[4])
        listed = _namespaces()
        assert all(n in listed for n in names)
        # a removal that partly fails (no such link) is not an error when not checked
        await asyncio.gather(*(batcher.run(f"link del kyvnone{tag}\n", f"netns del {n}\n",
                                           check=False) for n in names))
        assert not any(n in _namespaces() for n in names)
    finally:
        for n in names:
            if os.path.exists(f"/var/run/netns/{n}"):
                subprocess.run(["ip", "netns", "del", n], capture_output=True)


async def test_the_pod_interface_is_configured_as_ip_did() -> None:
    from kybernetes.kubelet.netlink import configure_pod_interface

    tag = secrets.token_hex(3)
    ns, bridge, veth = f"kybtest-{tag}", f"kybt{tag}", f"kyvt{tag}"
    batcher = IpBatcher()
    try:
        await batcher.run(f"link add {bridge} type bridge\n", f"netns add {ns}\n",
                          f"link add {veth} type veth peer name eth0 netns {ns}\n")
        configure_pod_interface(f"/var/run/netns/{ns}", "10.253.7.5", 24, "10.253.7.1")

        def ip(*args: str) -> str:
            return subprocess.run(["ip", "-n", ns, *args], capture_output=True, text=True,
                                  check=True).stdout
        assert "inet 10.253.7.5/24 scope global eth0" in ip("addr", "show", "dev", "eth0")
        for dev in ("eth0", "lo"):
            flags = ip("link", "show", "dev", dev).split("<", 1)[1].split(">", 1)[0]
            assert "UP" in flags.split(",")
        assert "default via 10.253.7.1 dev eth0" in ip("route")
        with pytest.raises(OSError):  # the address is there: as `ip addr add` again
            configure_pod_interface(f"/var/run/netns/{ns}", "10.253.7.5", 24, "10.253.7.1")
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)
