"""Bearer tokens that are service-account JWTs: who holds them, if they still hold.

As Kubernetes' service-account token authenticator (pkg/serviceaccount/jwt.go,
claims.go): a token this server signed, for its audiences, within its lifetime,
is the user ``system:serviceaccount:<ns>:<name>`` in the groups
``system:serviceaccounts`` and ``system:serviceaccounts:<ns>`` only while its
ServiceAccount, and the Pod or Secret it is bound to, still exist with the uids
the token names (a Pod deleted more than a minute ago no longer counts). The
objects are read from the watch cache, so authentication stays off the store; a
miss waits once for the cache to catch up with the store (as Kubernetes falls back
from its informers to a live read), so an object written just before is seen.
Every refusal is an anonymous "no": the caller answers 401.
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Sequence
from typing import Any

from kybernetes.api import resources as r
from kybernetes.api.meta import parse_time
from kybernetes.api.resources import Resource
from kybernetes.apiserver.authn import User
from kybernetes.apiserver.kinds.registry import KindRegistry
from kybernetes.apiserver.serviceaccount.jwt import InvalidToken, looks_like_jwt
from kybernetes.apiserver.serviceaccount.tokens import (
    LEEWAY_SECONDS,
    ObjectRef,
    TokenAuthority,
    TokenSubject,
    groups,
    username,
)
from kybernetes.apiserver.watch_cache import WatchCache

log = logging.getLogger("kybernetes.apiserver.serviceaccount")

POD_NAME = "authentication.kubernetes.io/pod-name"
POD_UID = "authentication.kubernetes.io/pod-uid"
NODE_NAME = "authentication.kubernetes.io/node-name"
NODE_UID = "authentication.kubernetes.io/node-uid"
CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
FRESHNESS_WAIT_SECONDS = 1.0


class ServiceAccountTokenAuthenticator:
    """Turns a live service-account token into its user."""

    def __init__(self, authority: TokenAuthority, cache: WatchCache,
                 kinds: KindRegistry) -> None:
        self.authority = authority
        self.cache = cache
        self.kinds = kinds

    async def authenticate_token(self, token: str) -> User | None:
        found = await self.authenticate_for(token, self.authority.api_audiences)
        return found[0] if found else None

    async def authenticate_for(self, token: str, audiences: Sequence[str],
                               ) -> tuple[User, tuple[str, ...]] | None:
        """The user of a token for any of `audiences`, and which of them it is for."""
        if not looks_like_jwt(token):
            return None
        try:
            subject, matched = self.authority.check_for(token, audiences)
            await self._check_live(subject)
        except InvalidToken as e:
            log.debug("service account token refused", extra={"why": str(e)})
            return None
        extra: dict[str, list[str]] = {}
        if subject.pod is not None:
            extra[POD_NAME], extra[POD_UID] = [subject.pod.name], [subject.pod.uid]
        if subject.node is not None:
            extra[NODE_NAME], extra[NODE_UID] = [subject.node.name], [subject.node.uid]
        if subject.token_id:
            extra[CREDENTIAL_ID] = [f"JTI={subject.token_id}"]
        return User(username(subject.namespace, subject.account.name), subject.account.uid,
                    (*groups(subject.namespace), "system:authenticated"), extra), matched

    async def _check_live(self, subject: TokenSubject) -> None:
        await self._live(r.SERVICE_ACCOUNTS, subject.namespace, subject.account)
        for resource, ref in ((r.PODS, subject.pod), (r.SECRETS, subject.secret)):
            if ref is not None:
                await self._live(resource, subject.namespace, ref)

    def _cached(self, resource: Resource, namespace: str, name: str) -> dict[str, Any] | None:
        obj = self.cache.cached(self.kinds.of(resource), namespace, name)
        if obj is None:
            return None
        meta: dict[str, Any] = obj.get("metadata") or {}
        return meta

    async def _live(self, resource: Resource, namespace: str, ref: ObjectRef) -> None:
        meta = self._cached(resource, namespace, ref.name)
        if meta is None or meta.get("uid") != ref.uid:
            await self.cache.wait_fresh(FRESHNESS_WAIT_SECONDS)
            meta = self._cached(resource, namespace, ref.name)
        if meta is None:
            raise InvalidToken(f"{resource.kind} named in the token no longer exists")
        if meta.get("uid") != ref.uid:
            raise InvalidToken(f"{resource.kind} named in the token was recreated")
        deleted = parse_time(meta.get("deletionTimestamp"))
        cutoff = _dt.datetime.now(_dt.UTC) - _dt.timedelta(seconds=LEEWAY_SECONDS)
        if deleted is not None and deleted < cutoff:
            raise InvalidToken(f"{resource.kind} named in the token was deleted")
