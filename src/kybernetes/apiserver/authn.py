"""Authentication: who is asking. TLS client certificates, then bearer tokens.

* A client certificate signed by the cluster CA names the user in its CN and the
  groups in its O attributes, as Kubernetes' x509 authenticator reads them
  (:mod:`.client_certs` verifies it; a foreign or expired one is 401).
* ``--token-auth-file``: Kubernetes' static token CSV, one
  ``token,user,uid,"group1,group2"`` line per user (groups optional).
* Other bearer tokens go to the token authenticators in turn (service-account
  JWTs: :mod:`.serviceaccount.authenticator`).
* The plain-HTTP ``--insecure-port`` (loopback only) is trusted as
  ``system:masters``, as Kubernetes' old insecure port was.

A request with no credentials at all is ``system:anonymous`` in group
``system:unauthenticated`` (``--anonymous-auth``, on by default as in Kubernetes),
whom the default RBAC policy lets read only health and version; credentials that
do not check out are 401, never anonymous. What anyone may do is
:mod:`.authz`'s question.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from aiohttp import web

from kybernetes.apiserver.client_certs import ClientCertAuthenticator


@dataclass(frozen=True)
class User:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict, compare=False, hash=False)


class TokenAuthenticator(Protocol):
    async def authenticate_token(self, token: str) -> User | None:
        """The user a bearer token stands for, or None when it is not this kind's."""

    async def authenticate_for(self, token: str, audiences: Sequence[str],
                               ) -> tuple[User, tuple[str, ...]] | None:
        """As `authenticate_token` for any of `audiences` (a TokenReview's), with the
        ones the token is for."""


INSECURE_USER = User("system:admin", groups=("system:masters", "system:authenticated"))
ANONYMOUS_USER = User("system:anonymous", groups=("system:unauthenticated",))


def load_token_file(path: str | Path) -> dict[str, User]:
    """Parse a static token file; ValueError (with the line) for a malformed one."""
    tokens: dict[str, User] = {}
    with open(path, newline="") as f:
        for lineno, row in enumerate(csv.reader(f), 1):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if len(row) < 3 or not row[0].strip() or not row[1].strip():
                raise ValueError(f"{path}:{lineno}: want token,user,uid[,\"group1,group2\"]")
            groups = tuple(g.strip() for g in row[3].split(",") if g.strip()) \
                if len(row) > 3 else ()
            tokens[row[0].strip()] = User(row[1].strip(), row[2].strip(), groups)
    return tokens


class Authenticator:
    def __init__(self, tokens: dict[str, User] | None = None,
                 token_authenticators: Sequence[TokenAuthenticator] = (), *,
                 anonymous: bool = True,
                 client_certs: ClientCertAuthenticator | None = None) -> None:
        self.tokens = tokens or {}
        self.client_certs = client_certs or ClientCertAuthenticator()
        self.token_authenticators = token_authenticators
        self.anonymous = anonymous

    async def authenticate(self, request: web.Request) -> User | None:
        """The user behind a request, or None (the caller answers 401)."""
        if not request.secure:  # only the loopback --insecure-port serves plain HTTP
            return INSECURE_USER
        cert = self.client_certs.verdict(request)
        if cert.name:
            return User(cert.name, groups=(*cert.groups, "system:authenticated"))
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token:
            static = self._static(token)
            if static is not None:
                return static
            for authenticator in self.token_authenticators:
                user = await authenticator.authenticate_token(token)
                if user is not None:
                    return user
            return None
        if cert.rejected:  # bad credentials are 401, never anonymous
            return None
        return ANONYMOUS_USER if self.anonymous else None

    def _static(self, token: str) -> User | None:
        found = self.tokens.get(token)
        if found is None:
            return None
        return User(found.name, found.uid, (*found.groups, "system:authenticated"))

    async def review_token(self, token: str, audiences: Sequence[str],
                           ) -> tuple[User, tuple[str, ...]] | None:
        """A TokenReview's question: who holds `token`, for which of `audiences`. Static
        tokens are audience-agnostic: they are for all of them, as in Kubernetes."""
        static = self._static(token)
        if static is not None:
            return static, tuple(audiences)
        for authenticator in self.token_authenticators:
            found = await authenticator.authenticate_for(token, audiences)
            if found is not None:
                return found
        return None
