"""TokenReview (authentication.k8s.io/v1): who holds this bearer token?

How a kubelet with ``--authentication-token-webhook`` (or any webhook-authenticating
server) learns who sent it a token. Create-only, cluster-scoped and never stored,
as Kubernetes' pkg/registry/authentication/tokenreview: the answer is the review
with ``status.authenticated``, ``status.user`` and ``status.audiences`` filled in.
``spec.audiences`` left empty means the API server's own audiences. Creating one is
authorized like any create (``system:auth-delegator`` and every node may).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from aiohttp import web

from kybernetes.api.errors import BadRequest
from kybernetes.apiserver.authn import User
from kybernetes.apiserver.bodies import read_object
from kybernetes.apiserver.responses import json_response
from kybernetes.apiserver.self_subject_review import user_info

API_VERSION = "authentication.k8s.io/v1"
PATH = f"/apis/{API_VERSION}/tokenreviews"
Obj = dict[str, Any]


class TokenReviewer(Protocol):
    async def review_token(self, token: str, audiences: Sequence[str],
                           ) -> tuple[User, tuple[str, ...]] | None: ...


class TokenReviews:
    def __init__(self, reviewer: TokenReviewer, api_audiences: Sequence[str]) -> None:
        self.reviewer = reviewer
        self.api_audiences = tuple(api_audiences)

    def routes(self) -> list[web.RouteDef]:
        return [web.post(PATH, self.create)]

    async def create(self, request: web.Request) -> web.Response:
        obj = await read_object(request)
        if not isinstance(obj, dict):
            raise BadRequest("the body must be a TokenReview object")
        meta: Obj = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
        if meta.get("namespace"):
            raise BadRequest(f"namespace is not allowed on this type: {meta['namespace']}")
        spec: Obj = obj["spec"] if isinstance(obj.get("spec"), dict) else {}
        token = spec.get("token")
        if not isinstance(token, str) or not token:
            raise BadRequest("token is required for TokenReview in authentication")
        wanted = spec.get("audiences") or []
        if not isinstance(wanted, list) or not all(isinstance(a, str) for a in wanted):
            raise BadRequest("spec.audiences must be a list of strings")
        found = await self.reviewer.review_token(token, wanted or self.api_audiences)
        status: Obj = {"user": {}}
        if found is not None:
            user, audiences = found
            status = {"authenticated": True, "user": user_info(user)}
            if audiences:
                status["audiences"] = list(audiences)
        return json_response({"kind": "TokenReview", "apiVersion": API_VERSION,
                              "metadata": {**meta, "creationTimestamp": None},
                              "spec": spec, "status": status}, status=201)
