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
