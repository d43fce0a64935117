"""The audit policy (audit.k8s.io/v1 ``Policy``): parsed and checked as kube-apiserver
loads ``--audit-policy-file``, and evaluated per request as its policy checker does.

The first rule that matches a request gives its level; no rule matching is level
None (not audited). Rules match on the *authenticated* user (before impersonation),
as in Kubernetes, where the audit filter runs before the impersonation filter.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kybernetes.apiserver.authz.attributes import Attributes

API_VERSION = "audit.k8s.io/v1"
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")


class Level(enum.IntEnum):
    """Ordered, so `level >= Level.REQUEST` reads as in Kubernetes' Level.Less."""

    NONE = 0
    METADATA = 1
    REQUEST = 2
    REQUEST_RESPONSE = 3

    @property
    def wire(self) -> str:
        return _LEVEL_NAMES[self]


_LEVEL_NAMES = {Level.NONE: "None", Level.METADATA: "Metadata", Level.REQUEST: "Request",
                Level.REQUEST_RESPONSE: "RequestResponse"}
_LEVELS = {name: level for level, name in _LEVEL_NAMES.items()}


class PolicyError(ValueError):
    """A policy file that kube-apiserver would refuse; the message names the field."""


@dataclass(frozen=True)
class GroupResources:
    group: str = ""
    resources: tuple[str, ...] = ()
    resource_names: frozenset[str] = frozenset()

    def matches(self, resource: str, subresource: str, name: str) -> bool:
        if not self.resources:
            return True
        if self.resource_names and name not in self.resource_names:
            return False
        combined = f"{resource}/{subresource}" if subresource else resource
        for spec in self.resources:
            if spec in ("*", combined):
                return True
            if subresource and spec.startswith("*/") and spec[2:] == subresource:
                return True
            if spec.endswith("/*") and spec[:-2] == resource:
                return True
        return False


def _path_matches(path: str, spec: str) -> bool:
    return spec in ("*", path) or (spec.endswith("*") and path.startswith(spec[:-1]))


@dataclass(frozen=True)
class Rule:
    level: Level
    users: frozenset[str] = frozenset()
    user_groups: frozenset[str] = frozenset()
    verbs: frozenset[str] = frozenset()
    resources: tuple[GroupResources, ...] = ()
    namespaces: frozenset[str] = frozenset()
    non_resource_urls: tuple[str, ...] = ()
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool | None = None

    def matches(self, attrs: Attributes) -> bool:
        user = attrs.user
        if self.users and user.name not in self.users:
            return False
        if self.user_groups and not self.user_groups.intersection(user.groups):
            return False
        if self.verbs and attrs.verb not in self.verbs:
            return False
        if self.namespaces or self.resources:
            return self._matches_resource(attrs)
        if self.non_resource_urls:
            return not attrs.resource_request and any(
                _path_matches(attrs.path, spec) for spec in self.non_resource_urls)
        return True

    def _matches_resource(self, attrs: Attributes) -> bool:
        if not attrs.resource_request:
            return False
        if self.namespaces and attrs.namespace not in self.namespaces:
            return False  # cluster-scoped requests have namespace "" (listed as "")
        if not self.resources:
            return True
        return any(gr.group == attrs.api_group
                   and gr.matches(attrs.resource, attrs.subresource, attrs.name)
                   for gr in self.resources)


@dataclass(frozen=True)
class RequestConfig:
    """What the policy says about one request."""

    level: Level
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool = False


NOT_AUDITED = RequestConfig(Level.NONE)


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool = False

    def evaluate(self, attrs: Attributes) -> RequestConfig:
        for rule in self.rules:
            if rule.matches(attrs):
                omit_fields = self.omit_managed_fields if rule.omit_managed_fields is None \
                    else rule.omit_managed_fields
                return RequestConfig(rule.level, self.omit_stages | rule.omit_stages,
                                     omit_fields)
        return NOT_AUDITED


# --- parsing -------------------------------------------------------------------------

class _Errors:
    """Field errors worded as Kubernetes' field.ErrorList, collected before refusing."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")

    def raise_if_any(self) -> None:
        if len(self.items) == 1:
            raise PolicyError(self.items[0])
        if self.items:
            raise PolicyError(f"[{', '.join(self.items)}]")


def _strings(value: Any, path: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{path}: must be a list of strings")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise PolicyError(f"{path}: must be true or false")
    return value


def _mapping(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PolicyError(f"{path}: must be an object")
    return value


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(f'"{v}"' for v in values)


def _stages(value: Any, path: str, errors: _Errors) -> frozenset[str]:
    stages = _strings(value, path)
    for i, stage in enumerate(stages):
        if stage not in STAGES:
            errors.add(f"{path}[{i}]", f'Invalid value: "{stage}": allowed stages are '
                                        f"{','.join(STAGES)}")
    return frozenset(stages)


def _is_dns_subdomain(name: str) -> bool:
    if len(name) > 253:
        return False
    return all(label and len(label) <= 63 and label[0].isalnum() and label[-1].isalnum()
               and all(c.isdigit() or ("a" <= c <= "z") or c == "-" for c in label)
               for label in name.split("."))


def _group_resources(value: Any, path: str, errors: _Errors) -> tuple[GroupResources, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise PolicyError(f"{path}: must be a list")
    out = []
    for i, item in enumerate(value):
        item = _mapping(item, f"{path}[{i}]")
        group = item.get("group") or ""
        if not isinstance(group, str):
            raise PolicyError(f"{path}[{i}].group: must be a string")
        resources = _strings(item.get("resources"), f"{path}[{i}].resources")
        names = _strings(item.get("resourceNames"), f"{path}[{i}].resourceNames")
        if group and not _is_dns_subdomain(group):
            errors.add(f"{path}.group", f'Invalid value: "{group}": a lowercase RFC 1123 '
                                        "subdomain must consist of lower case alphanumeric "
                                        "characters, '-' or '.', and must start and end "
                                        "with an alphanumeric character")
        if names and not resources:
            errors.add(f"{path}.resourceNames", f"Invalid value: [{_quoted(names)}]: using "
                                                "resourceNames requires at least one resource")
        out.append(GroupResources(group, tuple(resources), frozenset(names)))
    return tuple(out)


def _non_resource_urls(value: Any, path: str, errors: _Errors) -> tuple[str, ...]:
    urls = _strings(value, path)
    for i, url in enumerate(urls):
        if url == "*":
            continue
        if not url.startswith("/"):
            errors.add(f"{path}[{i}]", f'Invalid value: "{url}": non-resource URL rules '
                                       "must begin with a '/' character")
        if url and "*" in url[:-1]:
            errors.add(f"{path}[{i}]", f'Invalid value: "{url}": non-resource URL '
                                       "wildcards '*' must be the final character of the rule")
    return tuple(urls)


def _rule(value: Any, path: str, errors: _Errors) -> Rule:
    doc = _mapping(value, path)
    level_name = doc.get("level") or ""
    level = _LEVELS.get(level_name) if isinstance(level_name, str) else None
    if level_name == "":
        errors.add(f"{path}.level", "Required value")
    elif level is None:
        errors.add(f"{path}.level", f'Unsupported value: "{level_name}": supported values: '
                                    f"{_quoted(_LEVELS)}")
    urls = _non_resource_urls(doc.get("nonResourceURLs"), f"{path}.nonResourceURLs", errors)
    resources = _group_resources(doc.get("resources"), f"{path}.resources", errors)
    omit = _stages(doc.get("omitStages"), f"{path}.omitStages", errors)
    namespaces = _strings(doc.get("namespaces"), f"{path}.namespaces")
    if urls and (resources or namespaces):
        errors.add(f"{path}.nonResourceURLs", f"Invalid value: [{_quoted(urls)}]: rules cannot "
                                              "apply to both regular resources and "
                                              "non-resource URLs")
    omit_fields = doc.get("omitManagedFields")
    return Rule(
        level=level or Level.NONE,
        users=frozenset(_strings(doc.get("users"), f"{path}.users")),
        user_groups=frozenset(_strings(doc.get("userGroups"), f"{path}.userGroups")),
        verbs=frozenset(_strings(doc.get("verbs"), f"{path}.verbs")),
        resources=resources, namespaces=frozenset(namespaces), non_resource_urls=urls,
        omit_stages=omit,
        omit_managed_fields=None if omit_fields is None
        else _bool(omit_fields, f"{path}.omitManagedFields"))


def parse_policy(doc: Any) -> Policy:
    """A Policy document (already decoded) → Policy; PolicyError naming the field."""
    doc = _mapping(doc, "policy")
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not kind:
        raise PolicyError("kind: Required value (want kind: Policy)")
    if api_version != API_VERSION or kind != "Policy":
        raise PolicyError(f'unknown group version field "{api_version}, Kind={kind}" in '
                          f"policy (want apiVersion: {API_VERSION}, kind: Policy)")
    rules = doc.get("rules")
    if rules is not None and not isinstance(rules, list):
        raise PolicyError("rules: must be a list")
    errors = _Errors()
    parsed = tuple(_rule(r, f"rules[{i}]", errors) for i, r in enumerate(rules or []))
    omit = _stages(doc.get("omitStages"), "omitStages", errors)
    omit_fields = doc.get("omitManagedFields")
    errors.raise_if_any()
    if not parsed:
        raise PolicyError("loaded illegal policy with 0 rules")
    return Policy(parsed, omit, False if omit_fields is None
                  else _bool(omit_fields, "omitManagedFields"))


def load_policy(path: str | Path) -> Policy:
    """The policy in a YAML or JSON file; PolicyError (one line) for anything wrong."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise PolicyError(f"failed to read file path {str(path)!r}: "
                          f"{e.strerror or e}") from None
    except UnicodeDecodeError:
        raise PolicyError("failed decoding: the file is not UTF-8 text") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise PolicyError(f"failed decoding: {' '.join(str(e).split())}") from None
    return parse_policy(doc)
