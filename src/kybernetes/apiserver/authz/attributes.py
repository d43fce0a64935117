"""What a request asks to do, as an authorizer sees it.

Kubernetes' RequestInfoFactory reads these from the path and method alone, before
anything knows whether the resource exists (so a user without rights gets 403, not
404, for a resource that is not served); this is the same reading.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from kybernetes.apiserver.authn import User

_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update",
          "PATCH": "patch", "DELETE": "delete"}
_NAMESPACE_SUBRESOURCES = ("status", "finalize")
_API_PREFIXES = {"api": 2, "apis": 3}  # parts before the resource: /api/v1, /apis/g/v1


@dataclass(frozen=True)
class Attributes:
    """One authorization question: may `user` `verb` this resource (or path)?"""

    user: User
    verb: str
    resource_request: bool
    path: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    # The raw fieldSelector of a list or watch (the Node authorizer lets a kubelet list
    # pods only with spec.nodeName=<itself>, as kube's AuthorizeNodeWithSelectors).
    field_selector: str = ""

    def with_user(self, user: User) -> Attributes:
        return dataclasses.replace(self, user=user)


def _name_from_field_selector(selector: str) -> str:
    """`metadata.name=x` (alone or among others) names the object a list or watch
    is about, as Kubernetes reads it for authorization (kubectl get pod x -w)."""
    for term in selector.split(","):
        field, sep, value = term.partition("=")
        if field.strip() == "metadata.name" and sep and not value.startswith("="):
            value = value.strip()
            if value and "/" not in value and value not in (".", ".."):
                return value
    return ""


def request_attributes(user: User, method: str, path: str,
                       query: Mapping[str, str]) -> Attributes:
    """The attributes of an HTTP request, read as kube-apiserver reads them."""
    parts = [p for p in path.split("/") if p]
    depth = _API_PREFIXES.get(parts[0], 0) if parts else 0
    if not depth or len(parts) < depth:
        return Attributes(user, method.lower(), False, path=path)
    group = parts[1] if parts[0] == "apis" else ""
    version = parts[depth - 1]
    rest = parts[depth:]
    verb = _VERBS.get(method, method.lower())
    if rest[:1] == ["watch"]:  # the deprecated /api/v1/watch/... form
        verb, rest = "watch", rest[1:]
    namespace = ""
    if rest[:1] == ["namespaces"] and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0] if rest else ""
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    field_selector = ""
    if not name and verb == "get":
        verb = "watch" if query.get("watch", "").lower() in ("true", "1") else "list"
        field_selector = query.get("fieldSelector", "")
        name = _name_from_field_selector(field_selector)
    elif not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(user, verb, True, path=path, api_group=group, api_version=version,
                      resource=resource, subresource=subresource, namespace=namespace,
                      name=name, field_selector=field_selector)
