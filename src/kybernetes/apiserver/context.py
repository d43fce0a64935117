"""A write's context: who writes, how, and through which endpoint.

Built once by the handler from the request and carried down through admission
and the registry to the strategy, instead of loose keyword arguments, so a new
concern (field managers, webhooks' user info, dry-run) reaches every step.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from kybernetes.apiserver.authn import User

SYSTEM_USER = User("system:apiserver", groups=("system:masters",))


@dataclass
class WriteContext:
    """Who and how; `warnings` collects what the response will carry as Warning headers."""

    user: User = SYSTEM_USER
    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = "Warn"
    subresource: str | None = None
    force: bool = False
    user_agent: str = ""
    warnings: list[str] = field(default_factory=list)
    # A server-side apply: the object already carries the managedFields it computed.
    applying: bool = False
    # The create's body had its JSON types checked as it was decoded
    # (admission.refuse_wrong_types): validation need not walk them again while the
    # registry's object is that body (defaults and built-in plugins set typed values).
    types_checked: bool = False
    # CREATE, UPDATE or DELETE: set by the registry as the write starts (admission,
    # webhooks and policies see it).
    operation: str = ""

    def for_subresource(self, subresource: str | None) -> WriteContext:
        """The same context, through another endpoint (status, scale, binding…)."""
        return dataclasses.replace(self, subresource=subresource)


def system_context() -> WriteContext:
    """For the API server's own writes (bootstrap, the allocator's repairs)."""
    return WriteContext()
