"""Service-account tokens for the pods on this node (the kubelet's token manager).

A projected `serviceAccountToken` source becomes a TokenRequest for the pod's
ServiceAccount, bound to the pod (so the token dies with it), with the
source's audience and expirationSeconds. Tokens are cached per pod and source
and fetched again by Kubernetes' rule (pkg/kubelet/token): once 80% of the
lifetime has passed, or 24 hours after issue, each less a random jitter of up
to 10 s so that many pods do not refresh in one burst. Token values are never
logged.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kybernetes.api.meta import parse_time
from kybernetes.api.resources import SERVICE_ACCOUNTS
from kybernetes.client.verbs import SubresourceCreator

MAX_TTL = 24 * 3600.0
MAX_JITTER = 10.0
DEFAULT_EXPIRATION_SECONDS = 3600  # the API's default for a projected token source


@dataclass(frozen=True)
class Token:
    """An issued token, when it was issued, when it expires, and its refresh jitter."""

    value: str
    issued_at: float
    expires_at: float
    jitter: float = 0.0

    @property
    def refresh_at(self) -> float:
        """When the kubelet fetches a new one: 80% of the lifetime, or 24 h, less jitter."""
        lifetime = self.expires_at - self.issued_at
        return min(self.issued_at + MAX_TTL, self.expires_at - lifetime * 0.2) - self.jitter

    def needs_refresh(self, now: float) -> bool:
        return now >= self.refresh_at


def token_request(pod: dict[str, Any], audience: str, expiration_seconds: int) -> dict[str, Any]:
    """The TokenRequest for a pod's projected token: bound to the pod by name and uid."""
    meta = pod["metadata"]
    spec: dict[str, Any] = {"expirationSeconds": expiration_seconds, "boundObjectRef": {
        "apiVersion": "v1", "kind": "Pod", "name": meta["name"], "uid": meta["uid"]}}
    if audience:
        spec["audiences"] = [audience]
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}


def issued(answer: dict[str, Any], jitter: float) -> Token:
    """The Token a TokenRequest answer carries; issue time from its lifetime, as kube."""
    expiry = parse_time((answer.get("status") or {}).get("expirationTimestamp"))
    if expiry is None:
        raise ValueError("TokenRequest answer has no status.expirationTimestamp")
    seconds = (answer.get("spec") or {}).get("expirationSeconds") or DEFAULT_EXPIRATION_SECONDS
    expires_at = expiry.timestamp()
    return Token(answer["status"]["token"], expires_at - float(seconds), expires_at, jitter)


class TokenManager:
    """Fetches and caches the tokens of the pods' projected volumes."""

    def __init__(self, client: SubresourceCreator, *,
                 clock: Callable[[], float] = time.time,
                 jitter: Callable[[], float] = lambda: random.uniform(0, MAX_JITTER)) -> None:
        self.client = client
        self.clock = clock
        self.jitter = jitter
        self._tokens: dict[tuple[str, str, int], Token] = {}

    async def pod_token(self, pod: dict[str, Any], audience: str,
                        expiration_seconds: int) -> Token:
        """A valid token for `pod`'s ServiceAccount: the cached one unless it is due."""
        key = (pod["metadata"]["uid"], audience, expiration_seconds)
        cached = self._tokens.get(key)
        if cached is not None and not cached.needs_refresh(self.clock()):
            return cached
        meta = pod["metadata"]
        account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
        answer = await self.client.create_subresource(
            SERVICE_ACCOUNTS, account, "token",
            token_request(pod, audience, expiration_seconds), namespace=meta.get("namespace"))
        token = self._tokens[key] = issued(answer, self.jitter())
        return token

    def next_refresh(self, pod_uid: str) -> float | None:
        """When the first of the pod's cached tokens is due (None: it has none)."""
        due = [t.refresh_at for (uid, _, _), t in self._tokens.items() if uid == pod_uid]
        return min(due, default=None)

    def forget(self, pod_uid: str) -> None:
        for key in [k for k in self._tokens if k[0] == pod_uid]:
            del self._tokens[key]
