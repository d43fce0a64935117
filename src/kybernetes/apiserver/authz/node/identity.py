"""Which node a user is (Kubernetes' nodeidentifier): `system:node:<name>` in the group
`system:nodes`. Anyone else is not a node, and neither authorizer nor admission
restricts them."""

from __future__ import annotations

from collections.abc import Iterable

NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"


def node_identity(name: str, groups: Iterable[str]) -> str | None:
    """The node's name ("" when the user is in the group but names no node), or None
    for a user who is not a node."""
    if not name.startswith(NODE_USER_PREFIX) or NODES_GROUP not in groups:
        return None
    return name[len(NODE_USER_PREFIX):]
