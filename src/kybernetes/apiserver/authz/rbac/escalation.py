"""Escalation prevention: nobody grants through RBAC what they do not hold.

Creating or updating a Role or ClusterRole needs every rule in it to be held by
the writer already, or the ``escalate`` verb on it; a RoleBinding or
ClusterRoleBinding needs the ``bind`` verb on the role it names, or every rule of
that role. An aggregationRule (which can gather anything) needs full authority.
``system:masters`` is exempt. Kubernetes does this in its RBAC storage; here it
is the first validating admission plugin, which sees the same final object.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.errors import Forbidden, NotFound
from kybernetes.apiserver.authn import User
from kybernetes.apiserver.authz.attributes import Attributes
from kybernetes.apiserver.authz.authorizer import PRIVILEGED_GROUP, Authorizer
from kybernetes.apiserver.authz.rbac.resolver import RuleResolver
from kybernetes.apiserver.authz.rbac.rules import Rule, compact, uncovered
from kybernetes.apiserver.webhooks.attributes import CREATE, UPDATE, AdmissionAttributes

GROUP = "rbac.authorization.k8s.io"
ROLE_RESOURCES = ("roles", "clusterroles")
BINDING_RESOURCES = ("rolebindings", "clusterrolebindings")
FULL_AUTHORITY = (Rule(("*",), ("*",), ("*",)), Rule(("*",), non_resource_urls=("*",)))
_GC_FIELDS = ("ownerReferences", "finalizers")


def _go_strings(values: tuple[str, ...]) -> str:
    return "[" + " ".join('"' + v.replace('"', '\\"') + '"' for v in values) + "]"


def _only_gc_fields_changed(new: Any, old: Any) -> bool:
    """An update that only touches ownerReferences/finalizers (the garbage collector's
    writes) is never an escalation."""
    def without_gc(obj: Any) -> Any:
        if not isinstance(obj, dict):
            return obj
        meta = {k: v for k, v in (obj.get("metadata") or {}).items()
                if k not in (*_GC_FIELDS, "resourceVersion", "managedFields", "generation")}
        return {**obj, "metadata": meta}
    return old is not None and without_gc(new) == without_gc(old)


class EscalationCheck:
    """A validating admission plugin for the four RBAC kinds."""

    def __init__(self, authorizer: Authorizer, resolver: RuleResolver) -> None:
        self.authorizer = authorizer
        self.resolver = resolver

    async def validate(self, attrs: AdmissionAttributes) -> list[str]:
        if (attrs.group != GROUP or attrs.operation not in (CREATE, UPDATE)
                or attrs.subresource or not isinstance(attrs.object, dict)
                or PRIVILEGED_GROUP in attrs.user.groups):
            return []
        if attrs.operation == UPDATE and _only_gc_fields_changed(attrs.object,
                                                                  attrs.old_object):
            return []
        user = User(attrs.user.username, attrs.user.uid, tuple(attrs.user.groups))
        if attrs.resource in ROLE_RESOURCES:
            self._check_role(user, attrs)
        elif attrs.resource in BINDING_RESOURCES:
            self._check_binding(user, attrs)
        return []

    def _allowed(self, user: User, verb: str, resource: str, namespace: str,
                 name: str) -> bool:
        return self.authorizer.authorize(Attributes(
            user, verb, True, api_group=GROUP, api_version="*", resource=resource,
            namespace=namespace, name=name)).allowed

    def _check_role(self, user: User, attrs: AdmissionAttributes) -> None:
        obj = attrs.object or {}
        if self._allowed(user, "escalate", attrs.resource, attrs.namespace, attrs.name):
            return
        self._confirm_held(user, attrs, [Rule.of(r) for r in obj.get("rules") or ()])
        old = attrs.old_object or {}
        if attrs.resource == "clusterroles" and (obj.get("aggregationRule")
                                                 or old.get("aggregationRule")):
            if uncovered(self.resolver.rules(user, ""), FULL_AUTHORITY):
                article = "the" if attrs.operation == CREATE else "an"
                raise self._forbidden(attrs, f"must have cluster-admin privileges to use "
                                             f"{article} aggregationRule")

    def _check_binding(self, user: User, attrs: AdmissionAttributes) -> None:
        ref = (attrs.object or {}).get("roleRef") or {}
        kind, name = ref.get("kind"), str(ref.get("name") or "")
        resource = {"ClusterRole": "clusterroles", "Role": "roles"}.get(str(kind))
        if resource and self._allowed(user, "bind", resource, attrs.namespace, name):
            return
        rules = self.resolver.role_rules(ref, attrs.namespace)
        if rules is None:
            raise NotFound(f'{str(kind).lower()}.rbac.authorization.k8s.io "{name}" not found',
                           details={"name": name, "group": GROUP,
                                    "kind": str(kind).lower()})
        self._confirm_held(user, attrs, rules)

    def _confirm_held(self, user: User, attrs: AdmissionAttributes,
                      rules: list[Rule]) -> None:
        resolution = self.resolver.resolve(user, attrs.namespace)
        missing = uncovered(resolution.rules, rules)
        if not missing:
            return
        lines = sorted({r.compact() for r in compact(missing)})
        message = (f'user "{user.name}" (groups={_go_strings(user.groups)}) is attempting '
                   f'to grant RBAC permissions not currently held:\n' + "\n".join(lines))
        if resolution.errors:
            message += f"; resolution errors: [{', '.join(resolution.errors)}]"
        raise self._forbidden(attrs, message)

    @staticmethod
    def _forbidden(attrs: AdmissionAttributes, message: str) -> Forbidden:
        return Forbidden(f'{attrs.resource}.{GROUP} "{attrs.name}" is forbidden: {message}',
                         details={"name": attrs.name, "group": GROUP, "kind": attrs.resource})
