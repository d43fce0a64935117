"""Allocations survive a restart of the API server (its repair pass on start)."""

from __future__ import annotations

from typing import Any

import pytest

from kybernetes.api.errors import Invalid
from kybernetes.api.resources import SERVICES
from kybernetes.client import ApiClient
from tests.integration.proxy.test_service_allocation_api import (
    addresses,
    create_many,
    service,
    with_client,
)
from tests.support.apiserver import ApiServer


async def test_allocations_survive_an_api_server_restart(apiserver: ApiServer) -> None:
    async def first(client: ApiClient) -> list[dict[str, Any]]:
        return await create_many(client, "a", 10)

    before = await with_client(apiserver, first)
    apiserver.restart()

    async def second(client: ApiClient) -> list[dict[str, Any]]:
        taken = before[0]["spec"]
        with pytest.raises(Invalid) as e:
            await client.create(SERVICES, service("dup", clusterIP=taken["clusterIP"]),
                                namespace="default")
        assert e.value.details["causes"][0]["field"] == "spec.clusterIPs"
        with pytest.raises(Invalid, match="provided port is already allocated"):
            await client.create(SERVICES, service("dup", type="NodePort", ports=[
                {"port": 80, "nodePort": taken["ports"][0]["nodePort"]}]), namespace="default")
        return await create_many(client, "b", 30)

    after = await with_client(apiserver, second)
    all_ips, all_ports = addresses(before + after)
    assert len(set(all_ips)) == 40 and len(set(all_ports)) == 40
