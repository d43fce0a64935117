"""The bootstrap token authenticator (kube-apiserver's
plugin/pkg/auth/authenticator/token/bootstrap, on with ``--enable-bootstrap-token-auth``
there, always on here): ``Bearer <id>.<secret>`` is the user
``system:bootstrap:<id>`` in ``system:bootstrappers`` plus the Secret's
``auth-extra-groups``, while the Secret ``bootstrap-token-<id>`` in kube-system is
of the bootstrap type, not deleted, unexpired, marked
``usage-bootstrap-authentication`` and holds that secret. The Secret is read from
the watch cache, as service-account tokens' objects are; a miss waits once for the
cache to catch up (a token made a moment ago through another server)."""

from __future__ import annotations

import datetime as _dt
import hmac
import logging
from collections.abc import Sequence

from kybernetes.api import bootstrap_tokens as bt
from kybernetes.api import resources as r
from kybernetes.apiserver.authn import User
from kybernetes.apiserver.kinds.registry import KindRegistry
from kybernetes.apiserver.watch_cache import WatchCache

log = logging.getLogger("kybernetes.apiserver.bootstrap_token")
FRESHNESS_WAIT_SECONDS = 1.0


class BootstrapTokenAuthenticator:
    def __init__(self, cache: WatchCache, kinds: KindRegistry) -> None:
        self.cache = cache
        self.kinds = kinds

    async def authenticate_token(self, token: str) -> User | None:
        match = bt.TOKEN_RE.match(token)
        if match is None:
            return None
        token_id, token_secret = match.groups()
        secret = self._secret(token_id)
        if secret is None:
            await self.cache.wait_fresh(FRESHNESS_WAIT_SECONDS)
            secret = self._secret(token_id)
        why = _refusal(secret, token_secret)
        if why:
            log.debug("bootstrap token refused", extra={"token_id": token_id, "why": why})
            return None
        assert secret is not None
        data = bt.secret_data(secret)
        extra = [g.strip() for g in data.get("auth-extra-groups", "").split(",") if g.strip()]
        if any(not bt.EXTRA_GROUP_RE.match(g) for g in extra):
            log.debug("bootstrap token refused", extra={"token_id": token_id,
                                                        "why": "bad auth-extra-groups"})
            return None
        return User(bt.USER_PREFIX + token_id,
                    groups=(bt.BOOTSTRAPPERS, *extra, "system:authenticated"))

    async def authenticate_for(self, token: str, audiences: Sequence[str],
                               ) -> tuple[User, tuple[str, ...]] | None:
        """Bootstrap tokens carry no audience: they are for all (as Kubernetes treats
        authenticators that are not audience-aware)."""
        user = await self.authenticate_token(token)
        return (user, tuple(audiences)) if user is not None else None

    def _secret(self, token_id: str) -> dict[str, object] | None:
        return self.cache.cached(self.kinds.of(r.SECRETS), bt.NAMESPACE,
                                 bt.SECRET_PREFIX + token_id)


def _refusal(secret: dict[str, object] | None, token_secret: str) -> str:
    """Why the Secret does not vouch for the token ('' when it does)."""
    if secret is None:
        return "no such secret"
    meta = secret.get("metadata")
    if isinstance(meta, dict) and meta.get("deletionTimestamp"):
        return "secret being deleted"
    if secret.get("type") != bt.SECRET_TYPE:
        return "secret of the wrong type"
    data = bt.secret_data(secret)
    if not hmac.compare_digest(data.get("token-secret", ""), token_secret):
        return "wrong token secret"
    try:
        expires = bt.expiration(data)
    except ValueError:
        return "unparsable expiration"
    if expires is not None and expires < _dt.datetime.now(_dt.UTC):
        return "expired"
    if data.get("usage-bootstrap-authentication") != "true":
        return "not for authentication"
    return ""
