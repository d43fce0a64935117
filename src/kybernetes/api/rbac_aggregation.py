"""ClusterRole aggregation: the rules an aggregated ClusterRole holds, worked out from the
ClusterRoles its aggregationRule selects (pure; used by the clusterrole-aggregation
controller and by the API server's bootstrap, which fills admin/edit/view at once).

As Kubernetes' ClusterRoleAggregationController: for each selector in order, the
matching ClusterRoles sorted by name (never the role itself), each of their rules
appended unless an equal rule is already there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kybernetes.api.errors import BadRequest
from kybernetes.api.labels import from_label_selector

Obj = dict[str, Any]
_RULE_FIELDS = ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")


def normalized_rule(rule: Any) -> Obj:
    """A rule with empty lists dropped (nil and [] are one rule once stored as JSON)."""
    rule = rule if isinstance(rule, dict) else {}
    return {k: list(rule[k]) for k in _RULE_FIELDS if isinstance(rule.get(k), list) and rule[k]}


def selectors(role: Obj) -> list[Any] | None:
    """The role's clusterRoleSelectors, or None when it does not aggregate."""
    rule = role.get("aggregationRule")
    if not isinstance(rule, dict):
        return None
    found = rule.get("clusterRoleSelectors")
    return found if isinstance(found, list) else []


def _labels(role: Obj) -> dict[str, str]:
    labels = (role.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}


def _name(role: Obj) -> str:
    return str((role.get("metadata") or {}).get("name", ""))


def aggregated_rules(role: Obj, cluster_roles: Iterable[Obj]) -> list[Obj]:
    """The rules `role` aggregates from `cluster_roles` (deduplicated, in a stable order)."""
    candidates = sorted(cluster_roles, key=_name)
    rules: list[Obj] = []
    for selector in selectors(role) or []:
        try:
            matches = from_label_selector(selector if isinstance(selector, dict) else None)
        except BadRequest:
            continue  # validation refuses such selectors; one stored earlier selects nothing
        for other in candidates:
            if _name(other) == _name(role) or not matches.matches(_labels(other)):
                continue
            for rule in other.get("rules") or []:
                rule = normalized_rule(rule)
                if rule not in rules:
                    rules.append(rule)
    return rules


def same_rules(a: Any, b: Any) -> bool:
    """Whether two rule lists are equal once normalized (order matters, as in Kubernetes)."""
    return [normalized_rule(r) for r in a or []] == [normalized_rule(r) for r in b or []]
