"""The root-ca-cert-publisher keeps `kube-root-ca.crt` (the cluster CA) in every namespace."""

from __future__ import annotations

from kybernetes.api import errors
from kybernetes.api.resources import CONFIGMAPS, NAMESPACES
from kybernetes.client import ApiClient
from kybernetes.controllers.manager import Options
from kybernetes.controllers.root_ca_publisher import DESCRIPTION
from tests.integration.controllers.helpers import running
from tests.support.poll import eventually

CA = "-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAKHBfpE\n-----END CERTIFICATE-----\n"
PUBLISHING = Options(root_ca=CA)


async def _published(client: ApiClient, ns: str) -> dict | None:
    try:
        cm = await client.get(CONFIGMAPS, "kube-root-ca.crt", namespace=ns)
    except errors.NotFound:
        return None
    return cm if cm.get("data") == {"ca.crt": CA} else None


async def test_every_namespace_gets_the_root_ca_with_kubes_description(
        client: ApiClient, ns: str) -> None:
    async with running(client, "root-ca-cert-publisher", options=PUBLISHING):
        cm = await eventually(lambda: _published(client, ns), what="CA in existing ns")
        assert cm["metadata"]["annotations"] == {"kubernetes.io/description": DESCRIPTION}
        await client.create(NAMESPACES, {"metadata": {"name": f"{ns}-later"}})
        await eventually(lambda: _published(client, f"{ns}-later"), within=5,
                         what="CA in a new namespace")


async def test_an_edited_or_deleted_copy_is_put_back(client: ApiClient, ns: str) -> None:
    async with running(client, "root-ca-cert-publisher", options=PUBLISHING):
        cm = await eventually(lambda: _published(client, ns), what="CA published")
        cm["data"] = {"ca.crt": "tampered", "extra": "x"}
        cm["metadata"]["labels"] = {"kept": "yes"}
        await client.update(CONFIGMAPS, cm)
        restored = await eventually(lambda: _published(client, ns), within=5,
                                    what="CA restored")
        assert restored["metadata"]["labels"] == {"kept": "yes"}

        await client.delete(CONFIGMAPS, "kube-root-ca.crt", namespace=ns)

        async def recreated() -> bool:
            again = await _published(client, ns)
            return again is not None and again["metadata"]["uid"] != cm["metadata"]["uid"]
        await eventually(recreated, within=5, what="CA recreated")
