"""SelfSubjectReview (authentication.k8s.io/v1): the server tells a client who it is.

Create-only and cluster-scoped, never stored, as Kubernetes'
pkg/registry/authentication/selfsubjectreview: the answer is a SelfSubjectReview
whose ``status.userInfo`` is the authenticated user of the request, the way
``kubectl auth whoami`` prints it (uid and extra only when there are any).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kybernetes.apiserver.authn import User
from kybernetes.apiserver.bodies import read_object
from kybernetes.apiserver.responses import json_response

PATH = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


def user_info(user: User) -> dict[str, Any]:
    """An authentication.k8s.io/v1 UserInfo."""
    info: dict[str, Any] = {"username": user.name}
    if user.uid:
        info["uid"] = user.uid
    info["groups"] = list(user.groups)
    if user.extra:
        info["extra"] = {k: list(v) for k, v in user.extra.items()}
    return info


async def create(request: web.Request) -> web.Response:
    await read_object(request)  # the body says nothing; it must still be an object
    return json_response({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                          "metadata": {"creationTimestamp": None},
                          "status": {"userInfo": user_info(request["user"])}}, status=201)


def routes() -> list[web.RouteDef]:
    return [web.post(PATH, create)]
