"""OIDC discovery for the service-account issuer: ``/.well-known/openid-configuration``
and ``/openid/v1/jwks`` (pkg/serviceaccount/openidmetadata.go).

They let a relying party outside the cluster verify our tokens. Kubernetes grants
them to the ``system:service-account-issuer-discovery`` ClusterRole, which is bound
to authenticated users by default; with no RBAC here, every authenticated user may
read them, which is the same outcome.
"""

from __future__ import annotations

import json

from aiohttp import web

from kybernetes.apiserver.serviceaccount.tokens import TokenAuthority

CONFIGURATION_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/openid/v1/jwks"
CACHE_CONTROL = "public, max-age=3600"


def _document(body: object, content_type: str) -> web.Response:
    response = web.Response(body=json.dumps(body).encode(), content_type=content_type)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


def routes(authority: TokenAuthority) -> list[web.RouteDef]:
    configuration = {"issuer": authority.issuer,
                     "jwks_uri": authority.issuer.rstrip("/") + JWKS_PATH,
                     "response_types_supported": ["id_token"],
                     "subject_types_supported": ["public"],
                     "id_token_signing_alg_values_supported": ["RS256"]}
    key_set = {"keys": [authority.key.jwk()]}

    async def openid_configuration(request: web.Request) -> web.Response:
        return _document(configuration, "application/json")

    async def jwks(request: web.Request) -> web.Response:
        return _document(key_set, "application/jwk-set+json")

    return [web.get(CONFIGURATION_PATH, openid_configuration), web.get(JWKS_PATH, jwks)]
