"""POST ``serviceaccounts/<name>/token``: an authentication.k8s.io/v1 TokenRequest.

As pkg/registry/core/serviceaccount/storage/token.go: the ServiceAccount must
exist; `expirationSeconds` defaults to 3600 and must lie within [600 s, 2^32 s];
empty `audiences` mean the API server's own; a `boundObjectRef` names a Pod or a
Secret in the same namespace (a Pod must run as this ServiceAccount), whose uid
(checked against the request's, when given) is written into the token so that
the token dies with that object; a bound Pod's Node, when it has one that
exists, is named too (for the user's extra, as Kubernetes'
ServiceAccountTokenPodNodeInfo does). The answer is the request (its metadata as
sent) with the spec filled in and `status.token` and `status.expirationTimestamp`.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aiohttp import web

from kybernetes.api import resources as r
from kybernetes.api.errors import BadRequest, NotFound, conflict, invalid
from kybernetes.api.field_errors import ErrorList, as_dict
from kybernetes.api.meta import now_rfc3339
from kybernetes.apiserver.bodies import read_object
from kybernetes.apiserver.registry import Registry
from kybernetes.apiserver.request_info import RequestInfo
from kybernetes.apiserver.responses import json_response
from kybernetes.apiserver.serviceaccount.tokens import ObjectRef, TokenAuthority, TokenSubject
from kybernetes.apiserver.webhooks.attributes import CREATE, AdmissionAttributes, UserInfo

if TYPE_CHECKING:
    from kybernetes.apiserver.admission_chain import ValidatingPlugin

API_VERSION = "authentication.k8s.io/v1"
KIND = "TokenRequest"
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 1 << 32
BINDABLE = {"Pod": r.PODS, "Secret": r.SECRETS}


def _validate(spec: dict[str, Any]) -> None:
    errs = ErrorList()
    seconds = spec["expirationSeconds"]
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        errs.type_invalid("spec.expirationSeconds", seconds, "must be an integer")
    elif seconds < MIN_EXPIRATION_SECONDS:
        errs.invalid("spec.expirationSeconds", seconds,
                     "may not specify a duration less than 10 minutes")
    elif seconds > MAX_EXPIRATION_SECONDS:
        errs.invalid("spec.expirationSeconds", seconds,
                     "may not specify a duration larger than 2^32 seconds")
    if errs.causes:
        raise invalid(KIND, "", errs.causes, "authentication.k8s.io")


class TokenRequests:
    """Issues tokens for ServiceAccounts through the TokenRequest subresource."""

    def __init__(self, registry: Registry, authority: TokenAuthority) -> None:
        self.registry = registry
        self.authority = authority
        # Validating admission of the request as sent (kube's NodeRestriction: a
        # kubelet's tokens must be bound to a pod on its node), set by the server.
        self.validators: list[ValidatingPlugin] = []

    async def create(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        namespace, name = str(info.namespace), str(info.name)
        body = await read_object(request)
        spec = as_dict(body.get("spec"))
        spec.setdefault("expirationSeconds", DEFAULT_EXPIRATION_SECONDS)
        spec.setdefault("boundObjectRef", None)
        _validate(spec)
        await self._admit(request, namespace, name, body)
        account = await self.registry.get(self.registry.kinds.of(r.SERVICE_ACCOUNTS),
                                          namespace, name)
        audiences = list(spec.get("audiences") or self.authority.api_audiences)
        subject = await self._bind(spec, TokenSubject(
            namespace, ObjectRef(name, account["metadata"].get("uid", ""))))
        token, expiry = self.authority.issue(subject, audiences=audiences,
                                             expiration_seconds=spec["expirationSeconds"])
        spec["audiences"] = audiences
        answer = {"kind": KIND, "apiVersion": API_VERSION,
                  "metadata": body.get("metadata") or {"creationTimestamp": None},
                  "spec": spec,
                  "status": {"token": token, "expirationTimestamp": now_rfc3339(
                      _dt.datetime.fromtimestamp(expiry, _dt.UTC))}}
        return json_response(answer, status=201)

    async def _admit(self, request: web.Request, namespace: str, name: str,
                     body: dict[str, Any]) -> None:
        if not self.validators:
            return
        user = request["user"]
        attrs = AdmissionAttributes(
            operation=CREATE, group="", version="v1", resource="serviceaccounts",
            kind=KIND, user=UserInfo(user.name, user.uid, tuple(user.groups)),
            subresource="token", namespace=namespace, name=name, object=body,
            kind_group="authentication.k8s.io", kind_version="v1")
        for plugin in self.validators:
            await plugin.validate(attrs)

    async def _bind(self, spec: dict[str, Any], subject: TokenSubject) -> TokenSubject:
        """The subject bound to the `pod` (and its `node`) or `secret` the request names;
        the request's reference gets the object's uid."""
        ref = spec.get("boundObjectRef")
        if not isinstance(ref, dict):
            return subject
        api_version, kind = ref.get("apiVersion", ""), ref.get("kind", "")
        resource = BINDABLE.get(kind) if api_version in ("v1", "") else None
        if resource is None:
            group, _, version = api_version.rpartition("/")
            raise BadRequest(f"cannot bind token to object of type {group}/{version}, "
                             f"Kind={kind}")
        name = str(ref.get("name", ""))
        obj = await self.registry.get(self.registry.kinds.of(resource), subject.namespace,
                                      name)
        uid = obj["metadata"].get("uid", "")
        account = subject.account.name
        if kind == "Pod" and (obj.get("spec") or {}).get("serviceAccountName") != account:
            raise BadRequest(f'cannot bind token for serviceaccount "{account}" to pod running '
                             "with different serviceaccount name.")
        if ref.get("uid") and ref["uid"] != uid:
            raise conflict(kind, name, f"the UID in the bound object reference ({ref['uid']}) "
                           "does not match the UID in record. The object might have been "
                           "deleted and then recreated")
        ref["uid"] = uid
        if kind == "Secret":
            return replace(subject, secret=ObjectRef(name, uid))
        return replace(subject, pod=ObjectRef(name, uid),
                       node=await self._node((obj.get("spec") or {}).get("nodeName")))

    async def _node(self, name: str | None) -> ObjectRef | None:
        if not name:
            return None
        try:
            node = await self.registry.get(self.registry.kinds.of(r.NODES), None, name)
        except NotFound:
            return None  # a pod bound to a vanished node: the token names no node
        return ObjectRef(name, node["metadata"].get("uid", ""))
