"""PolicyRules: does a rule allow a request, and does one set of rules cover another.

Matching is rbac/v1's (``*`` for every verb, group or resource; ``resource/sub``
and ``*/sub`` for subresources; resourceNames limit a rule to named objects;
nonResourceURLs end in ``*`` to match a prefix). Coverage is what escalation
prevention asks: a user may only grant what they hold, rule by atomic rule, as
Kubernetes' ``Covers`` breaks rules down.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kybernetes.apiserver.authz.attributes import Attributes

ALL = "*"


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


@dataclass(frozen=True)
class Rule:
    verbs: tuple[str, ...] = ()
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Any) -> Rule:
        """A rule from a stored PolicyRule (anything malformed matches nothing)."""
        if not isinstance(raw, dict):
            return cls()
        return cls(_strings(raw.get("verbs")), _strings(raw.get("apiGroups")),
                   _strings(raw.get("resources")), _strings(raw.get("resourceNames")),
                   _strings(raw.get("nonResourceURLs")))

    def to_dict(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key, value in (("verbs", self.verbs), ("apiGroups", self.api_groups),
                           ("resources", self.resources),
                           ("resourceNames", self.resource_names),
                           ("nonResourceURLs", self.non_resource_urls)):
            if value:
                out[key] = list(value)
        return out

    def allows(self, attributes: Attributes) -> bool:
        if not (ALL in self.verbs or attributes.verb in self.verbs):
            return False
        if not attributes.resource_request:
            return any(_url_covers(url, attributes.path) for url in self.non_resource_urls)
        return (
            (ALL in self.api_groups or attributes.api_group in self.api_groups)
            and _resource_matches(self.resources, attributes.resource, attributes.subresource)
            and (not self.resource_names or attributes.name in self.resource_names))

    def compact(self) -> str:
        """Kubernetes' CompactString: the set fields, in its words."""
        fields = []
        for label, value in (("APIGroups", self.api_groups), ("Resources", self.resources),
                             ("NonResourceURLs", self.non_resource_urls),
                             ("ResourceNames", self.resource_names),
                             ("Verbs", self.verbs)):
            if value:
                fields.append(f"{label}:[{' '.join(_quote(v) for v in value)}]")
        return "{" + ", ".join(fields) + "}"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _resource_matches(resources: Sequence[str], resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for allowed in resources:
        if allowed == ALL or allowed == combined:
            return True
        if subresource and allowed == f"*/{subresource}":
            return True
    return False


def _url_covers(owner: str, path: str) -> bool:
    if owner == ALL or owner == path:
        return True
    return owner.endswith("*") and path.startswith(owner.rstrip("*"))


# -- coverage (escalation prevention) -----------------------------------------------------


def breakdown(rule: Rule) -> list[Rule]:
    """One rule per verb × group × resource (× name), and per verb × URL."""
    atoms: list[Rule] = []
    for group in rule.api_groups:
        for resource in rule.resources:
            for verb in rule.verbs:
                if rule.resource_names:
                    atoms.extend(Rule((verb,), (group,), (resource,), (name,))
                                 for name in rule.resource_names)
                else:
                    atoms.append(Rule((verb,), (group,), (resource,)))
    for url in rule.non_resource_urls:
        atoms.extend(Rule((verb,), non_resource_urls=(url,)) for verb in rule.verbs)
    return atoms


def _has_all(owned: Sequence[str], wanted: Sequence[str]) -> bool:
    return all(w in owned for w in wanted)


def _resources_cover(owned: Sequence[str], wanted: Sequence[str]) -> bool:
    if ALL in owned or _has_all(owned, wanted):
        return True
    for path in wanted:
        if path in owned:
            continue
        if "/" not in path or f"*/{path.split('/', 1)[1]}" not in owned:
            return False
    return True


def _covers(owner: Rule, sub: Rule) -> bool:
    if sub.resource_names:
        names = not owner.resource_names or _has_all(owner.resource_names, sub.resource_names)
    else:
        names = not owner.resource_names
    return (
        (ALL in owner.verbs or _has_all(owner.verbs, sub.verbs))
        and (ALL in owner.api_groups or _has_all(owner.api_groups, sub.api_groups))
        and _resources_cover(owner.resources, sub.resources)
        and names
        and all(any(_url_covers(o, u) for o in owner.non_resource_urls)
                for u in sub.non_resource_urls))


def uncovered(owned: Iterable[Rule], wanted: Iterable[Rule]) -> list[Rule]:
    """The atomic rules of `wanted` that no rule of `owned` covers."""
    owned = list(owned)
    return [atom for rule in wanted for atom in breakdown(rule)
            if not any(_covers(o, atom) for o in owned)]


def compact(rules: Iterable[Rule]) -> list[Rule]:
    """Atomic rules on the same single group, resource and name merged into one with
    all their verbs (Kubernetes' CompactRules, for shorter refusal messages)."""
    merged: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}
    out: list[Rule] = []
    for rule in rules:
        if (rule.non_resource_urls or len(rule.api_groups) != 1 or len(rule.resources) != 1
                or len(rule.resource_names) > 1):
            out.append(rule)
            continue
        key = (rule.api_groups[0], rule.resources[0], rule.resource_names)
        merged.setdefault(key, []).extend(rule.verbs)
    out.extend(Rule(tuple(verbs), (group,), (resource,), names)
               for (group, resource, names), verbs in merged.items())
    return out
