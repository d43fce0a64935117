"""The field manager of a write that names none: the User-Agent's product (managerOrUserAgent).

`kubectl-client-side-apply/v1.33.0 (linux/amd64) kubernetes/...` gives
`kubectl-client-side-apply`: the text before the first `/`, without unprintable
characters, cut to 128 bytes (FieldManagerMaxLength).
"""

from __future__ import annotations

import functools

FIELD_MANAGER_MAX_LENGTH = 128


@functools.lru_cache(maxsize=256)
def prefix_from_user_agent(user_agent: str) -> str:
    """Memoized: a cluster's writers send a handful of User-Agents, each on every write."""
    out: list[str] = []
    size = 0
    for char in user_agent.split("/", 1)[0]:
        if not char.isprintable():
            continue
        width = len(char.encode())
        if size + width > FIELD_MANAGER_MAX_LENGTH:
            break
        out.append(char)
        size += width
    return "".join(out)


def manager_or_user_agent(manager: str | None, user_agent: str | None) -> str:
    """The `fieldManager` parameter if given, else the User-Agent's prefix."""
    return manager or prefix_from_user_agent(user_agent or "")
