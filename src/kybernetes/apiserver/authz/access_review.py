"""The authorization.k8s.io/v1 reviews: ask the authorizer a question over the API.

SubjectAccessReview (may this user…?), LocalSubjectAccessReview (the same, in one
namespace), SelfSubjectAccessReview (may I…? — ``kubectl auth can-i``) and
SelfSubjectRulesReview (what may I do here? — ``kubectl auth can-i --list``).
Create-only and never stored, as Kubernetes' pkg/registry/authorization: the
answer is the request with its ``status`` filled in. Creating one is itself
authorized like any create (``system:basic-user`` lets everyone ask about
themselves).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from kybernetes.api.errors import BadRequest, invalid
from kybernetes.api.field_errors import ErrorList
from kybernetes.apiserver.authn import User
from kybernetes.apiserver.authz.attributes import Attributes
from kybernetes.apiserver.authz.authorizer import Authorizer, Verdict
from kybernetes.apiserver.authz.rbac.rules import Rule
from kybernetes.apiserver.bodies import read_object
from kybernetes.apiserver.responses import json_response

GROUP = "authorization.k8s.io"
API_VERSION = f"{GROUP}/v1"
BASE = f"/apis/{API_VERSION}"
Obj = dict[str, Any]


@dataclass
class RuleList:
    """What a user may do in a namespace, as far as the authorizers can list it."""

    rules: list[Rule] = field(default_factory=list)
    incomplete: bool = False
    errors: list[str] = field(default_factory=list)


class RuleLister(Protocol):
    def __call__(self, user: User, namespace: str) -> RuleList: ...


def _user_of_spec(spec: Obj) -> User:
    extra = spec.get("extra") if isinstance(spec.get("extra"), dict) else {}
    return User(str(spec.get("user") or ""), str(spec.get("uid") or ""),
                tuple(g for g in spec.get("groups") or () if isinstance(g, str)),
                {k: list(v) for k, v in (extra or {}).items() if isinstance(v, list)})


def _attributes(user: User, spec: Obj) -> Attributes:
    resource = spec.get("resourceAttributes")
    if isinstance(resource, dict):
        return Attributes(
            user, str(resource.get("verb") or ""), True,
            api_group=str(resource.get("group") or ""),
            api_version=str(resource.get("version") or ""),
            resource=str(resource.get("resource") or ""),
            subresource=str(resource.get("subresource") or ""),
            namespace=str(resource.get("namespace") or ""),
            name=str(resource.get("name") or ""))
    other = spec.get("nonResourceAttributes") or {}
    return Attributes(user, str(other.get("verb") or ""), False,
                      path=str(other.get("path") or ""))


def _validate_spec(errors: ErrorList, spec: Obj, *, needs_subject: bool) -> None:
    """ValidateSubjectAccessReviewSpec's checks."""
    resource, other = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if resource is not None and other is not None:
        errors.invalid("spec.nonResourceAttributes", other,
                       "cannot be specified in combination with resourceAttributes")
    if resource is None and other is None:
        errors.invalid("spec.resourceAttributes", other,
                       "exactly one of nonResourceAttributes or resourceAttributes must be "
                       "specified")
    for path, value in (("spec.resourceAttributes", resource),
                        ("spec.nonResourceAttributes", other)):
        if value is not None and not isinstance(value, dict):
            errors.invalid(path, value, "must be an object")
    if needs_subject and not spec.get("user") and not spec.get("groups"):
        errors.invalid("spec.user", spec.get("user") or "",
                       "at least one of user or group must be specified")


class AccessReviews:
    def __init__(self, authorizer: Authorizer, rule_lister: RuleLister) -> None:
        self.authorizer = authorizer
        self.rule_lister = rule_lister

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(f"{BASE}/subjectaccessreviews", self._subject),
            web.post(f"{BASE}/selfsubjectaccessreviews", self._self),
            web.post(f"{BASE}/namespaces/{{namespace}}/localsubjectaccessreviews",
                     self._local),
            web.post(f"{BASE}/selfsubjectrulesreviews", self._rules),
        ]

    async def _read(self, request: web.Request, kind: str) -> tuple[Obj, Obj]:
        obj = await read_object(request)
        if not isinstance(obj, dict):
            raise BadRequest(f"the body must be a {kind} object")
        spec = obj.get("spec")
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            raise BadRequest(f"{kind}.spec must be an object")
        if not isinstance(obj.get("metadata") or {}, dict):
            raise BadRequest(f"{kind}.metadata must be an object")
        return obj, spec

    def _answer(self, kind: str, obj: Obj, spec: Obj, user: User) -> web.Response:
        decision = self.authorizer.authorize(_attributes(user, spec))
        status: Obj = {"allowed": decision.allowed}
        if decision.verdict is Verdict.DENY:
            status["denied"] = True
        if decision.reason:
            status["reason"] = decision.reason
        return _created(kind, obj, spec, status)

    async def _subject(self, request: web.Request) -> web.Response:
        return await self._plain_review(request, "SubjectAccessReview", about_self=False)

    async def _self(self, request: web.Request) -> web.Response:
        return await self._plain_review(request, "SelfSubjectAccessReview", about_self=True)

    async def _plain_review(self, request: web.Request, kind: str, *,
                            about_self: bool) -> web.Response:
        """A (Self)SubjectAccessReview: about the spec's subject, or the requester."""
        obj, spec = await self._read(request, kind)
        errors = ErrorList()
        _validate_spec(errors, spec, needs_subject=not about_self)
        _refuse(errors, kind, obj)
        user = request["user"] if about_self else _user_of_spec(spec)
        return self._answer(kind, obj, spec, user)

    async def _local(self, request: web.Request) -> web.Response:
        kind = "LocalSubjectAccessReview"
        namespace = request.match_info["namespace"]
        obj, spec = await self._read(request, kind)
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        if (meta or {}).get("namespace", namespace) != namespace:
            raise BadRequest(f"spec.resourceAttributes.namespace must match namespace: "
                             f"{namespace}")
        errors = ErrorList()
        _validate_spec(errors, spec, needs_subject=True)
        resource = spec.get("resourceAttributes")
        if isinstance(resource, dict) and resource.get("namespace", "") != namespace:
            errors.invalid("spec.resourceAttributes.namespace",
                           resource.get("namespace", ""), "must match metadata.namespace")
        if spec.get("nonResourceAttributes") is not None:
            errors.invalid("spec.nonResourceAttributes", spec["nonResourceAttributes"],
                           "disallowed on this kind of request")
        _refuse(errors, kind, obj)
        obj.setdefault("metadata", {})["namespace"] = namespace
        return self._answer(kind, obj, spec, _user_of_spec(spec))

    async def _rules(self, request: web.Request) -> web.Response:
        kind = "SelfSubjectRulesReview"
        obj, spec = await self._read(request, kind)
        namespace = spec.get("namespace")
        if not isinstance(namespace, str) or not namespace:
            raise BadRequest("no namespace on request")
        listed = self.rule_lister(request["user"], namespace)
        status: Obj = {
            "resourceRules": [_resource_rule(r) for r in listed.rules
                              if r.resources or r.api_groups],
            "nonResourceRules": [{"verbs": list(r.verbs),
                                  "nonResourceURLs": list(r.non_resource_urls)}
                                 for r in listed.rules if r.non_resource_urls],
            "incomplete": listed.incomplete}
        if listed.errors:
            status["evaluationError"] = ", ".join(listed.errors)
        return _created(kind, obj, spec, status)


def _resource_rule(rule: Rule) -> Obj:
    out: Obj = {"verbs": list(rule.verbs)}
    if rule.api_groups:
        out["apiGroups"] = list(rule.api_groups)
    if rule.resources:
        out["resources"] = list(rule.resources)
    if rule.resource_names:
        out["resourceNames"] = list(rule.resource_names)
    return out


def _refuse(errors: ErrorList, kind: str, obj: Obj) -> None:
    if errors.causes:
        name = str((obj.get("metadata") or {}).get("name") or "")
        raise invalid(kind, name, errors.causes, group=GROUP)


def _created(kind: str, obj: Obj, spec: Obj, status: Obj) -> web.Response:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return json_response({"kind": kind, "apiVersion": API_VERSION,
                          "metadata": {**(meta or {}), "creationTimestamp": None},
                          "spec": spec, "status": status}, status=201)


def full_authority(user: User, namespace: str) -> RuleList:
    """AlwaysAllow's answer: everything."""
    return RuleList([Rule(("*",), ("*",), ("*",)), Rule(("*",), non_resource_urls=("*",))])


def union(listers: list[RuleLister]) -> RuleLister:
    """Every mode's rules together, incomplete if any mode's are."""
    def lister(user: User, namespace: str) -> RuleList:
        out = RuleList()
        for each in listers:
            listed = each(user, namespace)
            out.rules.extend(listed.rules)
            out.incomplete = out.incomplete or listed.incomplete
            out.errors.extend(listed.errors)
        return out
    return lister

