"""The three questions every request answers before a handler runs: who is asking
(authentication), as whom (impersonation) and may they (authorization).

The attributes of the question are left on the request (``request["attributes"]``),
with the authenticated user before impersonation (``request["requester"]``) and the
authorizer's decision (``request["decision"]``), for whatever records it afterwards
(audit, metrics).
"""

from __future__ import annotations

from aiohttp import web

from kybernetes.api.errors import Unauthorized
from kybernetes.apiserver.authn import Authenticator, User
from kybernetes.apiserver.authz.attributes import request_attributes
from kybernetes.apiserver.authz.authorizer import Authorizer, forbidden
from kybernetes.apiserver.authz.impersonation import impersonate, wants_impersonation


class RequestGuard:
    def __init__(self, authenticator: Authenticator, authorizer: Authorizer) -> None:
        self.authenticator = authenticator
        self.authorizer = authorizer

    async def admit(self, request: web.Request) -> User:
        """The user the request runs as; 401 or 403 (an ApiError) otherwise."""
        user = await self.authenticate(request)
        self.authorize(request)
        return user

    async def authenticate(self, request: web.Request) -> User:
        """Who asks, and as whom (impersonation); 401 otherwise. Apart from
        :meth:`authorize` so that filters between the two (the in-flight limit) see the
        user, as in kube-apiserver's handler chain."""
        user = await self.authenticator.authenticate(request)
        if user is None:
            raise Unauthorized("Unauthorized")
        request["requester"] = user
        if wants_impersonation(request.headers):
            user = impersonate(user, request.headers, self.authorizer)
        request["attributes"] = request_attributes(user, request.method, request.path,
                                                   request.query)
        return user

    def authorize(self, request: web.Request) -> None:
        """403 unless the authorizer allows the attributes :meth:`authenticate` left."""
        attributes = request["attributes"]
        decision = request["decision"] = self.authorizer.authorize(attributes)
        if not decision.allowed:
            raise forbidden(attributes, decision.reason)
