"""The service-account token machinery of one API server, made from the data dir:
the signing authority, the TokenRequest subresource, the token authenticator and
the issuer discovery routes, so the server wires them in one place."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from kybernetes.apiserver.pki import Where
from kybernetes.apiserver.registry import Registry
from kybernetes.apiserver.serviceaccount import issuer_discovery
from kybernetes.apiserver.serviceaccount.authenticator import ServiceAccountTokenAuthenticator
from kybernetes.apiserver.serviceaccount.keys import ensure_signing_key
from kybernetes.apiserver.serviceaccount.token_request import TokenRequests
from kybernetes.apiserver.serviceaccount.tokens import TokenAuthority


@dataclass(frozen=True)
class ServiceAccountTokens:
    authority: TokenAuthority
    requests: TokenRequests
    authenticator: ServiceAccountTokenAuthenticator

    @classmethod
    def load(cls, data_dir: Where, registry: Registry) -> ServiceAccountTokens:
        """Read the signing key (making it on first start)."""
        authority = TokenAuthority(ensure_signing_key(data_dir))
        return cls(authority, TokenRequests(registry, authority),
                   ServiceAccountTokenAuthenticator(authority, registry.cache, registry.kinds))

    def routes(self) -> list[web.RouteDef]:
        return issuer_discovery.routes(self.authority)
