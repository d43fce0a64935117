"""Impersonation: ``Impersonate-User``, ``-Group``, ``-Uid`` and ``-Extra-<key>``
headers (``kubectl --as``, ``--as-group``), each allowed only by the ``impersonate``
verb on users, groups, serviceaccounts, uids or userextras, as kube-apiserver's
impersonation filter checks them. The request then runs as the impersonated user.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote

from multidict import CIMultiDictProxy

from kybernetes.api.errors import BadRequest
from kybernetes.apiserver.authn import User
from kybernetes.apiserver.authz.attributes import Attributes
from kybernetes.apiserver.authz.authorizer import Authorizer, forbidden

USER, GROUP, UID = "Impersonate-User", "Impersonate-Group", "Impersonate-Uid"
EXTRA_PREFIX = "Impersonate-Extra-"
AUTHENTICATION_GROUP = "authentication.k8s.io"
SA_PREFIX = "system:serviceaccount:"
ANONYMOUS = "system:anonymous"
AUTHENTICATED, UNAUTHENTICATED = "system:authenticated", "system:unauthenticated"


def wants_impersonation(headers: Mapping[str, str]) -> bool:
    return any(k.lower().startswith("impersonate-") for k in headers)


def _check(authorizer: Authorizer, attributes: Attributes) -> None:
    decision = authorizer.authorize(attributes)
    if not decision.allowed:
        raise forbidden(attributes, decision.reason)


def impersonate(requester: User, headers: CIMultiDictProxy[str],
                authorizer: Authorizer) -> User:
    """The user the request runs as; 403 when `requester` may not be them."""
    name = headers.get(USER, "")
    groups = tuple(headers.getall(GROUP, ()))
    uid = headers.get(UID, "")
    extra: dict[str, list[str]] = {}
    for key, value in headers.items():
        if key.lower().startswith(EXTRA_PREFIX.lower()):
            extra.setdefault(unquote(key[len(EXTRA_PREFIX):]).lower(), []).append(value)
    if not name:
        asked = [f"{{Group  {g}  }}" for g in groups] + \
            [f"{{UID  {uid}  }}" for _ in (uid,) if uid] + \
            [f"{{Extra  {k}  }}" for k in extra]
        raise BadRequest(f"requested [{' '.join(asked)}] without impersonating a user")

    def ask(resource: str, name_: str, *, group: str = "", namespace: str = "",
            subresource: str = "") -> None:
        _check(authorizer, Attributes(requester, "impersonate", True, api_group=group,
                                      resource=resource, subresource=subresource,
                                      namespace=namespace, name=name_))

    account = name.removeprefix(SA_PREFIX).split(":", 1) if name.startswith(SA_PREFIX) \
        else None
    if account is not None and len(account) == 2:
        ask("serviceaccounts", account[1], namespace=account[0])
        if not groups:
            groups = ("system:serviceaccounts", f"system:serviceaccounts:{account[0]}")
    else:
        ask("users", name)
    for group in groups:
        ask("groups", group)
    if uid:
        ask("uids", uid, group=AUTHENTICATION_GROUP)
    for key, values in extra.items():
        for value in values:
            ask("userextras", value, group=AUTHENTICATION_GROUP, subresource=key)
    if name == ANONYMOUS:
        implied = () if UNAUTHENTICATED in groups else (UNAUTHENTICATED,)
    else:
        implied = () if {AUTHENTICATED, UNAUTHENTICATED} & set(groups) else (AUTHENTICATED,)
    return User(name, uid, (*groups, *implied), extra)

