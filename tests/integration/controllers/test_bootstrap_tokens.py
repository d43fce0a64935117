"""The bootstrapsigner signs kube-public/cluster-info with each signing bootstrap token
(kube's detached JWS) and drops the signatures of tokens that go; the tokencleaner
deletes expired token Secrets. One API server for the module: kube-system and
kube-public are its own."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from kybernetes.api import bootstrap_jws as jws
from kybernetes.api import bootstrap_tokens as bt
from kybernetes.api import errors
from kybernetes.api.resources import CONFIGMAPS, SECRETS
from kybernetes.client import ApiClient
from tests.integration.controllers.helpers import running
from tests.support.poll import eventually

CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
NOW = _dt.datetime.now(_dt.UTC)


async def _signatures(client: ApiClient) -> dict[str, str]:
    cm = await client.get(CONFIGMAPS, bt.CLUSTER_INFO, namespace=bt.PUBLIC_NAMESPACE)
    return {k.removeprefix(jws.SIGNATURE_PREFIX): v for k, v in (cm.get("data") or {}).items()
            if k.startswith(jws.SIGNATURE_PREFIX)}


async def _token(client: ApiClient, token: str, **kw: Any) -> None:
    await client.create(SECRETS, bt.secret_for(token, ttl=kw.pop("ttl", None), **kw),
                        namespace=bt.NAMESPACE)


async def test_signer_signs_with_every_signing_token_and_drops_gone_ones(
        client: ApiClient) -> None:
    cluster_info = bt.cluster_info("https://10.0.0.1:6443", CA)
    cluster_info["data"]["jws-kubeconfig-zzzzzz"] = "left over"
    await client.create(CONFIGMAPS, cluster_info, namespace=bt.PUBLIC_NAMESPACE)
    kubeconfig = cluster_info["data"]["kubeconfig"]
    await _token(client, "aaaaaa.0123456789abcdef")
    # expired an hour ago: never signs (the cleaner is not running here)
    await _token(client, "bbbbbb.0123456789abcdef", ttl=_dt.timedelta(hours=-1))
    not_signing = bt.secret_for("cccccc.0123456789abcdef", ttl=None)
    not_signing["data"].pop("usage-bootstrap-signing")
    await client.create(SECRETS, not_signing, namespace=bt.NAMESPACE)

    async with running(client, "bootstrapsigner"):
        async def only_aaaaaa() -> dict[str, str] | None:
            sigs = await _signatures(client)
            return sigs if set(sigs) == {"aaaaaa"} else None
        sigs = await eventually(only_aaaaaa, what="one signature, of aaaaaa")
        assert jws.signature_is_valid(sigs["aaaaaa"], kubeconfig, "aaaaaa", "0123456789abcdef")

        # a new token is signed within seconds; one that expires soon loses its signature
        await _token(client, "dddddd.fedcba9876543210", ttl=_dt.timedelta(seconds=3))
        await eventually(lambda: _has(client, {"aaaaaa", "dddddd"}), what="dddddd signed")
        # a changed kubeconfig is signed again
        cm = await client.get(CONFIGMAPS, bt.CLUSTER_INFO, namespace=bt.PUBLIC_NAMESPACE)
        cm["data"]["kubeconfig"] = kubeconfig.replace("10.0.0.1", "10.0.0.2")
        await client.update(CONFIGMAPS, cm)

        async def resigned() -> bool:
            sigs = await _signatures(client)
            return "aaaaaa" in sigs and jws.signature_is_valid(
                sigs["aaaaaa"], cm["data"]["kubeconfig"], "aaaaaa", "0123456789abcdef")
        await eventually(resigned, what="the new kubeconfig signed")
        await eventually(lambda: _has(client, {"aaaaaa"}), within=10,
                         what="dddddd's signature gone after it expired")
        await client.delete(SECRETS, "bootstrap-token-aaaaaa", namespace=bt.NAMESPACE)
        await eventually(lambda: _has(client, set()), what="a deleted token's signature gone")


async def _has(client: ApiClient, ids: set[str]) -> bool:
    return set(await _signatures(client)) == ids


async def test_cleaner_deletes_expired_tokens_only(client: ApiClient) -> None:
    await _token(client, "eeeeee.0123456789abcdef", ttl=_dt.timedelta(hours=-1))
    await _token(client, "ffffff.0123456789abcdef", ttl=_dt.timedelta(seconds=2))
    await _token(client, "gggggg.0123456789abcdef", ttl=_dt.timedelta(hours=1))
    await _token(client, "hhhhhh.0123456789abcdef")
    garbled = bt.secret_for("iiiiii.0123456789abcdef", ttl=None)
    garbled["data"]["expiration"] = "bm90IGEgdGltZQ=="  # "not a time": treated as expired
    await client.create(SECRETS, garbled, namespace=bt.NAMESPACE)
    other_type = {"metadata": {"name": "bootstrap-token-jjjjjj", "namespace": bt.NAMESPACE},
                  "data": bt.secret_for("jjjjjj.0123456789abcdef", ttl=_dt.timedelta(
                      hours=-1))["data"]}
    await client.create(SECRETS, other_type)

    async def exists(name: str) -> bool:
        try:
            await client.get(SECRETS, f"bootstrap-token-{name}", namespace=bt.NAMESPACE)
        except errors.NotFound:
            return False
        return True

    async with running(client, "tokencleaner"):
        async def remaining() -> set[str] | None:
            left = {n for n in ("eeeeee", "ffffff", "gggggg", "hhhhhh", "iiiiii", "jjjjjj")
                    if await exists(n)}
            return left if left == {"gggggg", "hhhhhh", "jjjjjj"} else None
        await eventually(remaining, within=15, what="expired tokens deleted, others kept")
