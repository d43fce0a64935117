"""Informer transforms: managedFields dropped, repeated strings shared, in the cache."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from kybernetes.api.resources import PODS
from kybernetes.client import Informer, WatchEvent
from kybernetes.client.transforms import compact, drop_managed_fields, share_strings
from tests.unit.client.test_informer import ScriptedWatch


def pod(name: str, rv: str) -> dict[str, Any]:
    # decoded from JSON, as the client decodes: equal strings are distinct objects
    result: dict[str, Any] = orjson.loads(orjson.dumps(
        {"metadata": {"name": name, "namespace": "ns", "resourceVersion": rv,
                      "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {}}}]},
         "spec": {"nodeName": "hollow-node-1",
                  "containers": [{"name": "c", "imagePullPolicy": "IfNotPresent"}]}}))
    return result


def test_drop_managed_fields_keeps_the_rest() -> None:
    p = drop_managed_fields(pod("a", "1"))
    assert "managedFields" not in p["metadata"]
    assert p["metadata"]["name"] == "a" and p["spec"]["nodeName"] == "hollow-node-1"


def test_share_strings_gives_equal_strings_one_object() -> None:
    a, b = share_strings(pod("a", "1")), share_strings(pod("b", "2"))
    assert a == pod("a", "1")  # nothing changed but identity
    assert a["spec"]["nodeName"] is b["spec"]["nodeName"]
    assert a["spec"]["containers"][0]["imagePullPolicy"] is \
        b["spec"]["containers"][0]["imagePullPolicy"]
    long = "x" * 200
    assert share_strings({"m": long})["m"] is long  # long strings are left alone


class OneWatchClient:
    """Lists a, then watches: b added, a updated, b deleted."""

    async def list_all(self, resource: Any, **kwargs: Any) -> dict[str, Any]:
        return {"metadata": {"resourceVersion": "1"}, "items": [pod("a", "1")]}

    def watch(self, resource: Any, **kwargs: Any) -> ScriptedWatch:
        return ScriptedWatch([WatchEvent("ADDED", pod("b", "2")),
                              WatchEvent("MODIFIED", pod("a", "3")),
                              WatchEvent("DELETED", pod("b", "4"))], None)


async def test_informer_transforms_what_it_caches_and_hands_out() -> None:
    informer = Informer(OneWatchClient(), PODS, transform=compact)  # type: ignore[arg-type]
    seen: list[dict[str, Any]] = []
    informer.add_handler(on_add=seen.append, on_update=lambda old, new: seen.append(new),
                         on_delete=seen.append)
    await informer.start()
    try:
        async with asyncio.timeout(5):
            while len(seen) < 4:  # noqa: ASYNC110 - polling a plain list
                await asyncio.sleep(0.01)
    finally:
        await informer.aclose()
    assert [p["metadata"]["name"] for p in seen] == ["a", "b", "a", "b"]
    assert all("managedFields" not in p["metadata"] for p in seen)
    assert informer.keys() == ["ns/a"]
    assert "managedFields" not in informer.get("ns/a")["metadata"]  # type: ignore[index]
