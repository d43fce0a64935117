"""Which webhooks a request goes to.

Follows k8s.io/apiserver/pkg/admission/plugin/webhook: generic/webhook.go
(ShouldCallHook), predicates/rules (operations, groups, versions, resources with
`*`, `x/*`, `*/y`, and scope), predicates/namespace (namespaceSelector: a
cluster-scoped object always matches, a Namespace is matched on its own labels)
and predicates/object (objectSelector on the object or the old object).
A selector error or a missing namespace fails the request only when a rule of
the webhook matches, as there.

matchPolicy needs nothing beyond Exact: we serve one version per resource, so
no equivalent resource exists to match through. matchConditions (CEL) are
evaluated last, only for a webhook that matched otherwise: a false condition
skips it, and an evaluation error skips it under `failurePolicy: Ignore` and is
a 403 under Fail (`pods "p" is forbidden: expression '…' resulted in error: …`).

The rule and selector predicates are public: ValidatingAdmissionPolicy's
matchConstraints use the very same ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kybernetes.api.admission_expressions import declarations
from kybernetes.api.cel import CelError
from kybernetes.api.errors import ApiError, BadRequest, not_found
from kybernetes.api.labels import Selector, from_label_selector
from kybernetes.apiserver.webhooks.attributes import (
    CREATE,
    UPDATE,
    AdmissionAttributes,
    NamespaceLabels,
    Obj,
)
from kybernetes.apiserver.webhooks.conditions import ConditionError, MatchConditions, activation
from kybernetes.apiserver.webhooks.failures import forbidden, internal_error

log = logging.getLogger("kybernetes.apiserver.webhooks")

MAX_TIMEOUT_SECONDS = 30
DEFAULT_TIMEOUT_SECONDS = 10
_EXEMPT_KINDS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
                 "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
                 "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding")


@dataclass(frozen=True)
class Hook:
    """One webhook of one configuration, with the defaults Kubernetes would have stored."""

    configuration: str
    index: int
    spec: Obj

    @property
    def name(self) -> str:
        return str(self.spec.get("name") or "")

    @property
    def uid(self) -> str:
        return f"{self.configuration}/{self.name}/{self.index}"

    @property
    def fails_open(self) -> bool:
        return self.spec.get("failurePolicy") == "Ignore"

    @property
    def reinvoked_if_needed(self) -> bool:
        return self.spec.get("reinvocationPolicy") == "IfNeeded"

    @property
    def timeout(self) -> int:
        seconds = self.spec.get("timeoutSeconds")
        if not isinstance(seconds, int) or seconds < 1:
            return DEFAULT_TIMEOUT_SECONDS
        return min(seconds, MAX_TIMEOUT_SECONDS)


def hooks_of(configurations: Iterable[Obj]) -> list[Hook]:
    """Every webhook, configurations sorted by name, webhooks in their listed order."""
    ordered = sorted(configurations, key=lambda c: str((c.get("metadata") or {}).get("name")))
    return [Hook(str((config.get("metadata") or {}).get("name") or ""), i, hook)
            for config in ordered
            for i, hook in enumerate(config.get("webhooks") or []) if isinstance(hook, dict)]


def is_exempt(attrs: AdmissionAttributes) -> bool:
    """Webhooks never see the objects that configure admission itself."""
    return attrs.gvk["group"] == "admissionregistration.k8s.io" and attrs.kind in _EXEMPT_KINDS


def should_call(hook: Hook, attrs: AdmissionAttributes, namespace_labels: NamespaceLabels) -> bool:
    """ShouldCallHook: selectors, then rules; a selector's error counts only if a rule matches."""
    possible, selector_error = selectors_match(hook.spec, attrs, namespace_labels)
    if not possible:
        return False
    if not any(matches_rule(rule, attrs) for rule in hook.spec.get("rules") or []
               if isinstance(rule, dict)):
        return False
    if selector_error is not None:
        raise selector_error
    return _conditions_hold(hook, attrs)


def selectors_match(spec: Obj, attrs: AdmissionAttributes,
                    namespace_labels: NamespaceLabels) -> tuple[bool, ApiError | None]:
    """The namespaceSelector and objectSelector of `spec`: (False, None) when one of them
    rules the request out; else (True, the first selector error, which the caller raises
    only when its rules match)."""
    namespace_match, namespace_error = _attempt(
        lambda: namespace_matches(spec.get("namespaceSelector"), attrs, namespace_labels))
    object_match, object_error = _attempt(
        lambda: object_matches(spec.get("objectSelector"), attrs))
    if (not namespace_match and namespace_error is None) or (
            not object_match and object_error is None):
        return False, None
    return True, namespace_error or object_error


def _conditions_hold(hook: Hook, attrs: AdmissionAttributes) -> bool:
    conditions = [c for c in hook.spec.get("matchConditions") or [] if isinstance(c, dict)]
    if not conditions:
        return True
    try:
        compiled = MatchConditions.compile(conditions, declarations(params=False))
        return compiled.matches(activation(attrs), fails_open=hook.fails_open)
    except (ConditionError, CelError) as e:
        log.warning("failed evaluating match conditions",
                    extra={"webhook": hook.name, "error": str(e)})
        raise forbidden(attrs, str(e)) from None


def _attempt(check: Callable[[], bool]) -> tuple[bool, ApiError | None]:
    try:
        return check(), None
    except ApiError as e:
        return False, e


def _selector(value: Any) -> Selector:
    """A selector as stored; a missing one is `{}` (the stored default), a bad one a 500."""
    try:
        return from_label_selector({} if value is None else value)
    except BadRequest as e:
        raise internal_error(e.message) from None


def namespace_matches(selector_value: Any, attrs: AdmissionAttributes,
                      namespace_labels: NamespaceLabels) -> bool:
    """predicates/namespace: the request's namespace (or Namespace object) against a selector."""
    is_namespace = attrs.group == "" and attrs.resource == "namespaces"
    if not attrs.namespaced and not is_namespace:
        return True  # cluster-scoped objects are never exempted
    selector = _selector(selector_value)
    if selector.empty:
        return True
    if is_namespace and not attrs.subresource and attrs.operation in (CREATE, UPDATE):
        return selector.matches(_labels(attrs.object))
    name = attrs.namespace or (attrs.name if is_namespace else "")
    labels = namespace_labels(name)
    if labels is None:
        raise not_found("namespaces", name)
    return selector.matches(labels)


def object_matches(selector_value: Any, attrs: AdmissionAttributes) -> bool:
    """predicates/object: the object or the old object against a selector."""
    selector = _selector(selector_value)
    if selector.empty:
        return True
    return any(obj is not None and selector.matches(_labels(obj))
               for obj in (attrs.object, attrs.old_object))


def _labels(obj: Obj | None) -> dict[str, str]:
    labels = ((obj or {}).get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}


def matches_rule(rule: Obj, attrs: AdmissionAttributes) -> bool:
    """A RuleWithOperations: operation, group, version, resource/subresource and scope."""
    operations = rule.get("operations") or []
    return (_matches_scope(rule.get("scope"), attrs)
            and ("*" in operations or attrs.operation in operations)
            and _exact_or_wildcard(rule.get("apiGroups"), attrs.group)
            and _exact_or_wildcard(rule.get("apiVersions"), attrs.version)
            and any(_matches_resource(str(entry), attrs) for entry in rule.get("resources") or []))


def _matches_scope(scope: Any, attrs: AdmissionAttributes) -> bool:
    if scope in (None, "*"):
        return True
    is_namespace = (attrs.group, attrs.version, attrs.resource) == ("", "v1", "namespaces")
    if scope == "Namespaced":
        return not is_namespace and attrs.namespaced
    if scope == "Cluster":
        return is_namespace or not attrs.namespaced
    return False


def _exact_or_wildcard(items: Any, requested: str) -> bool:
    return any(item in ("*", requested) for item in items or [])


def _matches_resource(entry: str, attrs: AdmissionAttributes) -> bool:
    resource, _, sub = entry.partition("/")
    return resource in ("*", attrs.resource) and sub in ("*", attrs.subresource)
