"""The kubelet API's request attributes, kube's 403 text, and the review caches."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kybernetes.api.errors import ServiceUnavailable
from kybernetes.api.resources import Resource
from kybernetes.kubelet.auth import (
    AuthSettings,
    Caller,
    KubeletAuth,
    TtlCache,
    Unavailable,
    caller_from_cert,
    forbidden_message,
    request_attributes,
)


@pytest.mark.parametrize(("method", "path", "verb", "subresources"), [
    ("GET", "/pods", "get", ("pods", "proxy")),
    ("GET", "/runningpods/", "get", ("pods", "proxy")),
    ("GET", "/stats/summary", "get", ("stats",)),
    ("GET", "/metrics/cadvisor", "get", ("metrics",)),
    ("GET", "/logs/syslog", "get", ("log",)),
    ("POST", "/checkpoint/ns/p/c", "create", ("checkpoint",)),
    ("GET", "/containerLogs/ns/p/c", "get", ("proxy",)),
    ("GET", "/exec/ns/p/c", "get", ("proxy",)),  # a WebSocket upgrade is a GET
    ("POST", "/exec/ns/p/c", "create", ("proxy",)),
    ("POST", "/run/ns/p/c", "create", ("proxy",)),
    ("PUT", "/spec", "update", ("proxy",)),
    ("PATCH", "/x", "patch", ("proxy",)),
    ("DELETE", "/x", "delete", ("proxy",)),
    ("HEAD", "/podsfoo", "get", ("proxy",)),  # not a sub-path of /pods
    ("GET", "/statsx", "get", ("proxy",)),
])
def test_request_attributes_map_paths_as_the_kubelet(method: str, path: str, verb: str,
                                                     subresources: tuple[str, ...]) -> None:
    assert request_attributes(method, path) == (verb, subresources)


def test_forbidden_message_is_kubes() -> None:
    assert forbidden_message(Caller("bob"), "get", ("pods", "proxy")) == (
        "Forbidden (user=bob, verb=get, resource=nodes, subresource(s)=[pods proxy])\n")


def test_caller_from_a_verified_certificate() -> None:
    cert = {"subject": ((("organizationName", "system:nodes"),),
                        (("commonName", "system:node:a"),))}
    assert caller_from_cert(cert) == Caller(
        "system:node:a", groups=("system:nodes", "system:authenticated"))
    assert caller_from_cert({}) is None and caller_from_cert(None) is None


def test_ttl_cache_expires_and_stays_bounded() -> None:
    now = [0.0]
    cache: TtlCache[int] = TtlCache(size=2, clock=lambda: now[0])
    cache.put("a", 1, 10)
    cache.put("b", 2, 1)
    cache.put("zero", 3, 0)  # not kept at all
    assert (cache.get("a"), cache.get("b"), cache.get("zero")) == (1, 2, None)
    now[0] = 1.0
    assert cache.get("b") is None and cache.get("a") == 1
    cache.put("c", 3, 10)
    cache.put("d", 4, 10)
    assert cache.get("a") is None and (cache.get("c"), cache.get("d")) == (3, 4)


class FakeApi:
    """Answers reviews from tables; counts what it was asked."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.allowed: set[tuple[str, str, str]] = set()
        self.tokens: dict[str, dict[str, Any]] = {}
        self.down = False

    async def create(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(obj)
        if self.down:
            raise ServiceUnavailable("no API server")
        spec = obj["spec"]
        if obj["kind"] == "TokenReview":
            user = self.tokens.get(spec["token"])
            status = {"authenticated": True, "user": user} if user else {"user": {}}
            return {**obj, "status": status}
        attrs = spec["resourceAttributes"]
        assert (attrs["resource"], attrs["name"], attrs["version"]) == ("nodes", "n1", "v1")
        key = (spec["user"], attrs["verb"], attrs["subresource"])
        return {**obj, "status": {"allowed": key in self.allowed}}


def test_decisions_are_cached_for_their_ttl() -> None:
    api, now = FakeApi(), [0.0]
    auth = KubeletAuth(api, "n1", clock=lambda: now[0])
    bob = Caller("bob", groups=("system:authenticated",))

    async def run() -> None:
        assert not await auth.authorize(bob, "get", "proxy")
        api.allowed.add(("bob", "get", "proxy"))
        assert not await auth.authorize(bob, "get", "proxy")  # the no is kept 30 s
        now[0] = 31.0
        assert await auth.authorize(bob, "get", "proxy")
        api.allowed.clear()
        now[0] = 300.0
        assert await auth.authorize(bob, "get", "proxy")  # the yes is kept 5 min
        now[0] = 332.0
        assert not await auth.authorize(bob, "get", "proxy")

    asyncio.run(run())
    assert len(api.calls) == 3
    assert api.calls[0]["spec"]["groups"] == ["system:authenticated"]


def test_tokens_are_reviewed_once_per_ttl_and_errors_are_not_cached() -> None:
    api, now = FakeApi(), [0.0]
    auth = KubeletAuth(api, "n1", AuthSettings(token_cache_ttl=120), clock=lambda: now[0])
    api.tokens["good"] = {"username": "system:serviceaccount:a:b", "uid": "u1",
                          "groups": ["system:serviceaccounts"],
                          "extra": {"k": ["v"]}}

    async def run() -> None:
        caller = await auth.authenticate_token("good")
        assert caller == Caller("system:serviceaccount:a:b", "u1",
                                ("system:serviceaccounts",), (("k", ("v",)),))
        assert await auth.authenticate_token("good") == caller
        assert await auth.authenticate_token("bad") is None
        assert await auth.authenticate_token("bad") is None
        api.down = True
        with pytest.raises(Unavailable):
            await auth.authenticate_token("other")
        with pytest.raises(Unavailable):
            await auth.authorize(caller, "get", "log")
        api.down = False
        assert await auth.authenticate_token("other") is None

    asyncio.run(run())
    assert [c["spec"].get("token") for c in api.calls] == [
        "good", "bad", "other", None, "other"]
    assert api.calls[3]["spec"]["extra"] == {"k": ["v"]} and api.calls[3]["spec"]["uid"] == "u1"


def test_always_allow_and_no_token_webhook() -> None:
    api = FakeApi()
    auth = KubeletAuth(api, "n1", AuthSettings(token_webhook=False,
                                               authorization_mode="AlwaysAllow"))
    assert asyncio.run(auth.authorize(Caller("x"), "delete", "proxy"))
    assert asyncio.run(auth.authenticate_token("anything")) is None
    assert api.calls == []
