"""Who may call the kubelet's HTTPS API, as the Kubernetes kubelet decides it with
``--authentication-token-webhook`` and ``--authorization-mode=Webhook``.

Authentication: a client certificate from the cluster CA (the TLS layer verifies
it) names the user in its CN and the groups in its O attributes; otherwise a
bearer token is sent to the API server in a TokenReview. Nothing else gets in
(anonymous is off: 401), except /healthz, which the server leaves open.

Authorization: a SubjectAccessReview for the caller on ``nodes/<subresource>``
named after this node, the verb from the HTTP method, the subresource from the
path as pkg/kubelet/server/auth.go maps it (with KubeletFineGrainedAuthz, on since
1.33: /pods is ``pods`` or else ``proxy``). A WebSocket exec is a GET, so ``get``:
Kubernetes adds its extra ``create`` check for WebSocket upgrades in the API
server's pods/exec, not on nodes/proxy. Answers are cached as the kubelet caches
them: token reviews 2 min, allowed 5 min, denied 30 s; errors are never cached.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from kybernetes.api import resources as r
from kybernetes.api.errors import ApiError
from kybernetes.api.resources import Resource

log = logging.getLogger("kybernetes.kubelet.auth")

REVIEW_TIMEOUT_SECONDS = 10.0
CACHE_ENTRIES = 8192
VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
         "DELETE": "delete"}
# path prefix → subresource; anything else is nodes/proxy
SUBRESOURCES = (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"),
                ("/checkpoint", "checkpoint"))
# KubeletFineGrainedAuthz: tried before the fallback to proxy
FINE_GRAINED = (("/pods", "pods"), ("/runningpods", "pods"), ("/healthz", "healthz"),
                ("/configz", "configz"), ("/statusz", "statusz"))


@dataclass(frozen=True)
class Caller:
    """An authenticated user of the kubelet API (authentication.k8s.io UserInfo)."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


class ReviewClient(Protocol):
    """The API client the reviews are created with (ApiClient fits)."""

    async def create(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]: ...


class Unavailable(Exception):
    """The API server could not answer a review: 401 or 500, never cached."""


def _is_subpath(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def request_attributes(method: str, path: str) -> tuple[str, tuple[str, ...]]:
    """(verb, subresources in the order they are tried) for a request on this path."""
    verb = VERBS.get(method.upper(), "")
    fine = [sub for prefix, sub in FINE_GRAINED if _is_subpath(path, prefix)][:1]
    coarse = [sub for prefix, sub in SUBRESOURCES if _is_subpath(path, prefix)][:1]
    return verb, (*fine, *(coarse or ["proxy"]))


def forbidden_message(caller: Caller, verb: str, subresources: Sequence[str]) -> str:
    """The kubelet's 403 text (Go's %v of a []string: space-separated in brackets)."""
    return (f"Forbidden (user={caller.name}, verb={verb}, resource=nodes, "
            f"subresource(s)=[{' '.join(subresources)}])\n")


def caller_from_cert(peercert: dict[str, Any] | None) -> Caller | None:
    """The user a verified client certificate names (CN), in its groups (O)."""
    if not peercert:
        return None
    names: list[str] = []
    groups: list[str] = []
    for rdn in peercert.get("subject") or ():
        for key, value in rdn:
            if key == "commonName":
                names.append(value)
            elif key == "organizationName":
                groups.append(value)
    if not names or not names[0]:
        return None
    return Caller(names[0], groups=(*groups, "system:authenticated"))


def _caller_from_user_info(info: dict[str, Any]) -> Caller | None:
    name = info.get("username")
    if not isinstance(name, str) or not name:
        return None
    extra = info.get("extra") if isinstance(info.get("extra"), dict) else {}
    return Caller(name, str(info.get("uid") or ""),
                  tuple(g for g in info.get("groups") or () if isinstance(g, str)),
                  tuple(sorted((k, tuple(v)) for k, v in (extra or {}).items()
                               if isinstance(v, list))))


V = TypeVar("V")


@dataclass
class TtlCache(Generic[V]):
    """Answers kept for a time each, the oldest dropped past `size` entries."""

    size: int = CACHE_ENTRIES
    clock: Callable[[], float] = time.monotonic
    _entries: dict[Any, tuple[float, V]] = field(default_factory=dict)

    def get(self, key: Any) -> V | None:
        found = self._entries.get(key)
        if found is None:
            return None
        if found[0] <= self.clock():
            del self._entries[key]
            return None
        return found[1]

    def put(self, key: Any, value: V, ttl: float) -> None:
        if ttl <= 0:
            return
        self._entries.pop(key, None)
        while len(self._entries) >= self.size:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (self.clock() + ttl, value)


@dataclass(frozen=True)
class AuthSettings:
    """The kubelet's authentication/authorization configuration (Kubernetes' defaults)."""

    token_webhook: bool = True
    token_cache_ttl: float = 120.0
    authorization_mode: str = "Webhook"  # or AlwaysAllow
    authorized_ttl: float = 300.0
    unauthorized_ttl: float = 30.0


class KubeletAuth:
    """Authenticates callers and asks the API server whether they may."""

    def __init__(self, client: ReviewClient, node_name: str,
                 settings: AuthSettings = AuthSettings(), *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.node_name = node_name
        self.settings = settings
        self._tokens: TtlCache[Caller | bool] = TtlCache(clock=clock)
        self._decisions: TtlCache[bool] = TtlCache(clock=clock)

    async def authenticate_token(self, token: str) -> Caller | None:
        """The holder of a bearer token per a TokenReview; Unavailable on API errors."""
        if not self.settings.token_webhook:
            return None
        key = hashlib.sha256(token.encode()).digest()  # the token itself is not kept
        cached = self._tokens.get(key)
        if cached is not None:
            return cached if isinstance(cached, Caller) else None
        review = await self._create(r.TOKEN_REVIEWS, {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "spec": {"token": token}})
        status = review.get("status") or {}
        caller = _caller_from_user_info(status.get("user") or {}) \
            if status.get("authenticated") else None
        self._tokens.put(key, caller or False, self.settings.token_cache_ttl)
        return caller

    async def authorize(self, caller: Caller, verb: str, subresource: str) -> bool:
        """May `caller` `verb` nodes/`subresource` on this node? Unavailable on errors."""
        if self.settings.authorization_mode == "AlwaysAllow":
            return True
        key = (caller, verb, subresource)
        cached = self._decisions.get(key)
        if cached is not None:
            return cached
        spec: dict[str, Any] = {
            "resourceAttributes": {"verb": verb, "version": "v1", "resource": "nodes",
                                   "subresource": subresource, "name": self.node_name},
            "user": caller.name, "groups": list(caller.groups)}
        if caller.uid:
            spec["uid"] = caller.uid
        if caller.extra:
            spec["extra"] = {k: list(v) for k, v in caller.extra}
        review = await self._create(r.SUBJECT_ACCESS_REVIEWS, {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": spec})
        allowed = bool((review.get("status") or {}).get("allowed"))
        self._decisions.put(key, allowed, self.settings.authorized_ttl if allowed
                            else self.settings.unauthorized_ttl)
        return allowed

    async def _create(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        try:
            async with asyncio.timeout(REVIEW_TIMEOUT_SECONDS):
                return await self.client.create(resource, obj)
        except (ApiError, TimeoutError, OSError) as e:
            log.warning("review failed", extra={"kind": obj["kind"], "error": str(e)})
            raise Unavailable(str(e)) from e
