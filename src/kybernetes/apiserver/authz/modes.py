"""``--authorization-mode``: the modes a server authorizes with, in order."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from kybernetes.apiserver.authz.access_review import RuleLister, full_authority, union
from kybernetes.apiserver.authz.authorizer import AlwaysAllow, AlwaysDeny, Authorizer, Chain

DEFAULT_MODES = ("RBAC", "Node")
KNOWN_MODES = ("AlwaysAllow", "AlwaysDeny", "RBAC", "Node")


def parse_modes(text: str) -> tuple[str, ...]:
    """The comma-separated modes; ValueError naming what is wrong."""
    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    if not modes:
        raise ValueError("at least one authorization mode must be given")
    for mode in modes:
        if mode not in KNOWN_MODES:
            raise ValueError(f'unknown authorization mode "{mode}" (choose from '
                             f'{", ".join(KNOWN_MODES)})')
    if len(set(modes)) != len(modes):
        raise ValueError(f"authorization modes may not repeat: {text}")
    return modes


def build_chain(modes: Sequence[str],
                makers: Mapping[str, Callable[[], Authorizer]]) -> Chain:
    """The chain for `modes`; `makers` builds the modes that need the server's state."""
    fixed: dict[str, Callable[[], Authorizer]] = {"AlwaysAllow": AlwaysAllow,
                                                   "AlwaysDeny": AlwaysDeny}
    return Chain([{**fixed, **makers}[mode]() for mode in modes])


def build_rule_lister(modes: Sequence[str], listers: Mapping[str, RuleLister]) -> RuleLister:
    """What SelfSubjectRulesReview lists: each mode's rules that can be listed, in order."""
    known: dict[str, RuleLister] = {"AlwaysAllow": full_authority, **listers}
    return union([known[mode] for mode in modes if mode in known])
