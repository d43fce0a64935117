"""The RBAC authorization mode: allowed when a rule the user holds allows it."""

from __future__ import annotations

from kybernetes.apiserver.authz.attributes import Attributes
from kybernetes.apiserver.authz.authorizer import ALLOW, Decision, Verdict
from kybernetes.apiserver.authz.rbac.resolver import RuleResolver


class RbacAuthorizer:
    def __init__(self, resolver: RuleResolver) -> None:
        self.resolver = resolver

    def authorize(self, attributes: Attributes) -> Decision:
        resolution = self.resolver.resolve(attributes.user, attributes.namespace)
        for rule in resolution.rules:
            if rule.allows(attributes):
                return ALLOW
        reason = ""
        if resolution.errors:
            reason = "RBAC: " + (resolution.errors[0] if len(resolution.errors) == 1
                                 else "[" + ", ".join(resolution.errors) + "]")
        return Decision(Verdict.NO_OPINION, reason)
