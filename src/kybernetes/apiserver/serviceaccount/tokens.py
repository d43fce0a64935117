"""Service-account token claims, as Kubernetes writes and checks them
(pkg/serviceaccount/claims.go).

A token carries the registered claims (iss, sub, aud, exp, iat, nbf, jti) and a
private ``kubernetes.io`` claim naming the namespace, the ServiceAccount and the
object it is bound to (a Pod or a Secret; for a Pod also its Node), each by name
and uid, so that the authenticator can tell a token of a deleted-and-recreated
object from a live one.
Time checks allow Kubernetes' (go-jose's) one minute of clock skew.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kybernetes.apiserver.serviceaccount import jwt
from kybernetes.apiserver.serviceaccount.jwt import InvalidToken
from kybernetes.apiserver.serviceaccount.keys import SigningKey

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
PRIVATE_CLAIM = "kubernetes.io"
LEEWAY_SECONDS = 60
USER_PREFIX = "system:serviceaccount:"
ALL_GROUP = "system:serviceaccounts"


def username(namespace: str, name: str) -> str:
    return f"{USER_PREFIX}{namespace}:{name}"


def groups(namespace: str) -> tuple[str, ...]:
    return (ALL_GROUP, f"{ALL_GROUP}:{namespace}")


@dataclass(frozen=True)
class ObjectRef:
    """An object a token names: its ServiceAccount, or what the token is bound to."""

    name: str
    uid: str


@dataclass(frozen=True)
class TokenSubject:
    """What a valid token says about who holds it."""

    namespace: str
    account: ObjectRef
    pod: ObjectRef | None = None
    secret: ObjectRef | None = None
    node: ObjectRef | None = None
    token_id: str = ""


@dataclass(frozen=True)
class TokenAuthority:
    """Issues and checks the cluster's service-account tokens."""

    key: SigningKey
    issuer: str = DEFAULT_ISSUER

    @property
    def api_audiences(self) -> tuple[str, ...]:
        """Audiences the API server accepts (kube-apiserver defaults them to the issuer)."""
        return (self.issuer,)

    def issue(self, subject: TokenSubject, *, audiences: list[str], expiration_seconds: int,
              now: float | None = None) -> tuple[str, int]:
        """(token, expiry as a Unix time)."""
        issued = int(now if now is not None else time.time())
        expiry = issued + expiration_seconds
        private: dict[str, Any] = {"namespace": subject.namespace,
                                   "serviceaccount": _ref(subject.account)}
        if subject.pod is not None:
            private["pod"] = _ref(subject.pod)
        if subject.secret is not None:
            private["secret"] = _ref(subject.secret)
        if subject.node is not None:
            private["node"] = _ref(subject.node)
        claims = {"aud": audiences, "exp": expiry, "iat": issued, "iss": self.issuer,
                  "jti": str(uuid.uuid4()), PRIVATE_CLAIM: private, "nbf": issued,
                  "sub": username(subject.namespace, subject.account.name)}
        return jwt.sign(claims, self.key), expiry

    def check(self, token: str, now: float | None = None) -> TokenSubject:
        """The subject of a token this authority signed, for the API server's audiences,
        within its lifetime; InvalidToken otherwise."""
        return self.check_for(token, self.api_audiences, now)[0]

    def check_for(self, token: str, audiences: Sequence[str],
                  now: float | None = None) -> tuple[TokenSubject, tuple[str, ...]]:
        """As `check`, for any of `audiences` (a TokenReview's); also which of them the
        token is for."""
        claims = jwt.verify(token, self.key)
        if claims.get("iss") != self.issuer:
            raise InvalidToken("issuer mismatch")
        claimed = claims.get("aud")
        claimed = [claimed] if isinstance(claimed, str) else claimed or []
        matched = tuple(a for a in audiences if a in claimed)
        if not matched:
            raise InvalidToken("token audiences are not accepted")
        _check_times(claims, now if now is not None else time.time())
        return _subject(claims), matched


def _ref(ref: ObjectRef) -> dict[str, str]:
    return {"name": ref.name, "uid": ref.uid}


def _check_times(claims: dict[str, Any], now: float) -> None:
    try:
        expiry, not_before = float(claims["exp"]), float(claims.get("nbf", 0))
    except (KeyError, TypeError, ValueError) as e:
        raise InvalidToken("missing or malformed exp/nbf") from e
    if now > expiry + LEEWAY_SECONDS:
        raise InvalidToken("service account token has expired")
    if now < not_before - LEEWAY_SECONDS:
        raise InvalidToken("service account token is not valid yet")


def _ref_of(value: Any) -> ObjectRef | None:
    if not isinstance(value, dict):
        return None
    return ObjectRef(str(value.get("name", "")), str(value.get("uid", "")))


def _subject(claims: dict[str, Any]) -> TokenSubject:
    private = claims.get(PRIVATE_CLAIM)
    account = _ref_of(private.get("serviceaccount")) if isinstance(private, dict) else None
    if not isinstance(private, dict) or account is None or not account.name:
        raise InvalidToken("no kubernetes.io service account claim")
    namespace = str(private.get("namespace", ""))
    if claims.get("sub") != username(namespace, account.name):
        raise InvalidToken("subject does not match the service account claim")
    return TokenSubject(namespace, account, _ref_of(private.get("pod")),
                        _ref_of(private.get("secret")), _ref_of(private.get("node")),
                        str(claims.get("jti", "")))
