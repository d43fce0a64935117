"""The authorizer chain: each mode allows, denies or has no opinion, in order.

``--authorization-mode`` names the modes (Kubernetes' default for us: RBAC,Node).
As in kube-apiserver, members of ``system:masters`` are allowed before any mode
is asked, and a request no mode allows is forbidden.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from kybernetes.api.errors import Forbidden
from kybernetes.apiserver.authz.attributes import Attributes

PRIVILEGED_GROUP = "system:masters"


class Verdict(enum.Enum):
    ALLOW = "allow"
    DENY = "deny"
    NO_OPINION = "no-opinion"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOW


ALLOW = Decision(Verdict.ALLOW)
NO_OPINION = Decision(Verdict.NO_OPINION)


class Authorizer(Protocol):
    def authorize(self, attributes: Attributes) -> Decision:
        """Allow, deny, or pass the question on to the next authorizer."""


class AlwaysAllow:
    def authorize(self, attributes: Attributes) -> Decision:
        return ALLOW


class AlwaysDeny:
    def authorize(self, attributes: Attributes) -> Decision:
        return Decision(Verdict.DENY, "Everything is forbidden.")


class Chain:
    """The modes in order; the first that decides wins."""

    def __init__(self, authorizers: Sequence[Authorizer]) -> None:
        self.authorizers = tuple(authorizers)

    def authorize(self, attributes: Attributes) -> Decision:
        if PRIVILEGED_GROUP in attributes.user.groups:
            return ALLOW
        reasons = []
        for authorizer in self.authorizers:
            decision = authorizer.authorize(attributes)
            if decision.verdict is not Verdict.NO_OPINION:
                return decision
            if decision.reason:
                reasons.append(decision.reason)
        return Decision(Verdict.NO_OPINION, ", ".join(reasons))


def forbidden_message(attributes: Attributes) -> str:
    """Kubernetes' words for a refusal (responsewriters.forbiddenMessage)."""
    who = attributes.user.name
    if not attributes.resource_request:
        return f'User "{who}" cannot {attributes.verb} path "{attributes.path}"'
    resource = attributes.resource
    if attributes.subresource:
        resource = f"{resource}/{attributes.subresource}"
    where = f'in the namespace "{attributes.namespace}"' if attributes.namespace \
        else "at the cluster scope"
    return (f'User "{who}" cannot {attributes.verb} resource "{resource}" in API group '
            f'"{attributes.api_group}" {where}')


def forbidden(attributes: Attributes, reason: str = "") -> Forbidden:
    """The 403 Status kube-apiserver answers (apierrors.NewForbidden's shape)."""
    message = forbidden_message(attributes)
    if reason:
        message = f"{message}: {reason}"
    qualified = attributes.resource
    if attributes.api_group:
        qualified = f"{qualified}.{attributes.api_group}"
    details: dict[str, str] = {}
    if attributes.name:
        details["name"] = attributes.name
    if attributes.api_group:
        details["group"] = attributes.api_group
    if attributes.resource:
        details["kind"] = attributes.resource
    if not qualified:
        text = f"forbidden: {message}"
    elif attributes.name:
        text = f'{qualified} "{attributes.name}" is forbidden: {message}'
    else:
        text = f"{qualified} is forbidden: {message}"
    return Forbidden(text, details=details)
