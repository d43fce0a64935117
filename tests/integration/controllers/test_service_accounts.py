"""The ServiceAccount controller keeps a `default` ServiceAccount in every namespace."""

from __future__ import annotations

from kybernetes.api import errors
from kybernetes.api.resources import NAMESPACES, SERVICE_ACCOUNTS
from kybernetes.client import ApiClient
from tests.integration.controllers.helpers import running
from tests.support.poll import eventually


async def _default_account(client: ApiClient, ns: str) -> dict | None:
    try:
        return await client.get(SERVICE_ACCOUNTS, "default", namespace=ns)
    except errors.NotFound:
        return None


async def test_existing_and_new_namespaces_get_a_default_service_account(
        client: ApiClient, ns: str) -> None:
    async with running(client, "serviceaccount"):
        await eventually(lambda: _default_account(client, ns), what="default SA (existing ns)")
        await client.create(NAMESPACES, {"metadata": {"name": f"{ns}-new"}})
        await eventually(lambda: _default_account(client, f"{ns}-new"),
                         within=5, what="default SA (new ns)")


async def test_a_deleted_default_service_account_comes_back(
        client: ApiClient, ns: str) -> None:
    async with running(client, "serviceaccount"):
        first = await eventually(lambda: _default_account(client, ns), what="default SA")
        await client.delete(SERVICE_ACCOUNTS, "default", namespace=ns)

        async def recreated() -> bool:
            account = await _default_account(client, ns)
            return bool(account and account["metadata"]["uid"] != first["metadata"]["uid"])
        await eventually(recreated, within=5, what="default SA recreated")
