"""Which rules a user holds in a namespace: the bindings whose subjects name the user
(or one of their groups, or their ServiceAccount), and the rules of the roles those
bindings refer to. ClusterRoleBindings hold everywhere; RoleBindings in their
namespace only.

Resolving walks every binding, so the answer is remembered per (user, groups,
namespace) until any role or binding changes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Any

from kybernetes.apiserver.authn import User
from kybernetes.apiserver.authz.access_review import RuleList
from kybernetes.apiserver.authz.rbac.objects import Obj, RbacObjects
from kybernetes.apiserver.authz.rbac.rules import Rule

SA_PREFIX = "system:serviceaccount:"
CACHE_SIZE = 4096


def applies_to(subject: Any, user: User, namespace: str) -> bool:
    """Does a binding's subject name this user (Kubernetes' appliesToUser)?"""
    if not isinstance(subject, dict):
        return False
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return bool(name == user.name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        account_namespace = subject.get("namespace") or namespace
        return bool(account_namespace) and user.name == f"{SA_PREFIX}{account_namespace}:{name}"
    return False


def _binds(binding: Obj, user: User, namespace: str) -> bool:
    return any(applies_to(s, user, namespace) for s in binding.get("subjects") or ())


class Resolution:
    """A user's rules in one scope, and the roles their bindings named but that are
    missing (which Kubernetes reports in a refusal)."""

    __slots__ = ("errors", "rules")

    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.errors: list[str] = []


class RuleResolver:
    def __init__(self, objects: RbacObjects) -> None:
        self.objects = objects
        self._version: Hashable = None
        self._resolved: OrderedDict[tuple[str, tuple[str, ...], str], Resolution] = \
            OrderedDict()

    def resolve(self, user: User, namespace: str) -> Resolution:
        """The rules that hold for `user` in `namespace` ("" for cluster scope)."""
        version = self.objects.version()
        if version != self._version:
            self._resolved.clear()
            self._version = version
        key = (user.name, user.groups, namespace)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = self._resolve(user, namespace)
            if len(self._resolved) > CACHE_SIZE:
                self._resolved.popitem(last=False)
        return found

    def _resolve(self, user: User, namespace: str) -> Resolution:
        out = Resolution()
        for binding in self.objects.cluster_role_bindings():
            if _binds(binding, user, ""):
                self._add_role(out, binding.get("roleRef"), "")
        if namespace:
            for binding in self.objects.role_bindings(namespace):
                if _binds(binding, user, namespace):
                    self._add_role(out, binding.get("roleRef"), namespace)
        return out

    def _add_role(self, out: Resolution, ref: Any, namespace: str) -> None:
        rules = self.role_rules(ref, namespace)
        if rules is None:
            kind = ref.get("kind") if isinstance(ref, dict) else ""
            name = ref.get("name") if isinstance(ref, dict) else ""
            out.errors.append(f'{str(kind).lower()}.rbac.authorization.k8s.io "{name}" '
                              f'not found')
        else:
            out.rules.extend(rules)

    def role_rules(self, ref: Any, namespace: str) -> list[Rule] | None:
        """The rules of the role a roleRef names, or None when it does not exist."""
        if not isinstance(ref, dict):
            return None
        name = str(ref.get("name") or "")
        if ref.get("kind") == "ClusterRole":
            role = self.objects.cluster_role(name)
        elif ref.get("kind") == "Role" and namespace:
            role = self.objects.role(namespace, name)
        else:
            role = None
        if role is None:
            return None
        return [Rule.of(r) for r in role.get("rules") or ()]

    def rules(self, user: User, namespace: str) -> Iterator[Rule]:
        return iter(self.resolve(user, namespace).rules)

    def listed(self, user: User, namespace: str) -> RuleList:
        """The rules for SelfSubjectRulesReview (incomplete when a role is missing)."""
        resolution = self.resolve(user, namespace)
        return RuleList(list(resolution.rules), bool(resolution.errors),
                        list(resolution.errors))
